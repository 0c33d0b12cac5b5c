// ws_client over wss:// (net/ws_client_impl.hpp says why on its own).
#include "net/ws_client_impl.hpp"

namespace wsvisor::net {

outbound_socket_ptr open_tls_ws_client(asio::io_context& ioc, ws_url url, outbound_options opts,
                                       outbound_events events, ssl::context& ctx) {
  auto socket = std::make_shared<ws_client<tls_stream>>(asio::make_strand(ioc), std::move(url),
                                                        std::move(opts), std::move(events), ctx);
  socket->start();
  return socket;
}

}  // namespace wsvisor::net
