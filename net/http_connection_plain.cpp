// http_connection over plain TCP (net/http_connection_impl.hpp says why on its own).
#include "net/http_connection_impl.hpp"

namespace wsvisor::net {

void serve_plain_http(asio::io_context& ioc, tcp::socket&& socket,
                      std::shared_ptr<const http_options> opts, std::shared_ptr<ws_slots> slots,
                      bool loopback) {
  std::make_shared<http_connection<ws_tcp_stream>>(ioc, std::move(opts), std::move(slots), loopback,
                                                   std::move(socket))
      ->run();
}

}  // namespace wsvisor::net
