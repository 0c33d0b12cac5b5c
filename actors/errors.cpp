#include "actors/errors.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

namespace wsvisor {

caf::error make_error(errc code) {
  return caf::error{static_cast<std::uint8_t>(code), error_category};
}

caf::error make_error(errc code, std::string context) {
  return caf::error{static_cast<std::uint8_t>(code), error_category,
                    caf::make_message(std::move(context))};
}

std::string to_string(errc code) {
  switch (code) {
    case errc::supervisor_gave_up:
      return "supervisor_gave_up";
    case errc::duplicate_child:
      return "duplicate_child";
    case errc::unknown_policy:
      return "unknown_policy";
    case errc::unknown_child:
      return "unknown_child";
    case errc::invalid_child_spec:
      return "invalid_child_spec";
    case errc::child_start_failed:
      return "child_start_failed";
    case errc::shutting_down:
      return "shutting_down";
    case errc::child_not_running:
      return "child_not_running";
    case errc::session_expired:
      return "session_expired";
    case errc::resume_unknown:
      return "resume_unknown";
    case errc::resume_overflow:
      return "resume_overflow";
    case errc::upstream_down:
      return "upstream_down";
    case errc::upstream_failed:
      return "upstream_failed";
    case errc::invalid_upstream:
      return "invalid_upstream";
    case errc::peer_failed:
      return "peer_failed";
    case errc::duplicate_node:
      return "duplicate_node";
    case errc::server_full:
      return "server_full";
    case errc::auth_required:
      return "auth_required";
    case errc::too_many_channels:
      return "too_many_channels";
    case errc::too_many_members:
      return "too_many_members";
    case errc::unknown_session:
      return "unknown_session";
    case errc::not_attached:
      return "not_attached";
    case errc::session_parked:
      return "session_parked";
    case errc::session_unreachable:
      return "session_unreachable";
    case errc::session_moved:
      return "session_moved";
  }
  return "errc(" + std::to_string(static_cast<int>(code)) + ")";
}

void add_error_category(caf::actor_system_config& cfg) {
  // CAF 0.17's templated add_error_category<T> passes a two-argument lambda
  // where a three-argument renderer is required and does not compile, so the
  // renderer is spelled out here.
  cfg.add_error_category(error_category,
                         [](std::uint8_t code, caf::atom_value, const caf::message& context) {
                           std::string out = "wsvisor: ";
                           out += to_string(static_cast<errc>(code));
                           if (context.size() == 1 && context.match_element<std::string>(0)) {
                             out += " (";
                             out += context.get_as<std::string>(0);
                             out += ')';
                           } else if (!context.empty()) {
                             out += ' ';
                             out += to_string(context);
                           }
                           return out;
                         });
}

std::string context_of(const caf::error& err) {
  const auto& context = err.context();
  if (context.size() == 1 && context.match_element<std::string>(0))
    return context.get_as<std::string>(0);
  return {};
}

std::string describe(const caf::actor_system& sys, const caf::error& err) {
  if (!err) return "normal";
  return sys.render(err);
}

}  // namespace wsvisor
