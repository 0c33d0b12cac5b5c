#include "actors/messages.hpp"

#include <caf/actor_system_config.hpp>

namespace wsvisor {

void add_core_message_types(caf::actor_system_config& cfg) { add_error_category(cfg); }

}  // namespace wsvisor
