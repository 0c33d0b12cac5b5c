#pragma once

/// How the node's parts are put together: the root supervisor's children, the
/// connections' settings, the cluster's contact actor.

#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/outbound.hpp"
#include "actors/readiness.hpp"
#include "actors/session/connection.hpp"
#include "actors/supervision/supervisor.hpp"
#include "app/reload.hpp"
#include "config/config.hpp"
#include "metrics/node_metrics.hpp"

namespace wsvisor {

/// The root supervisor's children, in start order: the session registry
/// (which owns its broker), then the upstreams actor, which owns the upstream
/// links' supervisor (actors/upstream/upstreams.hpp), then on a cluster node
/// the cluster actor. The registry and the upstreams actor start from
/// `current` (what a reload last applied), so that a restart does not bring
/// back settings a reload replaced.
std::vector<child_spec> root_children(const config& cfg, const outbound_dialer& dial,
                                      std::shared_ptr<const snapshot<config>> current,
                                      const std::shared_ptr<readiness>& ready,
                                      const node_metrics_ptr& metrics);

/// `o` with the session settings and per-connection limits of `cfg`, and a
/// fresh handshake gate when `new_gate`: at start, and on a reload for the
/// connections accepted from then on.
connection_options with_limits(connection_options o, const config& cfg, bool new_gate);

/// `cfg` with `[cluster] node` defaulted to the host name.
config with_node_name(config cfg);

/// Publishes the cluster contact on `[cluster] listen` into `contact`; empty on
/// success, else what failed.
std::string publish_contact(caf::actor_system& sys, const cluster_config& c, caf::actor& contact);

}  // namespace wsvisor
