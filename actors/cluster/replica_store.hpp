#pragma once

/// A node's replica store (docs/cluster.md, "Replicas"): it keeps the
/// replicas of sessions whose home is a peer, and it places this node's own
/// sessions' replicas on peers' stores.
///
/// - Placement (replica_place_atom): a session asks its node's store, which
///   answers with the store of the peer that rendezvous hashing of the session
///   id over the joined peers' names picks (null while no peer is up). The
///   cluster actor tells the store of each member that comes or goes
///   (replica_member_atom); the store asks each new peer's cluster for that
///   node's store (replica_where_atom).
/// - Keeping: the home's session puts its whole state (replica_put_atom) and
///   then sends what changed (replica_update_atom), both to its own node's
///   store, which sends them on to the replica's store in batches
///   (replica_batch_atom: at most two in flight per peer, what comes meanwhile
///   waits for the next, so that under load one message carries many
///   sessions' updates). The replica's store subscribes at its
///   own broker to every channel of its records, so that it receives what the
///   home receives, and answers a put or an update only once those
///   subscriptions are confirmed cluster-wide.
/// - Adopting: when a member is lost (not when it leaves on purpose), every
///   record homed there becomes a session on this node, through the registry's
///   adopt path (adopt_session_atom, the store in the predecessor's place),
///   with the next epoch; once it is subscribed, the deliveries the store kept
///   above the record's marks follow (handoff_delivery_atom), then
///   handoff_done_atom. The adopted session places its own replica.
///
/// Registered as `replica_store_name`; spawned on cluster nodes with
/// `[cluster] replicas = 1`.

#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "config/config.hpp"
#include "metrics/node_metrics.hpp"

namespace wsvisor {

struct replica_store_options {
  std::string node;              // this node's name
  session_config session;        // replay bounds: each record's, and each channel's kept deliveries
  duration peer_timeout{5'000};  // bound on asking a peer for its store, and on an adoption
  node_metrics_ptr metrics;      // wsvisor_session_replicas, adoptions; null: none
};

/// Spawns the store and registers it as `replica_store_name`.
caf::actor spawn_replica_store(caf::actor_system& sys, replica_store_options opts);

}  // namespace wsvisor
