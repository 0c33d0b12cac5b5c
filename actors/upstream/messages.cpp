#include "actors/upstream/messages.hpp"

#include <caf/actor_system_config.hpp>

#include "actors/session/messages.hpp"

namespace wsvisor {

void add_upstream_message_types(caf::actor_system_config& cfg) {
  add_session_message_types(cfg);
  cfg.add_message_type<upstream_status>("wsvisor::upstream_status");
}

}  // namespace wsvisor
