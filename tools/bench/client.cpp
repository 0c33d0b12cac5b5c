#include "tools/bench/client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace wsbench {

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}

client::client(asio::io_context& ioc, const target& t, std::uint32_t index, std::uint32_t node)
    : ioc_{ioc}, target_{t}, index_{index}, port_{t.port_of(node)} {}

client::~client() = default;

task<bool> client::connect(const std::string& path) {
  ++generation_;
  last_close_code_ = 0;
  compressed_ = false;
  out_.clear();
  pending_.clear();
  writing_ = false;
  buffer_.clear();
  ws_ = std::make_shared<stream>(ioc_);
  auto& sock = ws_->next_layer();
  boost::system::error_code ec;
  auto address = asio::ip::make_address_v4(target_.host, ec);
  if (ec) {
    last_error_ = "bad host " + target_.host + " (an IPv4 address is expected)";
    co_return false;
  }
  tcp::endpoint ep{address, port_};
  sock.open(tcp::v4(), ec);
  if (ec) {
    last_error_ = "socket: " + ec.message();
    co_return false;
  }
  if (address.is_loopback() && target_.source_ips > 1) {
    // Spread clients over several source addresses so that 10,000
    // connections (and their reconnections) never run out of ports; the
    // port is chosen at connect() time, per destination.
    int one = 1;
    ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    auto source =
        asio::ip::address_v4{0x7f000001u + index_ % static_cast<std::uint32_t>(target_.source_ips)};
    sock.bind(tcp::endpoint{source, 0}, ec);
    if (ec) {
      last_error_ = "bind: " + ec.message();
      co_return false;
    }
  }
  auto [cerr] = co_await sock.async_connect(ep, use_tuple);
  if (cerr) {
    last_error_ = "connect: " + cerr.message();
    co_return false;
  }
  sock.set_option(tcp::no_delay(true), ec);
  ws_->read_message_max(16 * 1024 * 1024);
  ws_->auto_fragment(false);
  if (target_.deflate) {
    websocket::permessage_deflate pmd;
    pmd.client_enable = true;
    ws_->set_option(pmd);
  }
  if (target_.kind == dialect::wsvisor) {
    ws_->set_option(websocket::stream_base::decorator(
        [msgpack = target_.msgpack](websocket::request_type& req) {
          req.set(beast::http::field::sec_websocket_protocol,
                  msgpack ? "wsvisor.v1.msgpack" : "wsvisor.v1");
        }));
  }
  websocket::response_type res;
  auto host = target_.host + ':' + std::to_string(port_);
  auto [herr] = co_await ws_->async_handshake(res, host, path, use_tuple);
  if (herr) {
    last_error_ = "upgrade: " + herr.message() + " (HTTP " + std::to_string(res.result_int()) + ")";
    co_return false;
  }
  compressed_ = res[beast::http::field::sec_websocket_extensions].starts_with("permessage-deflate");
  ws_->text(!(target_.msgpack && target_.kind == dialect::wsvisor));
  co_return true;
}

std::uint64_t client::bytes_received() const {
  if (!ws_) return 0;
  // glibc's tcp_info stops before the fields Linux added since (4.1:
  // tcpi_bytes_received); <linux/tcp.h> clashes with <netinet/tcp.h>.
  struct {
    tcp_info base;
    std::uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
  } info{};
  static_assert(sizeof(tcp_info) == 104, "the kernel's layout follows at offset 104");
  socklen_t len = sizeof info;
  if (::getsockopt(ws_->next_layer().native_handle(), IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      len < sizeof info)
    return 0;
  return info.bytes_received;
}

task<bool> client::establish(bool resume) {
  resumed_ = false;
  switch (target_.kind) {
    case dialect::raw:
      co_return true;
    case dialect::wsvisor:
      send(resume ? wsv_resume(session_, token_, last_seq_) : wsv_hello());
      for (;;) {
        auto e = co_await next();
        if (e.type == event::welcome) {
          resumed_ = e.resumed;
          welcome_reason_ = std::move(e.reason);
          if (!resumed_) last_seq_ = acked_ = cseq_ = 0;  // a new session numbers from 1
          co_return true;
        }
        if (e.type == event::closed) {
          last_error_ = std::move(e.reason);
          co_return false;
        }
      }
    case dialect::socketio: {
      // Engine.IO open packet first, then the Socket.IO CONNECT exchange.
      for (;;) {
        auto text = co_await read_event();
        if (text.type == event::closed) {
          last_error_ = std::move(text.reason);
          co_return false;
        }
        if (text.type == event::other && text.reason == "open") break;
      }
      auto previous_sid = sid_;
      send(resume && !pid_.empty() ? sio_connect(pid_, offset_) : sio_connect());
      for (;;) {
        auto e = co_await read_event();
        if (e.type == event::closed) {
          last_error_ = std::move(e.reason);
          co_return false;
        }
        // A recovering server sends the missed packets *before* its connect
        // reply (socket.io 4.8, Socket's constructor); its own client
        // buffers them, and so does this one.
        if (e.type == event::delivered) pending_.push_back(std::move(e.payload));
        if (e.type == event::welcome) {
          // Socket.IO keeps the socket id when it recovers a session.
          resumed_ = resume && !previous_sid.empty() && sid_ == previous_sid;
          co_return true;
        }
      }
    }
  }
  co_return false;
}

task<bool> client::join(const std::string& channel) {
  if (target_.kind != dialect::wsvisor) co_return true;
  send(wsv_subscribe(channel));
  for (;;) {
    auto e = co_await next();
    if (e.type == event::subscribed) co_return true;
    if (e.type == event::closed) co_return false;
  }
}

void client::publish(const std::string& channel, const std::string& payload,
                     const char* sio_event_name) {
  switch (target_.kind) {
    case dialect::wsvisor:
      send(wsv_publish(channel, payload, ++cseq_));
      break;
    case dialect::raw:
      send(payload);
      break;
    case dialect::socketio:
      send(sio_event(sio_event_name, payload));
      break;
  }
}

void client::send(std::string frame) {
  if (!ws_) return;
  if (target_.msgpack && target_.kind == dialect::wsvisor) frame = wsv_msgpack(frame);
  out_.push_back(std::move(frame));
  if (!writing_) write_next();
}

void client::write_next() {
  writing_ = true;
  ws_->async_write(asio::buffer(out_.front()), [this, keep = ws_, gen = generation_](
                                                   boost::system::error_code ec, std::size_t) {
    if (gen != generation_) return;  // a write on a connection since replaced
    out_.pop_front();
    if (ec || out_.empty()) {
      writing_ = false;
      if (ec) out_.clear();
      return;
    }
    write_next();
  });
}

task<client::event> client::next() {
  if (!pending_.empty()) {
    auto e = event{.type = event::delivered, .payload = std::move(pending_.front())};
    pending_.pop_front();
    co_return e;
  }
  co_return co_await read_event();
}

task<client::event> client::read_event() {
  for (;;) {
    if (!ws_) co_return event{.type = event::closed, .reason = "not connected"};
    auto keep = ws_;  // the stream outlives this read even if connect() replaces it
    buffer_.consume(buffer_.size());
    auto [ec, n] = co_await keep->async_read(buffer_, use_tuple);
    if (ec) co_return closed_event(*keep, ec);
    auto data = buffer_.cdata();
    std::string_view text{static_cast<const char*>(data.data()), data.size()};
    event e;
    switch (target_.kind) {
      case dialect::raw:
        e = event{.type = event::delivered, .payload = std::string{text}};
        break;
      case dialect::wsvisor:
        e = on_wsv(text);
        break;
      case dialect::socketio:
        e = on_sio(text);
        break;
    }
    if (e.type != event::other || !e.reason.empty()) co_return e;
  }
}

client::event client::closed_event(const stream& ws, boost::system::error_code ec) {
  if (ec != websocket::error::closed) return event{.type = event::closed, .reason = ec.message()};
  // The server's close frame: its code says what the client should do next
  // (wsvisor 4503: resume later; 4413: resume, the session moved).
  const auto& why = ws.reason();
  last_close_code_ = static_cast<std::uint16_t>(why.code);
  auto reason = "close " + std::to_string(last_close_code_);
  if (!why.reason.empty()) reason += " " + std::string{why.reason.data(), why.reason.size()};
  return event{.type = event::closed, .reason = std::move(reason), .close_code = last_close_code_};
}

client::event client::on_wsv(std::string_view text) {
  auto f = target_.msgpack ? parse_wsv_msgpack(text) : parse_wsv(text);
  switch (f.type) {
    case wsv_frame::message: {
      if (f.seq != last_seq_ + 1) {
        ++seq_errors_;
        if (f.seq <= last_seq_) return {};  // a repeat: not delivered twice
      }
      last_seq_ = f.seq;
      if (last_seq_ - acked_ >= target_.ack_every) {
        acked_ = last_seq_;
        send(wsv_ack(acked_));
      }
      return event{.type = event::delivered, .payload = std::move(f.data)};
    }
    case wsv_frame::ping:
      send(wsv_pong());
      return {};
    case wsv_frame::welcome:
      session_ = std::move(f.session);
      token_ = std::move(f.token);
      return event{.type = event::welcome, .resumed = f.resumed, .reason = std::move(f.reason)};
    case wsv_frame::subscribed:
      return event{.type = event::subscribed};
    case wsv_frame::ack:
      return event{.type = event::acked};
    case wsv_frame::error:
    case wsv_frame::malformed:
      ++errors_;
      last_error_ = f.type == wsv_frame::error ? "error " + f.reason : "malformed frame";
      return {};
    default:
      return {};
  }
}

client::event client::on_sio(std::string_view text) {
  auto f = parse_sio(text);
  switch (f.type) {
    case sio_frame::open:
      return event{.type = event::other, .reason = "open"};
    case sio_frame::ping:
      send(sio_pong());
      return {};
    case sio_frame::connected:
      sid_ = std::move(f.sid);
      pid_ = std::move(f.pid);
      return event{.type = event::welcome};
    case sio_frame::emitted:
      if (!f.offset.empty()) offset_ = std::move(f.offset);
      return event{.type = event::delivered, .payload = std::move(f.payload)};
    case sio_frame::connect_error:
    case sio_frame::malformed:
      ++errors_;
      last_error_ = f.type == sio_frame::connect_error ? "connect_error" : "malformed frame";
      return {};
    default:
      return {};
  }
}

task<void> client::leave() {
  if (!ws_) co_return;
  if (target_.kind == dialect::wsvisor) {
    send(wsv_bye());
    for (;;) {  // until the server's close (1000) ends the connection
      auto e = co_await next();
      if (e.type == event::closed) break;
    }
  } else {
    // Socket.IO leaves its namespace first; then the closing handshake,
    // which Beast orders after any write still in flight.
    if (target_.kind == dialect::socketio) send(sio_disconnect());
    auto keep = ws_;
    co_await keep->async_close(websocket::close_code::normal, use_tuple);
  }
  cut();
}

void client::cut() {
  if (!ws_) return;
  auto& sock = ws_->next_layer();
  boost::system::error_code ignored;
  sock.set_option(asio::socket_base::linger(true, 0), ignored);
  sock.close(ignored);
}

}  // namespace wsbench
