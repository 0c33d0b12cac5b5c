#pragma once

/// POST /api/publish (docs/api.md): one short-lived actor per request.

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>

#include "metrics/node_metrics.hpp"
#include "net/http_server.hpp"

namespace wsvisor {

/// Asks the broker as a client's publish would, answers `reply`, and ends.
/// Spawn with (request, reply, metrics).
caf::behavior api_publish(caf::event_based_actor* self, net::publish_request req,
                          net::publish_reply reply, node_metrics_ptr metrics);

}  // namespace wsvisor
