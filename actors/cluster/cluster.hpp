#pragma once

/// The cluster: one actor per node that knows the other nodes (its peers),
/// carries channel interest between them, and finds sessions held elsewhere.
/// docs/cluster.md describes what crosses nodes and what survives what.
///
/// Membership. Each node publishes a small *contact* actor on `[cluster]
/// listen` (spawn_cluster_contact; app/node publishes it through the
/// middleman). The cluster actor runs a supervisor, `cluster_links`, with one
/// *peer link* per address in `[cluster] peers`, under the policy named by
/// `[cluster] policy`. A link connects through the middleman asynchronously
/// (its connect request, never the blocking remote_actor), asks the contact
/// for the peer's cluster actor and hands it to its own cluster actor, which
/// joins it (cluster_join_atom: names, public URLs and current interest are
/// exchanged both ways). The link then monitors the peer and lives exactly as
/// long as it: a lost peer (killed, frozen past the middleman's connection
/// timeout, unreachable) ends the link with errc::peer_failed, and the
/// supervisor retries it with the policy's backoff until the peer returns.
/// A node that is joined from the other side only (it has no link to us) is a
/// member all the same; its own link brings it back.
///
/// Members are keyed by node name and monitored. A member's end is logged
/// ("peer down", with the reason), counted, and its interest forgotten.
///
/// Channels. The local broker tells the cluster when a channel gets its first
/// subscriber (a request: answered once every member has acknowledged, so a
/// client's `subscribed` means publishes anywhere reach it) and when it loses
/// its last. Members' interest is pushed into the broker (peer_interest_atom),
/// which forwards each publish on a channel once to each interested member's
/// cluster actor (cluster_publish_atom); that hands it to its own broker for local
/// delivery only (peer_publish_atom). One TCP connection per pair of nodes
/// carries them in order, so each publisher's order holds on every node.
///
/// Sessions. (cluster_find_atom, id, token) asks every member's registry
/// (cluster_lookup_atom) for a session this node does not hold; the first live one
/// found is the answer.
///
/// Message interface: the cluster section of actors/messages.hpp.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/cluster/peer_link.hpp"
#include "actors/readiness.hpp"
#include "config/config.hpp"
#include "metrics/node_metrics.hpp"

namespace wsvisor {

struct cluster_options {
  std::string node;                                 // this node's unique name
  std::string public_url;                           // this node's WebSocket URL for clients
  std::string listen;                               // this node's middleman address, told to peers
  std::vector<std::string> peers;                   // host:port of peers' middleman
  std::map<std::string, wsvisor::policy> policies;  // named policies
  std::string policy = "cluster";                   // the peer links' policy
  duration peer_timeout{5'000};                     // bound on each request to a peer
  node_metrics_ptr metrics;          // peers, losses, publishes received (docs/metrics.md)
  std::shared_ptr<readiness> ready;  // told how many peers are up; may be null
};

/// Spawns the cluster actor and its peer links; registers it as `cluster_name`.
caf::actor spawn_cluster(caf::actor_system& sys, cluster_options opts);

/// spawn_cluster_contact: actors/cluster/peer_link.hpp.

/// The node-name prefix of a session id made on a cluster node ("a" for
/// "a.3f…"), or empty for an id without one.
std::string home_node_of(const std::string& session_id);

}  // namespace wsvisor
