#pragma once

/// The stream type under every server-side WebSocket, and the one hook wsvisor
/// needs from Beast: to know when a closing handshake reaches its TCP teardown.
///
/// Beast's own timer bounds the teardown only when *we* start the close
/// (`async_close`). When the peer starts it, or when Beast fails the
/// connection itself (a frame over `read_message_max` → 1009, a protocol
/// error → 1002), the teardown runs inside `async_read` and waits for the
/// peer's FIN with no deadline: a peer that sends a close frame (or an
/// oversized one) and then goes silent would hold the socket forever. Beast
/// finds `async_teardown` by argument-dependent lookup, so giving the
/// `basic_stream` a rate policy of our own namespace lets the overload below
/// run first: it calls `on_teardown` (the session arms its close deadline),
/// then does Beast's ordinary TCP teardown.
///
/// Internal to net/. `on_teardown` is called on the stream's strand.

#include <array>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/rate_policy.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

namespace wsvisor::net {

/// A `basic_stream` rate policy: no rate limit (like `unlimited_rate_policy`),
/// plus the teardown hook described above.
class teardown_hook_policy {
 public:
  std::function<void()> on_teardown;  // may be empty

 private:
  friend class boost::beast::rate_policy_access;
  static constexpr std::size_t all = std::numeric_limits<std::size_t>::max();
  std::size_t available_read_bytes() const noexcept { return all; }
  std::size_t available_write_bytes() const noexcept { return all; }
  void transfer_read_bytes(std::size_t) const noexcept {}
  void transfer_write_bytes(std::size_t) const noexcept {}
  void on_timer() const noexcept {}
};

using ws_tcp_stream = boost::beast::basic_stream<boost::asio::ip::tcp, boost::asio::any_io_executor,
                                                 teardown_hook_policy>;
using ws_stream = boost::beast::websocket::stream<ws_tcp_stream>;

/// The lingering TCP teardown of a closing WebSocket: shut our sending side,
/// read and discard until the peer's EOF, then close. Beast 1.81's own
/// version (websocket/impl/teardown.hpp) tests the `bytes_transferred` of its
/// wait continuation, always 0, instead of what `read_some` returned, so it
/// stops draining as soon as any data arrives after the first wait and closes
/// with unread bytes: the kernel then sends a reset, and the peer loses the
/// close frame we just sent it (a client still writing an oversized frame saw
/// "broken pipe" instead of 1009). The session's close deadline bounds this.
class lingering_teardown_op {
 public:
  lingering_teardown_op(boost::beast::role_type role, boost::asio::ip::tcp::socket& socket)
      : role_(role), socket_(socket), buf_(std::make_unique<std::array<char, 2048>>()) {}

  template <class Self>
  void operator()(Self& self, boost::beast::error_code ec = {}, std::size_t = 0) {
    namespace asio = boost::asio;
    if (!started_) {
      started_ = true;
      if (role_ == boost::beast::role_type::server)
        socket_.shutdown(asio::socket_base::shutdown_send, ec);
      if (ec) return self.complete(ec);
    } else if (ec) {
      if (ec != asio::error::eof) return self.complete(ec);
      boost::beast::error_code ignored;
      if (role_ == boost::beast::role_type::client)
        socket_.shutdown(asio::socket_base::shutdown_send, ignored);
      socket_.close(ignored);
      return self.complete({});
    }
    socket_.async_read_some(asio::buffer(*buf_), std::move(self));
  }

 private:
  boost::beast::role_type role_;
  boost::asio::ip::tcp::socket& socket_;
  std::unique_ptr<std::array<char, 2048>> buf_;
  bool started_ = false;
};

/// Found by ADL from inside Beast's close and read operations (more
/// specialised than Beast's own `basic_stream` overload, so it wins).
template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, ws_tcp_stream& stream,
                    TeardownHandler&& handler) {
  if (stream.rate_policy().on_teardown) stream.rate_policy().on_teardown();
  boost::asio::async_compose<TeardownHandler, void(boost::beast::error_code)>(
      lingering_teardown_op{role, stream.socket()}, handler, stream.socket());
}

}  // namespace wsvisor::net
