#include "actors/cluster/messages.hpp"

#include <caf/actor_system_config.hpp>

#include "actors/session/messages.hpp"

namespace wsvisor {

void add_cluster_message_types(caf::actor_system_config& cfg) {
  add_session_message_types(cfg);
  cfg.add_message_type<cluster_member_info>("wsvisor::cluster_member_info");
}

}  // namespace wsvisor
