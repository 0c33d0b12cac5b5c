#pragma once

/// The listener's checks on a WebSocket upgrade request, before the 101:
/// the connection limits, the Origin and the subprotocol (see http_server.hpp for the
/// answers). Internal to net/.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace wsvisor::net {

/// Open WebSockets counted against `max_connections` in all and
/// `max_per_ip` (0: no limit) per remote address. Shared by the listener and
/// its sessions; thread-safe.
class ws_slots {
 public:
  enum class refusal { none, total, per_ip };

  ws_slots(std::uint64_t max, std::uint64_t max_per_ip)
      : max_(max), max_per_ip_(max_per_ip), per_ip_counted_(max_per_ip != 0) {}

  /// A new per-address limit for upgrades from now on (a reload); open
  /// WebSockets stay. Ignored unless both the old and the new limit are
  /// non-zero: addresses are counted only when a limit was set at start.
  void set_max_per_ip(std::uint64_t max_per_ip);

  /// Takes a slot for a WebSocket from `ip`, or says which limit is reached.
  refusal try_acquire(const std::string& ip);

  /// Returns a slot taken by `try_acquire` with the same `ip`.
  void release(const std::string& ip);

  std::uint64_t open() const { return open_.load(std::memory_order_acquire); }

  /// WebSockets open from `ip` now (0 when per-IP counting is off).
  std::uint64_t open_from(const std::string& ip) const;

 private:
  const std::uint64_t max_;
  std::atomic<std::uint64_t> max_per_ip_;
  const bool per_ip_counted_;
  std::atomic<std::uint64_t> open_{0};
  mutable std::mutex mtx_;                                 // guards per_ip_
  std::unordered_map<std::string, std::uint64_t> per_ip_;  // only addresses with one open
};

/// The socket's remote address as text (no port); "?" when it has none.
std::string remote_ip(const boost::asio::ip::tcp::socket& socket);

/// True when `origin` (an `Origin` header's value) may open a WebSocket:
/// `allowed` is empty, or holds it exactly.
bool origin_allowed(const std::vector<std::string>& allowed, std::string_view origin);

/// The value of `Sec-WebSocket-Protocol` for JSON text frames; wsvisor also
/// speaks proto::msgpack_subprotocol (`wsvisor.v1.msgpack`).
inline constexpr std::string_view ws_subprotocol = "wsvisor.v1";

/// What to answer to the subprotocols a client offered.
struct subprotocol_choice {
  bool acceptable = true;  // false: the client offered only protocols we do not speak
  std::string selected;    // "wsvisor.v1" or "wsvisor.v1.msgpack" (the first offered), or empty
                           // when the client offered none
};

/// Decides from every `Sec-WebSocket-Protocol` field of `req` (each a
/// comma-separated list; RFC 6455 §4.1 allows several fields): the first
/// offered that wsvisor speaks.
subprotocol_choice choose_subprotocol(
    const boost::beast::http::request<boost::beast::http::string_body>& req);

}  // namespace wsvisor::net
