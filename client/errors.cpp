#include "client/errors.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

#include "actors/errors.hpp"
#include "actors/supervision/messages.hpp"

namespace wsvisor {
namespace {

std::string render(std::uint8_t code, const caf::message& context) {
  std::string out = to_string(static_cast<client_errc>(code));
  if (context.size() == 1 && context.match_element<std::string>(0)) {
    const auto& text = context.get_as<std::string>(0);
    if (!text.empty()) {
      out += ": ";
      out += text;
    }
  } else if (!context.empty()) {
    out += ' ';
    out += to_string(context);
  }
  return out;
}

}  // namespace

caf::error make_error(client_errc code, std::string context) {
  return caf::error{static_cast<std::uint8_t>(code), client_error_category,
                    caf::make_message(std::move(context))};
}

std::string to_string(client_errc code) {
  switch (code) {
    case client_errc::connect_failed:
      return "connect_failed";
    case client_errc::handshake_failed:
      return "handshake_failed";
    case client_errc::connection_lost:
      return "connection_lost";
    case client_errc::closed_by_server:
      return "closed_by_server";
    case client_errc::heartbeat_timeout:
      return "heartbeat_timeout";
    case client_errc::goaway:
      return "goaway";
    case client_errc::protocol_violation:
      return "protocol_violation";
    case client_errc::server_error:
      return "server_error";
    case client_errc::write_overflow:
      return "write_overflow";
    case client_errc::closed_by_client:
      return "closed_by_client";
  }
  return "client_errc(" + std::to_string(static_cast<int>(code)) + ")";
}

void add_client_types(caf::actor_system_config& cfg) {
  add_supervision_message_types(cfg);
  cfg.add_error_category(client_error_category,
                         [](std::uint8_t code, caf::atom_value, const caf::message& context) {
                           return "wsclient: " + render(code, context);
                         });
}

std::string describe_link_exit(const caf::actor_system& sys, const caf::error& reason) {
  // Rendered here rather than through sys.render so that the caller gets a
  // readable reason even when add_client_types was not called.
  if (reason.category() == client_error_category) return render(reason.code(), reason.context());
  return describe(sys, reason);
}

}  // namespace wsvisor
