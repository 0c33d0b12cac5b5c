#include "actors/supervision/messages.hpp"
#include "actors/messages.hpp"

#include <caf/actor_system_config.hpp>

namespace wsvisor {

std::string to_string(child_state x) {
  switch (x) {
    case child_state::running:
      return "running";
    case child_state::restarting:
      return "restarting";
    case child_state::stopped:
      return "stopped";
    case child_state::given_up:
      return "given_up";
  }
  return "child_state(" + std::to_string(static_cast<int>(x)) + ")";
}

std::string to_string(supervisor_event_kind x) {
  switch (x) {
    case supervisor_event_kind::started:
      return "started";
    case supervisor_event_kind::exited:
      return "exited";
    case supervisor_event_kind::restart_scheduled:
      return "restart_scheduled";
    case supervisor_event_kind::restarted:
      return "restarted";
    case supervisor_event_kind::given_up:
      return "given_up";
    case supervisor_event_kind::stopped:
      return "stopped";
  }
  return "supervisor_event_kind(" + std::to_string(static_cast<int>(x)) + ")";
}

void add_supervision_message_types(caf::actor_system_config& cfg) {
  add_core_message_types(cfg);
  // add_message_type<T> also registers std::vector<T>; registering twice is harmless.
  cfg.add_message_type<child_info>("wsvisor::child_info");
  cfg.add_message_type<supervision_tree>("wsvisor::supervision_tree");
  cfg.add_message_type<supervisor_event>("wsvisor::supervisor_event");
}

}  // namespace wsvisor
