#pragma once

/// How a node reaches its peers (docs/cluster.md, "Membership"): a peer link
/// per configured address, supervised by the cluster actor's links
/// supervisor, and the contact actor each node publishes on `[cluster]
/// listen` for its peers' links to find.

#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "config/config.hpp"

namespace wsvisor {

struct peer_link_args {
  std::string address;  // host:port, as configured
  caf::actor cluster;   // this node's cluster actor, which the link joins to the peer's
  duration timeout;     // bound on each request to the peer
};

/// One peer link: connect, find the peer's cluster actor, have ours join it,
/// then live as long as the peer does (it quits with errc::peer_failed when
/// any step fails or the peer is lost).
caf::actor spawn_peer_link(caf::actor_system& sys, peer_link_args args);

/// Spawns the contact actor to publish on the middleman: it answers
/// (cluster_hello_atom) with the cluster actor registered at that moment, so a
/// restarted cluster actor is found without publishing again.
caf::actor spawn_cluster_contact(caf::actor_system& sys);

}  // namespace wsvisor
