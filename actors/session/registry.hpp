#pragma once

/// The session registry: the only owner of session id -> session actor.
///
/// `hello` makes a new session; `resume` finds the session and asks it (the
/// token is checked by the session, in constant time). Whenever a resume
/// fails, a new session is made and welcomed with resumed:false and the
/// reason: `expired` (the id is among the recently expired and the token is
/// right), `overflow` (the session could not replay what the client lacks) or
/// `unknown` (anything else: no such id, wrong token, last_seq in the future —
/// the cases are not told apart and a wrong token leaves the session alone).
///
/// `spawn_registry` spawns the registry's own broker with it; the registry
/// links to the broker before it handles any message (shared fate: a registry
/// without its broker, or the reverse, is useless). Both are put in CAF's actor
/// registry under `session_registry_name` and `broker_name`
/// (actors/messages.hpp) before `spawn_registry` returns, and the registry
/// erases both when it ends.
/// Connections look the registry up there on every hello/resume, so a
/// restarted registry is found by new connections. Sessions are linked to the
/// registry (they end with it) and monitored (it forgets ended ones). Exits
/// are trapped: a session's end never takes the registry down; its parent's
/// exit signal or its broker's end does, with that reason.
///
/// A detached session *parks*: its actor ends and the registry keeps its
/// record (actors/session/parked_session.hpp), subscribed at the broker in its place,
/// appends the deliveries on its channels, and expires it with one timer for
/// all records. A resume that the record can refuse (token, last_seq,
/// overflow) is refused without an actor; any other operation on it (resume,
/// cluster_lookup, handover, end) spawns the session again and moves the record
/// there first (actors/session/registry_state.hpp has the states).
///
/// Message interface (atoms in actors/messages.hpp):
/// - (hello_atom, caf::actor connection, transport_ptr, client_identity) -> caf::actor session
///   | errc::server_full | errc::auth_required
/// - (resume_atom, caf::actor connection, transport_ptr, std::string session,
///   std::string token, std::uint64_t last_seq, client_identity) -> caf::actor session
///   | errc::server_full | errc::auth_required (only when a new session would start)
///   Either way the session has already written `welcome` (and, for a
///   successful resume, the replay) to the transport when the reply arrives;
///   for a new session the reply comes from the session itself.
/// - (registry_settings_atom, registry_settings) -> ok_atom: a reload's session config and limits,
///   for sessions made from now on (limits.channels goes on to the broker); sessions alive keep
///   theirs. limits.sessions applies to the next new session.
/// - (registry_stats_atom) -> std::uint64_t sessions alive (parked ones included)
/// - (parked_count_atom) -> std::uint64_t sessions parked now
/// - (cluster_lookup_atom, std::string session, std::string token) -> caf::actor |
///   errc::session_expired | errc::resume_unknown: a peer's cluster looks for
///   one of our sessions (the token is checked by the session on attach, and by
///   the registry before it unparks one).
/// - (admin_list_atom, std::string after, std::uint64_t limit) -> (ids, sessions, more):
///   the admin API's page of this node's sessions, by id (null actor: parked).
/// - (admin_info_atom | admin_end_atom | admin_cut_atom, std::string id) -> as the session
///   answers, or from the record of a parked one | errc::unknown_session.
/// - from the broker and its sessions: parked_moved_atom, parked_atom, deliver_atom (parking).
/// Never blocks; every request it makes (to a session, the broker, the cluster) has an
/// error handler.

#include <cstddef>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "config/config.hpp"
#include "metrics/node_metrics.hpp"

namespace wsvisor {

struct registry_options {
  session_config session;  // handed to every session
  /// How many recently expired sessions are remembered for `expired` answers.
  std::size_t expired_capacity = 65536;
  /// How long an expired session is remembered (0: until pushed out by capacity).
  duration expired_ttl{600'000};
  /// A cluster node's name: session ids are made as "NODE.<random>", and a
  /// resume of a session this registry does not hold is asked of the cluster
  /// (cluster_find_atom) and attached across nodes. Empty on a single node.
  std::string node;
  /// Bound on a request to a session on another node.
  duration peer_timeout{5'000};
  /// limits.sessions: a new session beyond this many is refused with
  /// errc::server_full (context: the limit); 0 = no limit. Adopted sessions
  /// (a draining peer's) are always taken.
  std::uint64_t max_sessions = 0;
  /// [auth] is on: a new session needs a verified client_identity, else
  /// errc::auth_required (context: the failed resume's reason).
  bool auth_required = false;
  /// limits.subscriptions_per_session, handed to every session; 0 = no limit.
  std::uint64_t max_subscriptions = 0;
  /// limits.channels, handed to the broker; 0 = no limit.
  std::uint64_t max_channels = 0;
  /// limits.presence_members, handed to the broker; 0 = no limit.
  std::uint64_t max_members = 0;
  /// The node's metrics (docs/metrics.md), handed to every session; null: none.
  node_metrics_ptr metrics;
};

/// Spawns the session registry (which spawns its broker) and registers both in
/// `sys.registry()`. A registry already registered there is replaced.
caf::actor spawn_registry(caf::actor_system& sys, registry_options opts);

}  // namespace wsvisor
