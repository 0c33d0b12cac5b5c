#include "actors/replay_buffer.hpp"

#include <algorithm>
#include <utility>

namespace wsvisor {

replay_buffer::replay_buffer(std::uint64_t max_messages, std::uint64_t max_bytes)
    : max_messages_(max_messages), max_bytes_(max_bytes) {}

void replay_buffer::push(std::uint64_t seq, std::shared_ptr<const std::string> body) {
  auto size = body ? body->size() : 0;
  entries_.push_back(entry{seq, std::move(body), size});
  bytes_ += size;
  while (!entries_.empty() && (entries_.size() > max_messages_ || bytes_ > max_bytes_)) {
    auto& oldest = entries_.front();
    // Evicted before the client acknowledged it: a resume from below this
    // seq can no longer be served.
    lost_through_ = std::max(lost_through_, oldest.seq);
    bytes_ -= oldest.bytes;
    entries_.pop_front();
  }
}

void replay_buffer::ack(std::uint64_t seq) {
  acked_through_ = std::max(acked_through_, seq);
  while (!entries_.empty() && entries_.front().seq <= seq) {
    bytes_ -= entries_.front().bytes;
    entries_.pop_front();
  }
}

bool replay_buffer::can_replay_after(std::uint64_t last_seq) const {
  // What the client holds: everything up to last_seq, and everything it
  // acknowledged. Only an eviction above both loses a message it lacks.
  return std::max(last_seq, acked_through_) >= lost_through_;
}

replay_buffer::const_iterator replay_buffer::first_after(std::uint64_t last_seq) const {
  return std::upper_bound(entries_.begin(), entries_.end(), last_seq,
                          [](std::uint64_t s, const entry& e) { return s < e.seq; });
}

}  // namespace wsvisor
