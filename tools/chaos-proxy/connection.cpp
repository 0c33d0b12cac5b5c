#include "tools/chaos-proxy/connection.hpp"

#include <algorithm>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

namespace wsvisor::chaos::detail {

using error_code = boost::system::error_code;

// --- counters ----------------------------------------------------------------

template <class F>
void counters::update(F f) {
  {
    std::lock_guard guard{mtx_};
    f(stats_);
  }
  cv_.notify_all();
}

void counters::accepted() {
  update([](proxy_stats& s) {
    ++s.accepted;
    ++s.active;
  });
}

void counters::closed() {
  update([](proxy_stats& s) { --s.active; });
}

void counters::cut(bool truncated) {
  update([truncated](proxy_stats& s) {
    ++s.cuts;
    if (truncated) ++s.truncations;
  });
}

void counters::received(direction d, std::size_t n) {
  update(
      [d, n](proxy_stats& s) { (d == direction::client_to_server ? s.c2s : s.s2c).received += n; });
}

void counters::forwarded(direction d, std::size_t n) {
  update([d, n](proxy_stats& s) {
    (d == direction::client_to_server ? s.c2s : s.s2c).forwarded += n;
  });
}

proxy_stats counters::snapshot() const {
  std::lock_guard guard{mtx_};
  return stats_;
}

bool counters::wait_for(const std::function<bool(const proxy_stats&)>& pred,
                        duration timeout) const {
  std::unique_lock lock{mtx_};
  return cv_.wait_for(lock, timeout, [&] { return pred(stats_); });
}

// --- connection --------------------------------------------------------------

connection::connection(asio::io_context& ioc, const proxy_options& options, fault_plan& faults,
                       counters& counts)
    : options_(options),
      faults_(faults),
      counts_(counts),
      client_(ioc),
      server_(ioc),
      lanes_{lane{ioc, options.chunk_bytes}, lane{ioc, options.chunk_bytes}} {}

void connection::start(const tcp::resolver::results_type& target) {
  asio::async_connect(server_, target,
                      [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
                        if (self->closed_) return;
                        if (ec) return self->close(true);  // as if the target had reset
                        error_code ignored;
                        // Forward every chunk as it comes: Nagle would merge
                        // chunks and blur delays and truncations.
                        self->server_.set_option(tcp::no_delay{true}, ignored);
                        self->client_.set_option(tcp::no_delay{true}, ignored);
                        self->read(direction::client_to_server);
                        self->read(direction::server_to_client);
                      });
}

void connection::cut() {
  if (closed_) return;
  counts_.cut(false);
  close(true);
}

void connection::arm_truncation(truncation t) { lane_of(t.dir).truncate = t.keep; }

// Only the writers: a reader paused on a full lane is restarted by the
// writes that drain it, and one that never started (still connecting) must
// not start here.
void connection::resume() {
  write(direction::client_to_server);
  write(direction::server_to_client);
}

void connection::read(direction d) {
  auto& l = lane_of(d);
  // Reading pauses while the lane holds its fill: TCP then pushes back on
  // the sender, as a slow or stalled network would.
  if (closed_ || l.reading || l.eof || l.queued >= options_.lane_buffer_bytes) return;
  l.reading = true;
  from(d).async_read_some(
      asio::buffer(l.read_buffer), [self = shared_from_this(), d](error_code ec, std::size_t n) {
        auto& l = self->lane_of(d);
        l.reading = false;
        if (self->closed_) return;
        if (ec == asio::error::eof) {
          l.eof = true;
          return self->write(d);  // passes the EOF on once the queue is drained
        }
        if (ec) return self->close(true);  // a reset (or worse) on one side resets the other
        self->counts_.received(d, n);
        auto delay = self->faults_.lanes[index(d)].delay;
        l.queue.push_back(
            chunk{.bytes = std::vector<char>(l.read_buffer.begin(), l.read_buffer.begin() + n),
                  .ready_at = clock::now() + delay});
        l.queued += n;
        self->write(d);
        self->read(d);
      });
}

void connection::write(direction d) {
  auto& l = lane_of(d);
  auto& fault = faults_.lanes[index(d)];
  if (closed_ || l.writing || l.waiting || l.done || fault.stalled) return;
  if (l.queue.empty()) {
    if (l.eof) {
      l.done = true;
      error_code ignored;
      to(d).shutdown(tcp::socket::shutdown_send, ignored);
      if (lanes_[0].done && lanes_[1].done) close(false);
    }
    return;
  }
  auto now = clock::now();
  auto& front = l.queue.front();
  auto at = std::max(front.ready_at, l.throttle_free);
  if (at > now) {
    l.waiting = true;
    l.timer.expires_at(at);
    l.timer.async_wait([self = shared_from_this(), d](error_code ec) {
      self->lane_of(d).waiting = false;
      if (!ec) self->write(d);
    });
    return;
  }
  std::size_t left = front.bytes.size() - front.offset;
  std::size_t n = left;
  if (fault.bytes_per_second > 0) {
    n = std::min<std::size_t>(n, std::max<std::uint64_t>(1, fault.bytes_per_second / 20));
    l.throttle_free = std::max(l.throttle_free, now) +
                      std::chrono::nanoseconds{n * 1'000'000'000ull / fault.bytes_per_second};
  }
  bool truncated = false;
  // A connection's own truncation goes first; the proxy-wide one-shot is
  // taken by whichever connection forwards in `d` next.
  auto& armed = l.truncate ? l.truncate : fault.truncate_next;
  if (armed) {
    n = std::min({n, *armed, left - 1});
    armed.reset();
    truncated = true;
  }
  bool cut_after = truncated;
  if (faults_.cut_after_bytes) {
    auto total = lanes_[0].committed + lanes_[1].committed;
    auto limit = *faults_.cut_after_bytes;
    auto room = limit > total ? limit - total : 0;
    if (n >= room) {
      n = static_cast<std::size_t>(room);
      cut_after = true;
    }
  }
  if (n == 0) return wrote(d, 0, cut_after, truncated);
  l.writing = true;
  l.committed += n;
  asio::async_write(
      to(d), asio::buffer(front.bytes.data() + front.offset, n),
      [self = shared_from_this(), d, cut_after, truncated](error_code ec, std::size_t n) {
        self->lane_of(d).writing = false;
        if (self->closed_) return;
        if (ec) return self->close(true);
        self->wrote(d, n, cut_after, truncated);
      });
}

void connection::wrote(direction d, std::size_t n, bool cut_after, bool truncated) {
  auto& l = lane_of(d);
  if (n > 0) counts_.forwarded(d, n);
  auto& front = l.queue.front();
  front.offset += n;
  l.queued -= n;
  if (front.offset == front.bytes.size()) l.queue.pop_front();
  if (cut_after) {
    counts_.cut(truncated);
    return close(true);
  }
  write(d);
  read(d);  // in case the lane was full
}

void connection::close(bool reset) {
  if (closed_) return;
  closed_ = true;
  for (auto* s : {&client_, &server_}) {
    error_code ignored;
    if (reset && s->is_open()) s->set_option(asio::socket_base::linger(true, 0), ignored);
    s->close(ignored);
  }
  for (auto& l : lanes_) l.timer.cancel();
  counts_.closed();
}

}  // namespace wsvisor::chaos::detail
