#include "actors/session/messages.hpp"

#include <caf/actor_system_config.hpp>

#include "actors/session/cluster_seam.hpp"
#include "actors/supervision/messages.hpp"

namespace wsvisor {

void add_session_message_types(caf::actor_system_config& cfg) {
  add_supervision_message_types(cfg);
  cfg.add_message_type<client_identity>("wsvisor::client_identity");
  cfg.add_message_type<session_handover>("wsvisor::session_handover");
  cfg.add_message_type<replica_update>("wsvisor::replica_update");
  cfg.add_message_type<replica_batch>("wsvisor::replica_batch");
  cfg.add_message_type<cluster_publishes>("wsvisor::cluster_publishes");
  cfg.add_message_type<received_marks>("wsvisor::received_marks");
  cfg.add_message_type<session_info>("wsvisor::session_info");
  cfg.add_message_type<channel_info>("wsvisor::channel_info");
}

}  // namespace wsvisor
