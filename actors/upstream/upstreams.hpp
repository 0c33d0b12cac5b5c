#pragma once

/// The upstreams actor: owner of every `[[upstream]]` link's channel, buffer
/// and state, and parent of the links' supervisor (docs/upstreams.md).
///
/// It spawns a supervisor (`upstream_links`, actors/supervision/supervisor.hpp) with one
/// child per upstream, the link actor (actors/upstream/upstream_link.hpp), under the
/// upstream's named policy, and observes it (supervisor_event): the
/// supervisor restarts a link that ended after the policy's backoff, gives it
/// up past the restart intensity, and escalates by ending, which ends this
/// actor with the same reason (its parent decides).
///
/// Channels: each upstream owns its `channel` (registered with the broker,
/// actors/session/broker.hpp). A client publish on it arrives as owner_publish_atom and
/// goes to the upstream only, as a text frame holding `data` (a string as its
/// content, any other value as JSON), in publish order. Its subscribers see
/// what the upstream sends. The answer (the client's ack) comes once the
/// forward is handed to the link or buffered; a given-up or stopped link,
/// or a down one whose `buffer` is 0, answers errc::upstream_down.
///
/// Buffer: forwards stay buffered until their write completed. While a link
/// is not up they wait, in order, at most `buffer` of them; past the bound
/// the oldest are dropped, counted and logged. A link that comes up gets
/// everything still buffered first, so a forward handed to a link that died
/// before writing it is sent again by the next one.
///
/// State: every change (connecting, up, down with reason and next attempt,
/// given_up, stopped, removed) is published on `sys.upstream.NAME` as a JSON
/// object (docs/upstreams.md) and logged. The state of each upstream marked
/// `required` also goes to `ready` (GET /readyz) as it changes.
///
/// Message interface (atoms and upstream_status in actors/messages.hpp):
/// - (owner_publish_atom, channel, shared_body) -> (std::uint64_t 0, std::string name) | error
/// - (owned_channels_atom) -> std::vector<std::string> channels
/// - (upstream_status_atom) -> std::vector<upstream_status>
/// - (add_upstream_atom, upstream_config) -> ok_atom | error
/// - (remove_upstream_atom, std::string name) -> ok_atom | error
/// - (update_upstream_atom, upstream_config) -> ok_atom | error
/// - (set_policies_atom, policy_map) -> ok_atom: new policy values, for new upstreams and
///   passed on to the links' supervisor (a reload)
/// - (get_tree_atom) -> supervision_tree of the links' supervisor
/// Registered as `upstreams_name` in sys.registry() while it runs.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/outbound.hpp"
#include "actors/readiness.hpp"
#include "config/config.hpp"
#include "metrics/node_metrics.hpp"

namespace wsvisor {

struct upstreams_options {
  std::vector<upstream_config> upstreams;               // started in this order
  std::map<std::string, policy> policies;               // named policies the upstreams refer to
  strategy_kind strategy = strategy_kind::one_for_one;  // of the links' supervisor
  outbound_dialer dial;                                 // opens the links' sockets
  std::uint64_t max_frame_bytes = 65536;                // largest frame accepted from an upstream
  std::uint64_t seed = 0;                               // backoff jitter seed; 0 = random
  duration shutdown_timeout{5000};                      // per link, when stopping it
  std::shared_ptr<readiness> ready;  // told each `required` upstream's state; may be null
  node_metrics_ptr metrics;  // link states, restarts, frames received (docs/metrics.md); null: none
};

/// Checks one upstream as add/update would (name, url, channel, policy);
/// returns what is wrong, or an empty string.
std::string validate_upstream(const upstream_config& u,
                              const std::map<std::string, policy>& policies);

caf::actor spawn_upstreams(caf::actor_system& sys, upstreams_options opts);

}  // namespace wsvisor
