#include "tests/support/tls_client.hpp"

#include <openssl/ssl.h>

#include <array>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

namespace wsvisor::test {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

struct tls_socket::impl {
  // Declared first, destroyed last: pending handlers die with it, after the stream.
  asio::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  std::optional<ssl::stream<tcp::socket>> stream;
  std::array<char, 4096> buf{};
  std::string received;      // every byte read inside TLS since connect
  bool reading = false;      // a read inside TLS is pending
  bool tls_ended = false;    // the server ended TLS (close_notify) or TCP
  bool tcp_ended = false;    // the server closed (or reset) TCP
  bool raw_reading = false;  // a read below TLS is pending

  template <class Done>
  bool run_until(Done done, ms timeout) {
    auto deadline = clock::now() + timeout;
    ioc.restart();
    while (!done())
      if (ioc.run_one_until(deadline) == 0) return done();
    return true;
  }

  // Reads inside TLS until the server ends it; what arrives goes to `received`.
  void read_tls() {
    if (reading || tls_ended || !stream) return;
    reading = true;
    stream->async_read_some(asio::buffer(buf), [this](error_code ec, std::size_t n) {
      reading = false;
      received.append(buf.data(), n);
      if (ec) {
        tls_ended = true;
        // eof: the server's close_notify, and TCP may stay open: watch it
        // (answering nothing). Anything else (a truncation, a reset) means
        // TCP is gone too.
        tcp_ended = ec != asio::error::eof;
        read_raw();
        return;
      }
      read_tls();
    });
  }

  // Reads below TLS, once TLS has ended, dropping what arrives, until TCP ends.
  void read_raw() {
    if (raw_reading || tcp_ended || !stream) return;
    raw_reading = true;
    stream->next_layer().async_read_some(asio::buffer(buf), [this](error_code ec, std::size_t) {
      raw_reading = false;
      if (ec) {
        tcp_ended = true;
        return;
      }
      read_raw();
    });
  }
};

tls_socket::tls_socket() : impl_(std::make_unique<impl>()) {}

tls_socket::~tls_socket() = default;

std::string tls_socket::connect(std::uint16_t port, const tls_client_options& opts, ms timeout) {
  auto& d = *impl_;
  error_code ec;
  d.ctx.set_verify_mode(ssl::verify_peer, ec);
  if (!ec) d.ctx.set_default_verify_paths(ec);
  if (!ec && !opts.ca_file.empty()) d.ctx.load_verify_file(opts.ca_file, ec);
  if (ec) return "context: " + ec.message();
  if (opts.max_version != 0) SSL_CTX_set_max_proto_version(d.ctx.native_handle(), opts.max_version);
  d.stream.emplace(d.ioc, d.ctx);
  d.stream->set_verify_callback(ssl::host_name_verification(opts.host));
  asio::ip::make_address(opts.host, ec);
  if (ec) SSL_set_tlsext_host_name(d.stream->native_handle(), opts.host.c_str());

  std::optional<std::string> result;
  d.stream->next_layer().async_connect(
      tcp::endpoint{asio::ip::make_address("127.0.0.1"), port}, [&](error_code ec) {
        if (ec) {
          result = "connect: " + ec.message();
          return;
        }
        d.stream->async_handshake(ssl::stream_base::client, [&](error_code ec) {
          result = ec ? "handshake: " + ec.message() : std::string{};
        });
      });
  if (!d.run_until([&] { return result.has_value(); }, timeout)) {
    // The handlers refer to this frame: end them before it goes.
    d.stream->next_layer().close(ec);
    d.run_until([&] { return result.has_value(); }, ms{1000});
    return "timed out";
  }
  return *result;
}

std::string tls_socket::version() const {
  if (!impl_->stream) return {};
  return SSL_get_version(impl_->stream->native_handle());
}

std::string tls_socket::write(std::string_view bytes, ms timeout) {
  auto& d = *impl_;
  if (!d.stream) return "not connected";
  std::optional<error_code> done;
  std::string data{bytes};
  asio::async_write(*d.stream, asio::buffer(data), [&](error_code ec, std::size_t) { done = ec; });
  if (!d.run_until([&] { return done.has_value(); }, timeout)) {
    error_code ignored;
    d.stream->next_layer().close(ignored);
    d.run_until([&] { return done.has_value(); }, ms{1000});
    return "write timed out";
  }
  return *done ? "write: " + done->message() : std::string{};
}

raw_exchange tls_socket::read(std::string_view until, ms timeout) {
  auto& d = *impl_;
  auto start = clock::now();
  d.read_tls();
  d.run_until(
      [&] {
        return d.tls_ended || (!until.empty() && d.received.find(until) != std::string::npos);
      },
      timeout);
  return {.received = d.received,
          .closed_by_server = d.tls_ended,
          .elapsed = std::chrono::duration_cast<ms>(clock::now() - start)};
}

bool tls_socket::upgrade(std::string_view target, std::string_view origin, ms timeout) {
  std::string req = "GET " + std::string{target} +
                    " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n";
  if (!origin.empty()) req += "Origin: " + std::string{origin} + "\r\n";
  req += "\r\n";
  if (!write(req, timeout).empty()) return false;
  auto head = read("\r\n\r\n", timeout).received;
  return head.starts_with("HTTP/1.1 101");
}

bool tls_socket::await_tcp_close(ms timeout) {
  auto& d = *impl_;
  if (!d.stream) return false;
  // Inside TLS first (the server's close frame and close_notify), then
  // below it: OpenSSL answers nothing by itself, so the server hears nothing.
  d.read_tls();
  return d.run_until([&] { return d.tcp_ended; }, timeout);
}

std::string masked_frame(unsigned opcode, std::string_view payload) {
  std::string frame;
  frame += static_cast<char>(0x80 | (opcode & 0x0f));
  if (payload.size() < 126) {
    frame += static_cast<char>(0x80 | payload.size());
  } else {
    frame += static_cast<char>(0x80 | 126);
    frame += static_cast<char>((payload.size() >> 8) & 0xff);
    frame += static_cast<char>(payload.size() & 0xff);
  }
  frame.append(4, '\0');  // the mask key: zero, so the payload goes as it is
  frame += payload;
  return frame;
}

http_reply https_get(std::uint16_t port, std::string_view target, const tls_client_options& opts,
                     std::chrono::milliseconds timeout) {
  http_reply reply;
  tls_socket s;
  if (auto err = s.connect(port, opts, timeout); !err.empty()) {
    reply.error = err;
    return reply;
  }
  auto req = "GET " + std::string{target} + " HTTP/1.1\r\nHost: " + opts.host +
             "\r\nConnection: close\r\n\r\n";
  if (auto err = s.write(req, timeout); !err.empty()) {
    reply.error = err;
    return reply;
  }
  return parse_http_reply(s.read({}, timeout).received);
}

}  // namespace wsvisor::test
