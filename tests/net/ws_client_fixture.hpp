#pragma once

/// For ws_client_test: a scripted server on 127.0.0.1 (port chosen by the OS)
/// whose thread hands each accepted connection to a test-supplied script
/// written with Beast's blocking API (plain or over TLS), and a fixture that
/// opens outbound sockets on an I/O thread of its own and records their
/// events, which the test thread awaits with deadlines.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "actors/outbound.hpp"
#include "net/ws_client.hpp"
#include "tests/support/tls_cert.hpp"
#include "tests/support/watched.hpp"

namespace wsvisor::net::ws_client_testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using ms = std::chrono::milliseconds;
using namespace std::chrono_literals;
using test::watched;

/// What the scripted server saw.
struct server_notes {
  std::vector<http::request<http::string_body>> requests;  // upgrade requests
  std::vector<std::string> texts;                          // text messages received
  int pings = 0;                                           // pings received
  std::string sni;                                         // TLS: the server name sent
  int ended = 0;                                           // connections whose script returned
};

/// What an outbound socket reported.
struct client_notes {
  std::optional<std::string> opened;  // on_open's subprotocol
  std::vector<std::string> texts;
  std::vector<std::uint64_t> written;
  std::vector<outbound_result> closed;
  std::thread::id closed_on;
  bool after_close = false;  // some event ran after on_closed
};

/// Listens on 127.0.0.1:0; its thread runs `script` for each accepted
/// connection, one after another. A script ends when its blocking calls fail
/// (the client went away) or when `stopping` is ready (destruction).
class script_server {
 public:
  using script = std::function<void(tcp::socket&, const std::shared_future<void>& stopping)>;

  script_server(script s, watched<server_notes>& notes)
      : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}),
        port_(acceptor_.local_endpoint().port()),
        script_(std::move(s)),
        notes_(notes),
        stopping_(stop_.get_future().share()) {
    accept();
    thread_ = std::thread{[this] { ioc_.run(); }};
  }

  ~script_server() {
    stop_.set_value();
    asio::post(ioc_, [this] { acceptor_.close(); });
    thread_.join();
  }

  std::uint16_t port() const { return port_; }

 private:
  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      try {
        script_(socket, stopping_);
      } catch (const std::exception&) {
        // The client went away, as most scripts expect it to in the end.
      }
      notes_.update([](server_notes& n) { ++n.ended; });
      accept();
    });
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::uint16_t port_;
  script script_;
  watched<server_notes>& notes_;
  std::promise<void> stop_;
  std::shared_future<void> stopping_;
  std::thread thread_;
};

/// Reads the upgrade request, notes it and accepts it, selecting `protocol`
/// (no header when empty).
template <class WebSocket>
void accept_upgrade(WebSocket& ws, watched<server_notes>& notes, const std::string& protocol) {
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  http::read(ws.next_layer(), buffer, req);
  notes.update([&](server_notes& n) { n.requests.push_back(req); });
  ws.set_option(websocket::stream_base::decorator([protocol](websocket::response_type& res) {
    if (!protocol.empty()) res.set(http::field::sec_websocket_protocol, protocol);
  }));
  ws.accept(req);
}

/// Answers every text message with "echo:<text>", noting it, until the
/// connection ends. Counts pings (Beast answers them).
template <class WebSocket>
void echo(WebSocket& ws, watched<server_notes>& notes) {
  ws.control_callback([&notes](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::ping) notes.update([](server_notes& n) { ++n.pings; });
  });
  for (;;) {
    beast::flat_buffer buffer;
    ws.read(buffer);
    auto text = beast::buffers_to_string(buffer.data());
    notes.update([&](server_notes& n) { n.texts.push_back(text); });
    ws.text(true);
    ws.write(asio::buffer("echo:" + text));
  }
}

/// A WebSocket script: called with the stream and the raw socket under it.
template <class F>
script_server::script plain(F f) {
  return [f](tcp::socket& socket, const std::shared_future<void>& stopping) {
    websocket::stream<tcp::socket&> ws{socket};
    f(ws, stopping);
  };
}

/// The same over TLS: handshakes with `ctx` first and notes the SNI name.
template <class F>
script_server::script over_tls(ssl::context& ctx, watched<server_notes>& notes, F f) {
  return [&ctx, &notes, f](tcp::socket& socket, const std::shared_future<void>& stopping) {
    ssl::stream<tcp::socket&> tls{socket, ctx};
    tls.handshake(ssl::stream_base::server);
    const char* sni = SSL_get_servername(tls.native_handle(), TLSEXT_NAMETYPE_host_name);
    notes.update([&](server_notes& n) { n.sni = sni ? sni : ""; });
    websocket::stream<ssl::stream<tcp::socket&>&> ws{tls};
    f(ws, stopping);
  };
}

/// An io_context run by a thread of its own until destruction.
struct io_thread {
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ioc);
  std::thread thread{[this] { ioc.run(); }};

  ~io_thread() {
    ioc.stop();
    thread.join();
  }
};

class WsClient : public ::testing::Test {
 protected:
  void serve(script_server::script s) { server_.emplace(std::move(s), server_notes_); }

  void serve_plain(
      std::function<void(websocket::stream<tcp::socket&>&, const std::shared_future<void>&)> f) {
    server_.emplace(plain(std::move(f)), server_notes_);
  }

  std::string url(const std::string& scheme = "ws", const std::string& host = "127.0.0.1") {
    return scheme + "://" + host + ":" + std::to_string(server_->port()) + "/ws";
  }

  /// Opens a socket on the fixture's I/O thread, recording its events.
  void open(outbound_options opts) {
    auto note = [this](auto f) {
      return [this, f](auto value) {
        client_.update([&](client_notes& n) {
          if (!n.closed.empty()) n.after_close = true;
          f(n, std::move(value));
        });
      };
    };
    outbound_events events{
        .on_open = note([](client_notes& n, std::string p) { n.opened = std::move(p); }),
        .on_text = note([](client_notes& n, std::string t) { n.texts.push_back(std::move(t)); }),
        .on_written = note([](client_notes& n, std::uint64_t tag) { n.written.push_back(tag); }),
        .on_closed = note([](client_notes& n, outbound_result r) {
          n.closed.push_back(std::move(r));
          n.closed_on = std::this_thread::get_id();
        }),
    };
    socket_ = open_ws_client(io_.ioc, std::move(opts), std::move(events));
  }

  bool await_open(ms timeout = 10s) {
    return client_.await([](const client_notes& n) { return n.opened || !n.closed.empty(); },
                         timeout) &&
           client_.read([](const client_notes& n) { return n.opened.has_value(); });
  }

  /// The result on_closed reported; connection_lost with detail "no result"
  /// when none came within `timeout`.
  outbound_result await_closed(ms timeout = 10s) {
    if (!client_.await([](const client_notes& n) { return !n.closed.empty(); }, timeout))
      return {.kind = outbound_end::connection_lost, .detail = "no result"};
    return client_.read([](const client_notes& n) { return n.closed.front(); });
  }

  // Destroyed in reverse: the client's sockets close before the server
  // goes, so that the server's scripts see them end.
  watched<server_notes> server_notes_;
  std::optional<script_server> server_;
  watched<client_notes> client_;
  io_thread io_;
  outbound_socket_ptr socket_;
};

}  // namespace wsvisor::net::ws_client_testing
