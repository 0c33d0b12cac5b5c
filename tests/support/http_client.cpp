#include "tests/support/http_client.hpp"

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

http_reply http_request(std::uint16_t port, std::string_view method, std::string_view target,
                        std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  http::request<http::empty_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(false);
  http::response<http::string_body> res;
  http_reply reply;
  stream.expires_after(timeout);
  stream.async_connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port},
                       [&](beast::error_code ec) {
                         if (ec) {
                           reply.error = "connect: " + ec.message();
                           return;
                         }
                         http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
                           if (ec) {
                             reply.error = "write: " + ec.message();
                             return;
                           }
                           http::async_read(stream, buffer, res,
                                            [&](beast::error_code ec, std::size_t) {
                                              if (ec) reply.error = "read: " + ec.message();
                                            });
                         });
                       });
  ioc.run_for(timeout + std::chrono::seconds{1});
  if (reply.error.empty() && res.result_int() == 0) reply.error = "no response";
  if (reply.error.empty()) {
    reply.status = static_cast<int>(res.result_int());
    reply.body = res.body();
    reply.content_type = std::string{res[http::field::content_type]};
  }
  return reply;
}

raw_exchange send_raw(std::uint16_t port, std::string_view bytes, std::chrono::milliseconds timeout) {
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
