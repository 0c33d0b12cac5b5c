// open_ws_client, and ws_client over ws:// (net/ws_client_impl.hpp says why
// wss:// is in ws_client_tls.cpp).
#include "net/ws_client_impl.hpp"

namespace wsvisor::net {

namespace {

outbound_socket_ptr unopened(asio::io_context& ioc, outbound_result result,
                             outbound_events events) {
  auto socket = std::make_shared<unopened_socket>(ioc);
  socket->start(std::move(result), std::move(events));
  return socket;
}

}  // namespace

outbound_socket_ptr open_ws_client(asio::io_context& ioc, outbound_options opts,
                                   outbound_events events) {
  std::string error;
  auto url = parse_ws_url(opts.url, error);
  if (!url) return unopened(ioc, ending(outbound_end::bad_url, error), std::move(events));
  if (!url->tls) {
    auto socket = std::make_shared<ws_client<plain_stream>>(asio::make_strand(ioc), std::move(*url),
                                                            std::move(opts), std::move(events));
    socket->start();
    return socket;
  }
  auto ctx = make_client_tls_context(opts.ca_file, error);
  if (!ctx) return unopened(ioc, ending(outbound_end::tls_failed, error), std::move(events));
  // The SSL object holds a reference on the context: it may go with this scope.
  return open_tls_ws_client(ioc, std::move(*url), std::move(opts), std::move(events), *ctx);
}

}  // namespace wsvisor::net
