#pragma once

/// A small TCP proxy for tests: listens on 127.0.0.1 (port chosen by the OS)
/// and forwards every accepted connection to 127.0.0.1:`target_port`, bytes
/// unchanged in both directions. Tests cut connections to simulate network
/// failures: `cut_all` now, or `cut_randomly` on a seeded schedule.
///
/// A cut resets both sides (SO_LINGER 0, then close): the client and the
/// server each see a reset, as after a real network failure, not an orderly
/// close. An orderly close (EOF) by either side is passed on as one.
///
/// Threading: the proxy runs on its own I/O thread; every member may be
/// called from any thread. `cut_all` returns once the cuts are done.

#include <chrono>
#include <cstdint>
#include <memory>

namespace wsvisor::test {

class tcp_proxy {
 public:
  /// Starts listening and forwarding. Throws if it cannot listen.
  explicit tcp_proxy(std::uint16_t target_port);
  /// Stops the random cuts, closes every connection and joins the thread.
  ~tcp_proxy();
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  std::uint16_t port() const;

  /// Resets every proxied connection (both sides) and returns the number cut.
  std::size_t cut_all();

  /// From now on, every uniform[min_interval, max_interval] (drawn from a
  /// std::mt19937_64 seeded with `seed`) resets one proxied connection
  /// picked at random with the same generator; nothing happens on a tick
  /// without connections. Calling it again replaces the schedule.
  void cut_randomly(std::chrono::milliseconds min_interval, std::chrono::milliseconds max_interval,
                    std::uint64_t seed);

  /// Ends the random cuts.
  void stop_cutting();

  /// Refuses (resets at once) connections accepted from now on while `on`.
  void set_refusing(bool on);

  std::uint64_t accepted() const;  // connections accepted so far
  std::uint64_t cut() const;       // connections reset by cut_all, cut_randomly or refusing
  std::size_t active() const;      // connections currently forwarded

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace wsvisor::test
