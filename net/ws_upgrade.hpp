#pragma once

/// The listener's checks on a WebSocket upgrade request, before the 101:
/// the connection limit and the subprotocol (see http_server.hpp for the
/// answers). Internal to net/.

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace wsvisor::net {

/// Open WebSockets counted against `max_connections`. Shared by the listener
/// and its sessions; thread-safe.
class ws_slots {
 public:
  explicit ws_slots(std::uint64_t max) : max_(max) {}

  /// Takes a slot; false when all `max` are taken.
  bool try_acquire();

  /// Returns a slot taken by `try_acquire`.
  void release() { open_.fetch_sub(1, std::memory_order_acq_rel); }

  std::uint64_t open() const { return open_.load(std::memory_order_acquire); }

 private:
  const std::uint64_t max_;
  std::atomic<std::uint64_t> open_{0};
};

/// The value of `Sec-WebSocket-Protocol` that wsvisor speaks.
inline constexpr std::string_view ws_subprotocol = "wsvisor.v1";

/// What to answer to the subprotocols a client offered.
struct subprotocol_choice {
  bool acceptable = true;  // false: the client offered only protocols we do not speak
  std::string selected;    // "wsvisor.v1", or empty when the client offered none
};

/// Decides from every `Sec-WebSocket-Protocol` field of `req` (each a
/// comma-separated list; RFC 6455 §4.1 allows several fields).
subprotocol_choice choose_subprotocol(
    const boost::beast::http::request<boost::beast::http::string_body>& req);

}  // namespace wsvisor::net
