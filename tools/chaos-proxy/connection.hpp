#pragma once

/// One proxied connection of the chaos proxy (chaos_proxy.hpp): the accepted
/// socket, the socket to the target, and a lane per direction that reads
/// chunks, queues them, and forwards them as the faults allow.
///
/// Threading: everything here runs on the proxy's single I/O thread (no
/// strand needed), except `counters`, which any thread may read.

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "tools/chaos-proxy/chaos_proxy.hpp"

namespace wsvisor::chaos::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;

inline std::size_t index(direction d) { return d == direction::client_to_server ? 0 : 1; }

/// The faults every connection obeys. I/O thread only.
struct fault_plan {
  struct lane {
    duration delay{0};
    std::uint64_t bytes_per_second = 0;  // 0 = unlimited
    bool stalled = false;
    std::optional<std::size_t> truncate_next;  // one-shot, whichever connection comes first
  };
  std::array<lane, 2> lanes;                     // by index(direction)
  std::optional<std::uint64_t> cut_after_bytes;  // per connection, both directions
};

/// The proxy's counters, and a condition variable to await them.
class counters {
 public:
  void accepted();
  void closed();
  void cut(bool truncated);
  void received(direction d, std::size_t n);
  void forwarded(direction d, std::size_t n);

  proxy_stats snapshot() const;
  bool wait_for(const std::function<bool(const proxy_stats&)>& pred, duration timeout) const;

 private:
  template <class F>
  void update(F f);

  mutable std::mutex mtx_;
  mutable std::condition_variable cv_;
  proxy_stats stats_;
};

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(asio::io_context& ioc, const proxy_options& options, fault_plan& faults,
             counters& counts);

  tcp::socket& client() { return client_; }

  /// Connects to the target, then forwards both ways. The accepted socket
  /// must be open.
  void start(const tcp::resolver::results_type& target);

  /// Resets both sides (SO_LINGER 0) as a fault: counted as a cut.
  void cut();

  /// This connection's next chunk in `t.dir` is truncated, then it is cut.
  void arm_truncation(truncation t);

  /// A fault changed (un-stalled, a new limit): forward what now may go.
  void resume();

  bool closed() const { return closed_; }

 private:
  struct chunk {
    std::vector<char> bytes;
    std::size_t offset = 0;  // forwarded so far
    clock::time_point ready_at;
  };
  struct lane {
    explicit lane(asio::io_context& ioc, std::size_t chunk_bytes)
        : read_buffer(chunk_bytes), timer(ioc) {}
    std::vector<char> read_buffer;
    std::deque<chunk> queue;
    std::size_t queued = 0;  // bytes in `queue` not yet forwarded
    bool reading = false;
    bool writing = false;
    bool waiting = false;                 // on `timer` (delay or throttle)
    bool eof = false;                     // the sender closed; pass it on once `queue` is drained
    bool done = false;                    // EOF passed on
    clock::time_point throttle_free{};    // the throttle lets the next slice go at this time
    std::uint64_t committed = 0;          // bytes handed to writes
    std::optional<std::size_t> truncate;  // armed on this connection only
    asio::steady_timer timer;
  };

  tcp::socket& from(direction d) { return d == direction::client_to_server ? client_ : server_; }
  tcp::socket& to(direction d) { return d == direction::client_to_server ? server_ : client_; }
  lane& lane_of(direction d) { return lanes_[index(d)]; }

  void read(direction d);
  void write(direction d);
  void wrote(direction d, std::size_t n, bool cut_after, bool truncated);
  // Closes both sockets once; `reset`: SO_LINGER 0, so each peer sees a reset.
  void close(bool reset);

  const proxy_options& options_;
  fault_plan& faults_;
  counters& counts_;
  tcp::socket client_;
  tcp::socket server_;
  std::array<lane, 2> lanes_;
  bool closed_ = false;
};

}  // namespace wsvisor::chaos::detail
