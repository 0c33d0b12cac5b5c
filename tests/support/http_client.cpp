#include "tests/support/http_client.hpp"

#include <cctype>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace wsvisor::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

http::request<http::string_body> make_request(const http_call& call, bool keep_alive) {
  http::request<http::string_body> req{http::string_to_verb(call.method), call.target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(keep_alive);
  req.body() = call.body;
  if (!call.body.empty()) req.prepare_payload();
  for (const auto& [name, value] : call.headers) req.set(name, value);
  return req;
}

void fill_reply(http_reply& reply, const http::response<http::string_body>& res) {
  reply.status = static_cast<int>(res.result_int());
  reply.body = res.body();
  reply.content_type = std::string{res[http::field::content_type]};
  reply.keep_alive = res.keep_alive();
  for (const auto& field : res)
    reply.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
}

}  // namespace

std::string http_reply::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return v;
  return {};
}

struct http_session::impl {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  std::string error;  // set once the connection failed; every later send fails with it
};

http_session::http_session(std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>()) {
  impl_->stream.expires_after(timeout);
  impl_->stream.async_connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port},
                              [this](beast::error_code ec) {
                                if (ec) impl_->error = "connect: " + ec.message();
                              });
  impl_->ioc.run_for(timeout + std::chrono::seconds{1});
}

http_session::~http_session() = default;

http_reply http_session::send(const http_call& call, std::chrono::milliseconds timeout) {
  http_reply reply;
  if (!impl_->error.empty()) {
    reply.error = impl_->error;
    return reply;
  }
  auto req = make_request(call, true);
  http::response<http::string_body> res;
  auto& s = *impl_;
  s.stream.expires_after(timeout);
  http::async_write(s.stream, req, [&](beast::error_code ec, std::size_t) {
    if (ec) {
      reply.error = "write: " + ec.message();
      return;
    }
    http::async_read(s.stream, s.buffer, res, [&](beast::error_code ec, std::size_t) {
      if (ec) reply.error = "read: " + ec.message();
    });
  });
  s.ioc.restart();
  s.ioc.run_for(timeout + std::chrono::seconds{1});
  if (reply.error.empty() && res.result_int() == 0) reply.error = "no response";
  if (!reply.error.empty()) {
    s.error = reply.error;
    return reply;
  }
  fill_reply(reply, res);
  return reply;
}

http_reply http_send(std::uint16_t port, const http_call& call, std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  auto req = make_request(call, false);
  // The answer to HEAD has a length but no body: the parser must not wait for it.
  http::response_parser<http::string_body> parser;
  if (req.method() == http::verb::head) parser.skip(true);
  http_reply reply;
  stream.expires_after(timeout);
  stream.async_connect(
      tcp::endpoint{asio::ip::make_address("127.0.0.1"), port}, [&](beast::error_code ec) {
        if (ec) {
          reply.error = "connect: " + ec.message();
          return;
        }
        http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
          if (ec) {
            reply.error = "write: " + ec.message();
            return;
          }
          http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
            if (ec) reply.error = "read: " + ec.message();
          });
        });
      });
  ioc.run_for(timeout + std::chrono::seconds{1});
  const auto& res = parser.get();
  if (reply.error.empty() && res.result_int() == 0) reply.error = "no response";
  if (reply.error.empty()) fill_reply(reply, res);
  return reply;
}

http_reply parse_http_reply(std::string_view bytes) {
  http_reply reply;
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  beast::error_code ec;
  parser.put(asio::buffer(bytes.data(), bytes.size()), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done())
    reply.error = "no complete response" + (ec ? ": " + ec.message() : std::string{});
  else
    fill_reply(reply, parser.get());
  return reply;
}

http_reply http_request(std::uint16_t port, std::string_view method, std::string_view target,
                        std::chrono::milliseconds timeout) {
  return http_send(port, {.method = std::string{method}, .target = std::string{target}}, timeout);
}

raw_exchange send_raw(std::uint16_t port, std::string_view bytes, std::chrono::milliseconds timeout,
                      std::string_view until) {
  asio::io_context ioc;
  tcp::socket socket{ioc};
  raw_exchange result;
  socket.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port});
  asio::write(socket, asio::buffer(bytes.data(), bytes.size()));
  auto sent_at = std::chrono::steady_clock::now();
  std::array<char, 4096> buf;
  std::function<void()> read_more = [&] {
    socket.async_read_some(asio::buffer(buf), [&](beast::error_code ec, std::size_t n) {
      result.received.append(buf.data(), n);
      if (ec) {
        result.closed_by_server = ec != asio::error::operation_aborted;
        result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - sent_at);
        return;
      }
      if (!until.empty() && result.received.find(until) != std::string::npos) {
        result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - sent_at);
        return ioc.stop();
      }
      read_more();
    });
  };
  read_more();
  ioc.run_for(timeout);
  if (!result.closed_by_server)
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - sent_at);
  return result;
}

}  // namespace wsvisor::test
