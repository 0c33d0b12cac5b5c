#include "actors/cluster/replica_outbox.hpp"

#include <iterator>
#include <utility>

namespace wsvisor {

replica_outbox::taken_batch replica_outbox::take() {
  std::size_t n = 0;
  std::size_t puts = 0;
  std::size_t bytes = 0;
  while (n < size() && n < max_batch_items && (n == 0 || bytes < max_batch_bytes)) {
    if (queued.whole[n] == 1) {
      for (auto& body : queued.puts[puts].buffer_bodies) bytes += body.size();
      ++puts;
    } else {
      for (auto& e : queued.updates[n - puts].entries) bytes += e.body.size();
    }
    ++n;
  }
  taken_batch t{.waiting = std::make_shared<promises>()};
  if (n == size()) {
    t.batch = std::exchange(queued, {});
    *t.waiting = std::exchange(waiting, {});
    return t;
  }
  auto cut = [](auto& from, auto& to, std::size_t k) {
    to.assign(std::make_move_iterator(from.begin()),
              std::make_move_iterator(from.begin() + static_cast<std::ptrdiff_t>(k)));
    from.erase(from.begin(), from.begin() + static_cast<std::ptrdiff_t>(k));
  };
  cut(queued.puts, t.batch.puts, puts);
  cut(queued.updates, t.batch.updates, n - puts);
  cut(queued.whole, t.batch.whole, n);
  cut(waiting, *t.waiting, n);
  return t;
}

}  // namespace wsvisor
