#include "client/ws_link.hpp"

#include <utility>

#include <caf/send.hpp>

#include "actors/outbound.hpp"
#include "client/errors.hpp"
#include "client/messages.hpp"
#include "net/ws_client.hpp"

namespace wsvisor::detail {

namespace {

constexpr const char* subprotocol = "wsvisor.v1";

// The client's view of how a socket ended: what went wrong for the user of
// the client, not which step of the attempt failed.
std::pair<client_errc, std::string> translate(const outbound_result& r) {
  switch (r.kind) {
    case outbound_end::bad_url:
    case outbound_end::resolve_failed:
    case outbound_end::connect_failed:
    case outbound_end::tls_failed:
    case outbound_end::connect_timeout:
      return {client_errc::connect_failed, r.detail};
    case outbound_end::handshake_failed:
      if (r.http_status == 0) return {client_errc::handshake_failed, r.detail};
      return {client_errc::handshake_failed,
              r.detail + " (HTTP " + std::to_string(r.http_status) + ")"};
    case outbound_end::closed_by_peer:
      return {client_errc::closed_by_server,
              "close " + std::to_string(r.close_code) + (r.detail.empty() ? "" : " " + r.detail)};
    case outbound_end::closed:
      return {client_errc::closed_by_client, r.detail};
    case outbound_end::write_overflow:
      return {client_errc::write_overflow, r.detail};
    case outbound_end::heartbeat_timeout:  // off at socket level: the client's heartbeat rules
    case outbound_end::connection_lost:
      break;
  }
  return {client_errc::connection_lost, r.detail};
}

class ws_link_impl final : public ws_link {
 public:
  explicit ws_link_impl(outbound_socket_ptr socket) : socket_(std::move(socket)) {}

  void send(std::string text) override { socket_->send(std::move(text), 0); }
  void close() override { socket_->close(); }
  void abort() override { socket_->abort(); }

 private:
  outbound_socket_ptr socket_;
};

}  // namespace

std::shared_ptr<ws_link> open_ws_link(boost::asio::io_context& ioc, ws_link_params p) {
  outbound_options opts{
      .url = std::move(p.url),
      .subprotocols = {subprotocol},
      // A server that ignores the subprotocol is not a wsvisor.v1 server (or a
      // proxy mangled the upgrade): fail loudly instead of speaking past it.
      .require_subprotocol = true,
      .user_agent = "wsvisor-client",
      .connect_timeout = p.connect_timeout,
      // Liveness is the client actor's business (heartbeat_ms + grace on any
      // frame); the socket's own heartbeat stays off so that there is one
      // definition.
      .heartbeat_timeout = duration{0},
      .max_frame_bytes = p.max_frame_bytes,
      .max_queued_bytes = p.max_queued_bytes,
      .ca_file = std::move(p.ca_file),
  };
  outbound_events events{
      .on_open = [client = p.client,
                  id = p.id](std::string) { caf::anon_send(client, client_open_atom::value, id); },
      .on_text =
          [client = p.client, id = p.id](std::string text) {
            caf::anon_send(client, client_frame_atom::value, id, std::move(text));
          },
      .on_closed =
          [link = p.link](outbound_result r) {
            auto [code, detail] = translate(r);
            caf::anon_send(link, client_closed_atom::value, static_cast<std::uint8_t>(code),
                           std::move(detail));
          },
  };
  return std::make_shared<ws_link_impl>(
      net::open_ws_client(ioc, std::move(opts), std::move(events)));
}

}  // namespace wsvisor::detail
