#include "tests/support/ws_client.hpp"

#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace wsvisor::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;

struct ws_client::impl {
  // Declared first, destroyed last: pending handlers die with it, after the stream.
  asio::io_context ioc;
  std::optional<websocket::stream<beast::tcp_stream>> ws;
  beast::flat_buffer buffer;
  websocket::response_type handshake_response;
  int receive_buffer = 0;

  // Operations may outlive the call that started them (a timed-out
  // receive), so their results live here rather than on the caller's stack.
  bool connect_done = false;
  beast::error_code connect_ec;
  bool read_pending = false;
  std::optional<ws_event> read_result;
  bool write_pending = false;
  beast::error_code write_ec;
  std::string write_data;
  bool close_done = false;
  beast::error_code close_ec;
  std::optional<ws_event> final_event;  // closed or error: every later call returns it

  // Runs handlers until `done()` or the deadline. False on timeout.
  template <class Done>
  bool run_until(Done done, ms timeout) {
    auto deadline = clock::now() + timeout;
    ioc.restart();
    while (!done())
      if (ioc.run_one_until(deadline) == 0)
        return done();  // deadline passed, or nothing left to run
    return true;
  }

  ws_event closed_event(std::uint16_t code, std::string reason) {
    return ws_event{.type = ws_event::kind::closed, .text = std::move(reason), .close_code = code};
  }

  // What a failed read or close means to a test.
  ws_event end_event(beast::error_code ec) {
    if (ec == websocket::error::closed) {
      const auto& r = ws->reason();
      return closed_event(r.code == websocket::close_code::none ? 1005 : r.code,
                          std::string{r.reason.data(), r.reason.size()});
    }
    if (ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::broken_pipe || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout)
      return closed_event(1006, ec.message());
    return ws_event{.type = ws_event::kind::error, .text = ec.message()};
  }

  void start_read() {
    read_pending = true;
    ws->async_read(buffer, [this](beast::error_code ec, std::size_t) {
      read_pending = false;
      if (ec) {
        read_result = end_event(ec);
        return;
      }
      read_result = ws_event{.type = ws->got_text() ? ws_event::kind::text : ws_event::kind::binary,
                             .text = beast::buffers_to_string(buffer.data())};
      buffer.consume(buffer.size());
    });
  }

  std::string write(std::string_view payload, bool text, ms timeout) {
    if (!ws) return "not connected";
    if (final_event) return "closed";
    if (write_pending) return "a previous write is still pending";
    write_data.assign(payload);
    write_pending = true;
    ws->text(text);
    ws->async_write(asio::buffer(write_data), [this](beast::error_code ec, std::size_t) {
      write_pending = false;
      write_ec = ec;
    });
    if (!run_until([this] { return !write_pending; }, timeout)) return "write timed out";
    return write_ec ? "write: " + write_ec.message() : std::string{};
  }
};

ws_client::ws_client() : impl_(std::make_unique<impl>()) {}

ws_client::~ws_client() = default;

void ws_client::set_receive_buffer(int bytes) { impl_->receive_buffer = bytes; }

ws_handshake ws_client::connect(std::uint16_t port, std::string_view target,
                                const std::vector<std::string>& subprotocols, ms timeout) {
  auto& d = *impl_;
  d.ws.emplace(d.ioc);
  d.buffer.clear();
  d.handshake_response = {};
  d.read_pending = d.write_pending = false;
  d.read_result.reset();
  d.final_event.reset();
  d.connect_done = false;

  ws_handshake result;
  auto& lowest = beast::get_lowest_layer(*d.ws);
  beast::error_code ec;
  if (d.receive_buffer > 0) {
    lowest.socket().open(tcp::v4(), ec);
    if (!ec)
      lowest.socket().set_option(asio::socket_base::receive_buffer_size(d.receive_buffer), ec);
    if (ec) {
      result.error = "socket: " + ec.message();
      return result;
    }
  }
  std::string offered;
  for (const auto& p : subprotocols) offered += (offered.empty() ? "" : ", ") + p;
  d.ws->set_option(websocket::stream_base::decorator([offered](websocket::request_type& req) {
    if (!offered.empty()) req.set(http::field::sec_websocket_protocol, offered);
  }));
  d.ws->set_option(websocket::stream_base::timeout{timeout, websocket::stream_base::none(), false});
  auto host = "127.0.0.1:" + std::to_string(port);
  lowest.expires_after(timeout);
  lowest.async_connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port},
                       [&d, host, target = std::string{target}](beast::error_code ec) {
                         if (ec || !d.ws) {
                           d.connect_ec = ec ? ec : asio::error::operation_aborted;
                           d.connect_done = true;
                           return;
                         }
                         // The WebSocket's own timeout takes over from the TCP one.
                         beast::get_lowest_layer(*d.ws).expires_never();
                         d.ws->async_handshake(d.handshake_response, host, target,
                                               [&d](beast::error_code ec) {
                                                 d.connect_ec = ec;
                                                 d.connect_done = true;
                                               });
                       });
  if (!d.run_until([&d] { return d.connect_done; }, timeout + ms{1000})) {
    result.error = "connect timed out";
    d.ws.reset();
    return result;
  }
  const auto& res = d.handshake_response;
  result.status = static_cast<int>(res.result_int());
  result.subprotocol = std::string{res[http::field::sec_websocket_protocol]};
  result.retry_after = std::string{res[http::field::retry_after]};
  result.body = res.body();
  if (d.connect_ec) {
    result.error = d.connect_ec.message();
    d.final_event = ws_event{.type = ws_event::kind::error, .text = "not connected"};
    return result;
  }
  result.ok = true;
  return result;
}

std::string ws_client::send_text(std::string_view payload, ms timeout) {
  return impl_->write(payload, true, timeout);
}

std::string ws_client::send_binary(std::string_view payload, ms timeout) {
  return impl_->write(payload, false, timeout);
}

ws_event ws_client::receive(ms timeout) {
  auto& d = *impl_;
  auto take = [&d] {
    auto e = std::move(*d.read_result);
    d.read_result.reset();
    if (e.type == ws_event::kind::closed || e.type == ws_event::kind::error) d.final_event = e;
    return e;
  };
  if (d.read_result) return take();
  if (d.final_event) return *d.final_event;
  if (!d.ws) return ws_event{.type = ws_event::kind::error, .text = "not connected"};
  if (!d.read_pending) d.start_read();
  if (!d.run_until([&d] { return d.read_result.has_value(); }, timeout)) return ws_event{};
  return take();
}

ws_event ws_client::close(std::uint16_t code, std::string_view reason, ms timeout) {
  auto& d = *impl_;
  if (d.final_event) return *d.final_event;
  if (!d.ws) return ws_event{.type = ws_event::kind::error, .text = "not connected"};
  d.close_done = false;
  websocket::close_reason frame{code};
  reason = reason.substr(0, 123);  // a close frame's limit
  frame.reason.assign(reason.data(), reason.size());
  d.ws->async_close(frame, [&d](beast::error_code ec) {
    d.close_done = true;
    d.close_ec = ec;
  });
  // A pending read hands the stream to the close operation once the
  // server's close frame arrives; wait for both so no handler is left over.
  if (!d.run_until([&d] { return d.close_done && !d.read_pending; }, timeout)) return ws_event{};
  d.read_result.reset();  // a pending read ends as "aborted" under a close: not news
  const auto& r = d.ws->reason();
  if (d.close_ec && r.code == websocket::close_code::none)
    d.final_event = d.end_event(d.close_ec);
  else
    d.final_event = d.closed_event(r.code == websocket::close_code::none ? 1005 : r.code,
                                   std::string{r.reason.data(), r.reason.size()});
  return *d.final_event;
}

void ws_client::drop(bool reset) {
  auto& d = *impl_;
  if (!d.ws) return;
  auto& socket = beast::get_lowest_layer(*d.ws).socket();
  beast::error_code ignored;
  if (reset) socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
  if (!d.final_event) d.final_event = d.closed_event(1006, "dropped by the client");
}

bool ws_client::is_open() const { return impl_->ws && !impl_->final_event && impl_->ws->is_open(); }

}  // namespace wsvisor::test
