// http_connection over TLS (net/http_connection_impl.hpp says why on its own).
#include "net/http_connection_impl.hpp"

namespace wsvisor::net {

void serve_tls_http(asio::io_context& ioc, tcp::socket&& socket,
                    std::shared_ptr<const http_options> opts, std::shared_ptr<ws_slots> slots,
                    bool loopback, ssl::context& tls) {
  std::make_shared<http_connection<tls_tcp_stream>>(ioc, std::move(opts), std::move(slots),
                                                    loopback, std::move(socket), tls)
      ->run();
}

}  // namespace wsvisor::net
