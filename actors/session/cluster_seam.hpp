#pragma once

/// What the session server (registry, sessions, broker) and the cluster
/// actor say to each other: channel interest and cross-node publishes, a
/// resume that reaches another node, barriers, and a session's handover
/// during a drain. The session server depends only on this interface;
/// actors/cluster/ implements the other side (and the cluster-to-cluster
/// protocol, actors/cluster/messages.hpp). A single node never receives
/// these.
///
/// Every type below is made of atoms, strings, integers, vectors of strings
/// and actor handles, which CAF serialises without registration (but
/// session_handover, registered by add_session_message_types); the cluster
/// tests send each across two real nodes.

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
#include "actors/session/jwt_auth.hpp"

namespace wsvisor {

/// (local_interest_atom, std::string channel, bool on): broker -> cluster. `on`: the channel got
/// its first local subscriber, asked as a request answered (ok_atom) once every peer has
/// acknowledged; off: it lost its last one, sent (no answer).
using local_interest_atom = caf::atom_constant<caf::atom("cl_lintr")>;

/// (cluster_interest_atom, std::string node, std::string channel, bool on) -> ok_atom: cluster ->
/// a peer's cluster, once the receiving node's broker has been told.
using cluster_interest_atom = caf::atom_constant<caf::atom("cl_intr")>;

/// (peer_interest_atom, caf::actor peer_cluster, std::string channel, bool on): cluster ->
/// broker, forward (or stop forwarding) publishes on `channel` to that peer.
using peer_interest_atom = caf::atom_constant<caf::atom("cl_pintr")>;

/// (peer_gone_atom, caf::actor peer_cluster, std::string node, bool lost): cluster -> broker,
/// that peer is no longer a member. Lost (not left on purpose, not replaced by a restart): the
/// broker keeps what it publishes on the channels the peer wanted, for its return
/// (actors/session/peer_resend.hpp).
using peer_gone_atom = caf::atom_constant<caf::atom("cl_pgone")>;

/// (peer_rejoined_atom, caf::actor peer_cluster, std::string node, received_marks received,
/// std::vector<std::string> interest): cluster -> broker, before that peer's interest, when a
/// peer becomes a member: what it received (its join's) and the channels it wants. A peer that was
/// lost gets what it missed from this broker again, or cluster_gap_atom for what is gone.
using peer_rejoined_atom = caf::atom_constant<caf::atom("cl_prejoin")>;

/// (cluster_gap_atom, std::vector<std::string> channels): a broker -> a peer's cluster -> its
/// broker: publishes on these channels that the peer's subscribers should have had are lost
/// (evicted from the broker's resend buffer while the peer was away).
using cluster_gap_atom = caf::atom_constant<caf::atom("cl_gap")>;

/// (channel_gap_atom, std::string channel): broker -> each subscriber of the channel (a session,
/// or the registry for its parked sessions) after cluster_gap_atom: the session must not go on
/// as if nothing were missing.
using channel_gap_atom = caf::atom_constant<caf::atom("s_gap")>;

/// (broker_joined_atom): a new broker -> cluster: send me every peer's interest
/// (peer_interest_atom).
using broker_joined_atom = caf::atom_constant<caf::atom("cl_broker")>;

/// (cluster_publish_atom, std::string channel, std::string body): broker -> a peer's cluster, a
/// publish made on this node; the peer delivers it to its own subscribers only.
using cluster_publish_atom = caf::atom_constant<caf::atom("cl_fanout")>;

/// (cluster_publishes_atom, cluster_publishes): broker -> a peer's cluster, the publishes made on
/// this node for that peer while the broker handled what its mailbox held, in the order made;
/// the peer takes each as a cluster_publish_atom. Whatever else the broker sends that peer
/// (a barrier's echo, a gap, a resend) goes after them.
using cluster_publishes_atom = caf::atom_constant<caf::atom("cl_fanouts")>;

/// (peer_publish_atom, std::string channel, shared_body body): cluster -> its broker, a publish
/// from a peer: to local subscribers only, never forwarded again.
using peer_publish_atom = caf::atom_constant<caf::atom("cl_deliver")>;

/// (presence_rows_atom, std::string channel) -> (std::uint64_t origin, std::uint64_t counter,
/// std::vector<std::string> bodies): a broker -> a peer's cluster -> its broker, when the asking
/// node starts receiving `channel`: the peer's own members of it as presence bodies, as of its
/// delivery counter `counter` (actors/session/presence_table.hpp merge).
using presence_rows_atom = caf::atom_constant<caf::atom("cl_prows")>;

/// (peer_origin_atom, caf::actor peer_cluster, std::uint64_t origin): cluster -> broker, the
/// first delivery from `origin` came from that peer (its members are away if it is lost).
using peer_origin_atom = caf::atom_constant<caf::atom("cl_porig")>;

/// (cluster_find_atom, std::string session, std::string token) -> caf::actor session |
/// errc::resume_unknown | errc::session_expired: registry -> cluster, a resume of a session
/// this node does not hold; the cluster asks every peer (cluster_lookup_atom).
using cluster_find_atom = caf::atom_constant<caf::atom("cl_find")>;

/// (cluster_lookup_atom, std::string session, std::string token) -> the same: cluster -> a peer's
/// cluster -> its registry, which answers for its own sessions only.
using cluster_lookup_atom = caf::atom_constant<caf::atom("cl_lookup")>;

/// (remote_attach_atom, caf::actor connection, std::string peer, std::string token,
/// std::uint64_t last_seq) -> ok_atom | errc::resume_unknown | errc::resume_overflow: registry ->
/// a session on another node, the resume of resume_atom for a connection on this node. The
/// session writes to it through a remote transport (actors/remote_transport.hpp).
using remote_attach_atom = caf::atom_constant<caf::atom("cl_attach")>;

/// (handover_targets_atom) -> (std::vector<caf::actor> clusters, std::vector<std::string> urls):
/// the joined peers' cluster actors and public URLs (a draining registry picks handover targets).
using handover_targets_atom = caf::atom_constant<caf::atom("cl_targets")>;

/// (local_barrier_atom) -> ok_atom: session -> its broker -> the cluster. Answered once every
/// peer's broker has echoed (cluster_echo_atom) along the path its publishes take to this node, so
/// every publish a peer sent here before the barrier has been delivered before the answer.
using local_barrier_atom = caf::atom_constant<caf::atom("cl_lbar")>;

/// (cluster_barrier_atom, std::uint64_t token, caf::actor origin_cluster): cluster -> a peer's
/// cluster -> its broker, the barrier of local_barrier_atom.
using cluster_barrier_atom = caf::atom_constant<caf::atom("cl_barrier")>;

/// (cluster_echo_atom, std::uint64_t token): a peer's broker -> the cluster that sent the barrier.
using cluster_echo_atom = caf::atom_constant<caf::atom("cl_echo")>;

/// (adopt_session_atom, session_handover) -> caf::actor: a draining node's session -> a peer's
/// cluster -> its registry: take this session over. Answered by the new session once it is
/// subscribed everywhere (errc::duplicate_child if the id is taken there).
using adopt_session_atom = caf::atom_constant<caf::atom("cl_adopt")>;

/// (handoff_delivery_atom, std::string channel, std::string body, std::uint64_t origin,
/// std::uint64_t counter): a handed-over session -> its successor, a delivery it got after the
/// snapshot, in its order.
using handoff_delivery_atom = caf::atom_constant<caf::atom("cl_handoff")>;

/// (handoff_subscription_atom, std::string channel, bool on) -> ok_atom: a handed-over session ->
/// its successor, its client subscribed (or unsubscribed) during the handover; answered once
/// the successor's subscription is confirmed.
using handoff_subscription_atom = caf::atom_constant<caf::atom("cl_hsub")>;

/// (handoff_abort_atom, std::string session): a handed-over session's predecessor -> the peer's
/// cluster -> its registry -> the adopted session, all forwarded with the predecessor as sender:
/// the predecessor's adopt request failed (timed out) and it keeps the session, so a successor
/// that was made all the same ends; one whose predecessor is done, or that another sent, stays.
using handoff_abort_atom = caf::atom_constant<caf::atom("cl_habort")>;

/// (handoff_done_atom, std::uint64_t last_cseq): the last of the handed-over session's
/// messages to its successor; nothing more comes from it.
using handoff_done_atom = caf::atom_constant<caf::atom("cl_hdone")>;

/// (handover_atom, caf::actor target_cluster, std::string target_url, std::uint32_t retry_ms)
/// -> ok_atom: registry -> session during a drain; answered once the session lives on the
/// target and its client was sent `goaway` (the old session then ends).
using handover_atom = caf::atom_constant<caf::atom("s_handover")>;

/// (drain_atom, duration bound) -> (std::uint64_t handed_over, std::uint64_t failed): node ->
/// registry, hand every session to live peers, at most a few at a time.
using drain_atom = caf::atom_constant<caf::atom("s_drain")>;

/// (drain_bound_atom, std::uint64_t generation): registry to itself, the drain of that
/// generation reached its bound (a finished drain's is ignored).
using drain_bound_atom = caf::atom_constant<caf::atom("r_dbound")>;

// -- replicas (docs/cluster.md, "Replicas") ------------------------------------
//
// Each session (its home) keeps a copy on one peer's replica store
// (actors/cluster/replica_store.hpp); when the home's node is lost, that store
// adopts the session. The messages a replica is kept with are
// session_handover values: whole (put) or only what changed (update).

/// (replica_place_atom, std::string session, std::uint64_t epoch) -> (caf::actor store,
/// std::string node): a session
/// -> its node's replica store: the store on a live peer that keeps the session's replica
/// (rendezvous hashing of the id over the peers' node names), and that peer's name; a null
/// store: no peer is up. errc::session_moved: this node's store holds (or adopted) a later
/// epoch of the session, so its home is elsewhere now (a copy that outlived an adoption).
using replica_place_atom = caf::atom_constant<caf::atom("rp_place")>;

/// (replica_put_atom, caf::actor store, session_handover whole) -> ok_atom |
/// errc::session_moved: home session -> its node's replica store, to be kept by `store` (the
/// peer's): the whole session (a new replica, or one restored or adopted). Refused when `store`
/// holds, or has adopted, a later epoch of it.
using replica_put_atom = caf::atom_constant<caf::atom("rp_put")>;

/// (replica_update_atom, caf::actor store, replica_update delta) -> ok_atom |
/// errc::session_moved: home session -> its node's replica store, to be kept by `store`: what
/// changed since the last put or update (replica_update, below). Answered once `store`'s own
/// subscriptions to new channels are confirmed cluster-wide. Refused when `store` has no record
/// of that epoch (it adopted the session: this copy must stop). Answers to one session come in
/// the order its puts and updates were sent.
using replica_update_atom = caf::atom_constant<caf::atom("rp_update")>;

/// (replica_batch_atom, replica_batch) -> std::vector<char>: a node's replica store -> a peer's,
/// the puts and updates its sessions sent for that peer since the last batch went, in the order
/// they were sent; the answer has per item 0 (kept) or 1 (refused: errc::session_moved). A store
/// has at most two batches in flight to each peer: what its sessions send meanwhile waits for
/// the next, so that under load one message crosses for many sessions.
using replica_batch_atom = caf::atom_constant<caf::atom("rp_batch")>;

/// (replica_drop_atom, std::string session, std::uint64_t epoch): the session ended: the store
/// forgets that epoch's record. To a node's own store: forwarded to every peer's.
using replica_drop_atom = caf::atom_constant<caf::atom("rp_drop")>;

/// (replica_member_atom, std::string node, caf::actor peer_cluster, bool up, bool lost): cluster
/// -> its node's replica store, a peer joined (up) or went; `lost`: it did not leave on
/// purpose. The store adopts the sessions homed there when it goes.
using replica_member_atom = caf::atom_constant<caf::atom("rp_member")>;

/// (replica_adopt_atom, std::string node, caf::actor peer_cluster): a replica store to itself,
/// `peer_timeout` after that peer was lost: adopt its sessions unless it came back meanwhile.
using replica_adopt_atom = caf::atom_constant<caf::atom("rp_adopt")>;

/// (replica_where_atom) -> caf::actor: a replica store -> a peer's cluster: that node's store
/// (null with replicas off).
using replica_where_atom = caf::atom_constant<caf::atom("rp_where")>;

/// (replica_holds_atom, std::string session) -> bool: registry -> its node's replica store, a
/// replica of that session is here (its home may be unreachable: resume later).
using replica_holds_atom = caf::atom_constant<caf::atom("rp_holds")>;

/// (replica_stats_atom) -> (std::uint64_t records, std::uint64_t adopted): a node's store, the
/// replicas it holds and the sessions it adopted since it started (tests, admin).
using replica_stats_atom = caf::atom_constant<caf::atom("rp_stats")>;

/// A session as handed over between nodes (adopt_session_atom).
struct session_handover {
  std::string id;
  std::string token;
  std::uint64_t seq = 0;        // of the last message produced
  std::uint64_t last_cseq = 0;  // highest accepted publish cseq
  std::uint64_t acked_through = 0;
  std::uint64_t lost_through = 0;
  std::vector<std::string> channels;
  std::vector<std::uint64_t> buffer_seqs;  // the replay buffer, oldest first
  std::vector<std::string> buffer_bodies;
  // For each origin (broker incarnation), the highest delivery counter already in the
  // session: the successor drops deliveries it gets directly at or below it.
  std::vector<std::uint64_t> through_origins;
  std::vector<std::uint64_t> through_counters;
  client_identity identity;  // who the session belongs to ([auth])
  // Which copy of the session this is: raised by each handover and each
  // adoption from a replica, so that an older copy is refused by the
  // replica's store (errc::session_moved) and never acts as a second home.
  std::uint64_t epoch = 0;
  std::vector<std::string> presence;  // of channels: joined as a member (docs/protocol.md)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_handover& x) {
  return f(caf::meta::type_name("session_handover"), x.id, x.token, x.seq, x.last_cseq,
           x.acked_through, x.lost_through, x.channels, x.buffer_seqs, x.buffer_bodies,
           x.through_origins, x.through_counters, x.identity, x.epoch, x.presence);
}

/// A message in a replica update: its body, or where the replica's node received it itself
/// (it subscribes to the message's channel), so that the body need not cross again.
struct replica_entry {
  std::uint64_t seq = 0;
  std::uint64_t origin = 0;  // with `counter`, the delivery that carried it; 0: `body` holds it
  std::uint64_t counter = 0;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_entry& x) {
  return f(caf::meta::type_name("replica_entry"), x.seq, x.origin, x.counter, x.body);
}

/// What changed in a session since its last put or update (replica_update_atom): a few numbers
/// and the new messages, so that the many updates of a busy cluster stay small. No token, no
/// identity: the put had them.
struct replica_update {
  std::string id;
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;        // of the last message produced
  std::uint64_t last_cseq = 0;  // highest accepted publish cseq
  std::uint64_t acked_through = 0;
  std::uint64_t lost_through = 0;
  bool channels_changed = false;
  std::vector<std::string> channels;   // every channel, when channels_changed; else empty
  std::vector<replica_entry> entries;  // the messages after the last put or update
  // Per origin (broker incarnation), the highest delivery counter in the session.
  std::vector<std::uint64_t> through_origins;
  std::vector<std::uint64_t> through_counters;
  std::vector<std::string> presence;  // of channels, when channels_changed; else empty
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_update& x) {
  return f(caf::meta::type_name("replica_update"), x.id, x.epoch, x.seq, x.last_cseq,
           x.acked_through, x.lost_through, x.channels_changed, x.channels, x.entries,
           x.through_origins, x.through_counters, x.presence);
}

/// Many sessions' puts and updates for one replica store (replica_batch_atom), in the order
/// they were sent: `whole` says per item whether it is the next of `puts` (1) or of
/// `updates` (0).
struct replica_batch {
  std::vector<session_handover> puts;
  std::vector<replica_update> updates;
  std::vector<char> whole;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_batch& x) {
  return f(caf::meta::type_name("replica_batch"), x.puts, x.updates, x.whole);
}

/// Publishes for one peer (cluster_publishes_atom): per publish its channel, body and the
/// broker's counter, all from one origin.
struct cluster_publishes {
  std::uint64_t origin = 0;
  std::vector<std::string> channels;
  std::vector<std::string> bodies;
  std::vector<std::uint64_t> counters;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_publishes& x) {
  return f(caf::meta::type_name("cluster_publishes"), x.origin, x.channels, x.bodies, x.counters);
}

/// Per origin (broker incarnation), the highest delivery counter a node's
/// cluster actor has received from it: what a peer that joins again says it
/// holds (the cluster's join, peer_rejoined_atom).
struct received_marks {
  std::vector<std::uint64_t> origins;
  std::vector<std::uint64_t> counters;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, received_marks& x) {
  return f(caf::meta::type_name("received_marks"), x.origins, x.counters);
}

}  // namespace wsvisor
