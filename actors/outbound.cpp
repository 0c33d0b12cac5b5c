#include "actors/outbound.hpp"

namespace wsvisor {

std::string to_string(outbound_end kind) {
  switch (kind) {
    case outbound_end::bad_url:
      return "bad_url";
    case outbound_end::resolve_failed:
      return "resolve_failed";
    case outbound_end::connect_failed:
      return "connect_failed";
    case outbound_end::tls_failed:
      return "tls_failed";
    case outbound_end::handshake_failed:
      return "handshake_failed";
    case outbound_end::connect_timeout:
      return "connect_timeout";
    case outbound_end::heartbeat_timeout:
      return "heartbeat_timeout";
    case outbound_end::closed_by_peer:
      return "closed_by_peer";
    case outbound_end::connection_lost:
      return "connection_lost";
    case outbound_end::write_overflow:
      return "write_overflow";
    case outbound_end::closed:
      return "closed";
  }
  return "unknown";
}

std::string describe(const outbound_result& r) {
  auto text = to_string(r.kind);
  if (r.kind == outbound_end::closed_by_peer) text += ": close " + std::to_string(r.close_code);
  if (r.kind == outbound_end::handshake_failed && r.http_status != 0)
    text += ": HTTP " + std::to_string(r.http_status);
  if (!r.detail.empty()) text += (text.find(':') == std::string::npos ? ": " : ", ") + r.detail;
  return text;
}

}  // namespace wsvisor
