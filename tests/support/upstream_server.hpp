#pragma once

/// An upstream WebSocket service for tests of wsvisor's upstream links: Beast
/// on 127.0.0.1 with its own I/O thread, which a test can kill (listener and
/// every connection reset) and start again on the same port, and switch into
/// misbehaving modes. It records what it receives and sends what it is told.
///
/// Threading: every member may be called from any thread; calls that change
/// the server return once its I/O thread has done the work.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace wsvisor::test {

enum class upstream_mode {
  normal,    // upgrade (selecting the first subprotocol offered), then exchange frames
  echo,      // like normal, and every text frame received is sent back
  http_500,  // answer the upgrade request with HTTP 500
  silent,    // accept TCP, never read or answer: the handshake never completes
  frozen,    // upgrade, then never read again: pings go unanswered
  reset,     // accept TCP and reset it at once: every attempt fails, and is seen
};

class upstream_server {
 public:
  using clock = std::chrono::steady_clock;
  using ms = std::chrono::milliseconds;

  /// Listens on 127.0.0.1:`port` (0: the OS chooses).
  explicit upstream_server(upstream_mode mode = upstream_mode::normal, std::uint16_t port = 0);
  ~upstream_server();
  upstream_server(const upstream_server&) = delete;
  upstream_server& operator=(const upstream_server&) = delete;

  std::uint16_t port() const;
  std::string url(const std::string& path = "/feed") const;  // ws://127.0.0.1:PORT/path

  void set_mode(upstream_mode mode);

  /// Stops listening and resets every connection (no close frame).
  void kill();
  /// Listens again on the same port.
  void restart();
  /// Resets every open connection; keeps listening.
  void drop_connections();

  /// When each TCP connection was accepted, in order (every connection
  /// attempt that reached the server).
  std::vector<clock::time_point> accept_times() const;
  /// Waits until `n` TCP connections have been accepted in total.
  bool await_accepts(std::size_t n, ms timeout = ms{10'000});

  /// Sends one text frame on every open WebSocket.
  void broadcast(const std::string& text);

  /// Waits until `n` text frames have arrived in total; returns them all, in
  /// arrival order (fewer on timeout).
  std::vector<std::string> await_received(std::size_t n, ms timeout = ms{10'000});
  std::vector<std::string> received() const;

  /// Waits until `n` WebSockets have been upgraded in total.
  bool await_upgrades(std::size_t n, ms timeout = ms{10'000});
  std::size_t upgrades() const;

  /// The headers of the last upgrade request (lower-case names).
  std::map<std::string, std::string> last_request_headers() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace wsvisor::test
