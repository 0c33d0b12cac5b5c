#include "net/http_connection.hpp"

#include <boost/asio/ssl/context.hpp>

namespace wsvisor::net {

void serve_http(boost::asio::io_context& ioc, boost::asio::ip::tcp::socket&& socket,
                std::shared_ptr<const http_options> opts, std::shared_ptr<ws_slots> slots,
                bool loopback, const std::shared_ptr<boost::asio::ssl::context>& tls) {
  if (tls)
    serve_tls_http(ioc, std::move(socket), std::move(opts), std::move(slots), loopback, *tls);
  else
    serve_plain_http(ioc, std::move(socket), std::move(opts), std::move(slots), loopback);
}

}  // namespace wsvisor::net
