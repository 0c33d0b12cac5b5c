#pragma once

/// The cluster's own protocol (actors/cluster/cluster.hpp): how peers find,
/// join and leave each other, what they report to the admin API, and the
/// lookups they forward. What the cluster and the session server say to each
/// other is in actors/session/cluster_seam.hpp.
///
/// Every type below is made of atoms, strings, integers, vectors of strings
/// and actor handles, which CAF serialises without registration (but
/// cluster_member_info, registered by add_cluster_message_types); the
/// cluster tests send each across two real nodes.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"

namespace wsvisor {

/// Registers the types below (and the session server's and core's) on `cfg`.
void add_cluster_message_types(caf::actor_system_config& cfg);

/// (cluster_hello_atom) -> caf::actor: asked of a node's published contact actor,
/// which answers with that node's running cluster actor.
using cluster_hello_atom = caf::atom_constant<caf::atom("cl_hello")>;

/// (cluster_link_atom, caf::actor remote_cluster, std::string address) -> std::string peer name: a
/// peer link -> its cluster actor: the link to the configured `address` reached
/// `remote_cluster`; join it.
using cluster_link_atom = caf::atom_constant<caf::atom("cl_link")>;

/// (cluster_join_atom, std::string node, caf::actor cluster, std::string public_url,
/// std::string address, std::vector<std::string> interest, received_marks received) ->
/// (std::string node, std::string public_url, std::string address, std::vector<std::string>
/// interest, received_marks received): cluster <-> cluster, each side learns the other's name,
/// URL, middleman address (`[cluster] listen`), channels with subscribers and what it received
/// from each broker (so that a peer that was lost is sent what it missed). Errors:
/// errc::duplicate_node.
using cluster_join_atom = caf::atom_constant<caf::atom("cl_join")>;

/// (cluster_leave_atom, std::string node): cluster -> every peer's cluster, this node stops on
/// purpose (drain, shutdown); its cluster actor's down that follows is a leave, not a loss.
using cluster_leave_atom = caf::atom_constant<caf::atom("cl_leave")>;

/// (cluster_status_atom) -> std::vector<cluster_member_info>: the cluster's view of its members
/// (GET /api/cluster, and the peers a cluster-wide admin question goes to).
using cluster_status_atom = caf::atom_constant<caf::atom("cl_status")>;

/// (cluster_admin_atom, std::uint8_t kind, std::string after, std::uint64_t limit, std::string
/// state)
/// -> (std::uint16_t status, std::string body): a node's admin -> a peer's cluster -> its admin
/// responder (admin_name): that node's own answer to a paged admin list (`kind` is a
/// net::admin_request::kind: list_sessions or channels), as its HTTP status and JSON body.
using cluster_admin_atom = caf::atom_constant<caf::atom("cl_admin")>;

/// (cluster_members_atom) -> std::vector<std::string>: the peers joined now, by node name.
using cluster_members_atom = caf::atom_constant<caf::atom("cl_members")>;

/// One node of the cluster as this node sees it (cluster_status_atom).
struct cluster_member_info {
  std::string node;               // its `[cluster] node`; empty for a configured peer never joined
  std::string address;            // its middleman address: as it announced it, or as configured
  std::string public_url;         // its `[cluster] public_url`
  std::string state;              // "up", "down" (lost), "left" (stopped on purpose), "connecting"
  std::int64_t since_ms = 0;      // in this state since (Unix ms); 0: never joined
  std::int64_t last_seen_ms = 0;  // up: now; otherwise when it was last up (0: never)
  std::string caf_node;   // the CAF node id of its process (to_string); empty if never joined
  caf::actor_addr actor;  // up: its cluster actor; otherwise null
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_member_info& x) {
  return f(caf::meta::type_name("cluster_member_info"), x.node, x.address, x.public_url, x.state,
           x.since_ms, x.last_seen_ms, x.caf_node, x.actor);
}

}  // namespace wsvisor
