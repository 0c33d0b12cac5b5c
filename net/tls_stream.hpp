#pragma once

/// The stream under every TLS connection of the listener (https:// and
/// wss://): Beast's `ssl_stream` over the same `ws_tcp_stream` as plain
/// connections, so that its WebSocket teardown is bounded the same way
/// (net/ws_stream.hpp explains why it must be).
///
/// Beast's teardown for `ssl_stream` is OpenSSL's shutdown: send our
/// close_notify, then read until the peer's. A peer that never sends one nor
/// closes TCP would hold the socket forever; the overload below first calls
/// `on_teardown` (the session arms its close deadline, whose TCP shutdown
/// then ends the wait), then does the TLS shutdown. A peer still sending
/// data makes OpenSSL give up ("application data after close notify"); what
/// it sends is then drained below TLS, as the plain teardown does, so that
/// it is not reset before it has read our close frame.
///
/// Internal to net/. Includes OpenSSL through Asio: keep it out of headers
/// that are widely included.

#include <array>
#include <cstddef>
#include <memory>

#include <boost/asio/compose.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "net/ws_stream.hpp"

namespace wsvisor::net {

using tls_tcp_stream = boost::beast::ssl_stream<ws_tcp_stream>;

/// The TLS shutdown of a closing WebSocket. Its end is a success when the
/// peer answered with close_notify, closed TCP without one, or (after OpenSSL
/// gave up on a peer still sending) closed TCP while we drained: the
/// WebSocket close handshake, inside TLS, already said where the data ends,
/// so a missing close_notify cannot cut anything (Beast's note on
/// `ssl::error::stream_truncated` makes the same judgement).
class tls_teardown_op {
 public:
  explicit tls_teardown_op(tls_tcp_stream& stream)
      : stream_(stream), buf_(std::make_unique<std::array<char, 2048>>()) {}

  template <class Self>
  void operator()(Self& self, boost::beast::error_code ec = {}, std::size_t = 0) {
    namespace asio = boost::asio;
    switch (state_) {
      case state::start:
        state_ = state::shutting_down;
        return stream_.async_shutdown(std::move(self));
      case state::shutting_down:
        if (!ec || ec == asio::ssl::error::stream_truncated) return self.complete({});
        // Our close_notify is out; OpenSSL stopped at the peer's data. A
        // dead socket fails the first read below at once.
        state_ = state::draining;
        break;
      case state::draining:
        if (ec == asio::error::eof) return self.complete({});
        if (ec) return self.complete(ec);
        break;
    }
    boost::beast::get_lowest_layer(stream_).socket().async_read_some(asio::buffer(*buf_),
                                                                     std::move(self));
  }

 private:
  enum class state { start, shutting_down, draining };
  tls_tcp_stream& stream_;
  std::unique_ptr<std::array<char, 2048>> buf_;
  state state_ = state::start;
};

/// Found by ADL from inside Beast's close and read operations (more
/// specialised than Beast's own `ssl_stream` overload, so it wins). The TCP
/// socket stays open: the session closes it once the WebSocket has ended.
template <class TeardownHandler>
void async_teardown(boost::beast::role_type, tls_tcp_stream& stream, TeardownHandler&& handler) {
  auto& hook = boost::beast::get_lowest_layer(stream).rate_policy().on_teardown;
  if (hook) hook();
  boost::asio::async_compose<TeardownHandler, void(boost::beast::error_code)>(
      tls_teardown_op{stream}, handler, stream);
}

}  // namespace wsvisor::net
