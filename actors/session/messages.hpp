#pragma once

/// The session server's interface: what connections, sessions, the session
/// registry and the broker say to each other, what the admin API asks of
/// them, and the broker's side of channels owned by another actor (an
/// upstream). What they exchange with the cluster is in
/// actors/session/cluster_seam.hpp.
///
/// Atoms are at most 10 characters from [0-9A-Za-z_]: CAF 0.17 maps other
/// characters onto the same codes, and two atoms that collide are
/// indistinguishable. Types that may cross the network have an `inspect`
/// overload and are registered by the add_*_message_types function of the
/// header that declares them; a type that must stay in-process is marked
/// with CAF_ALLOW_UNSAFE_MESSAGE_TYPE and says so.

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
#include "config/config.hpp"

namespace wsvisor {

/// Registers the types below, the cluster seam's, and the core's on `cfg`.
void add_session_message_types(caf::actor_system_config& cfg);

// -- session registry (actors/session/registry.hpp) <- connections -----------------
//
// The registry answers with the session now carrying the connection; the
// session itself has already sent `welcome` (and any replay) on the transport.

/// (hello_atom, caf::actor connection, transport_ptr, client_identity) -> caf::actor session:
/// start a new session (errc::server_full over limits.sessions, errc::auth_required when
/// [auth] is on and the identity is not verified).
using hello_atom = caf::atom_constant<caf::atom("s_hello")>;

/// (resume_atom, caf::actor connection, transport_ptr, std::string session, std::string token,
/// std::uint64_t last_seq, client_identity) -> caf::actor session: resume it, or start a new one
/// with the identity (welcome says which; a new one fails as hello_atom's does).
using resume_atom = caf::atom_constant<caf::atom("s_resume")>;

/// (attach_atom, caf::actor connection, transport_ptr, std::string token, std::uint64_t last_seq)
/// -> ok_atom | errc::resume_unknown | errc::resume_overflow: registry -> the session a resume
/// names: attach this connection and replay after `last_seq`.
using attach_atom = caf::atom_constant<caf::atom("s_attach")>;

/// (registry_stats_atom) -> std::uint64_t: sessions alive now, parked ones included (tests,
/// metrics).
using registry_stats_atom = caf::atom_constant<caf::atom("reg_stats")>;

/// What a reload changes in the session registry: the settings of sessions made from now on.
struct registry_settings {
  session_config session;               // handed to new sessions
  std::uint64_t max_sessions = 0;       // limits.sessions; 0 = no limit
  std::uint64_t max_subscriptions = 0;  // limits.subscriptions_per_session, for new sessions
  std::uint64_t max_channels = 0;       // limits.channels, passed on to the broker
  std::uint64_t max_members = 0;        // limits.presence_members, passed on to the broker
};

/// (registry_settings_atom, registry_settings) -> ok_atom: a reload's session and limit settings.
using registry_settings_atom = caf::atom_constant<caf::atom("reg_set")>;

// -- session (actors/session/session.hpp) <- its current connection -----------------
//
// A session acts only on frames from the connection it is attached to; anything
// from an earlier connection is dropped.

/// (subscribe_atom, std::string channel, bool presence): client `subscribe`; the session
/// answers `subscribed`. `presence`: as a member of the channel (docs/protocol.md, "Presence").
using subscribe_atom = caf::atom_constant<caf::atom("s_sub")>;

/// (presence_query_atom, std::string channel): client `presence`; the session answers with the
/// members (asked of its broker: (presence_query_atom, channel) -> std::string, the members
/// array's JSON).
using presence_query_atom = caf::atom_constant<caf::atom("s_presq")>;

/// (unsubscribe_atom, std::string channel): client `unsubscribe`; answered by `unsubscribed`.
using unsubscribe_atom = caf::atom_constant<caf::atom("s_unsub")>;

/// (local_publish_atom, std::string channel, shared_body body, std::uint64_t cseq): client
/// `publish` from a connection on this node; `body` is the encoded `message` body
/// (proto::encode_message_body), shared with the broker's fan-out.
using local_publish_atom = caf::atom_constant<caf::atom("s_lpub")>;

/// (publish_atom, std::string channel, std::string body, std::uint64_t cseq): client `publish`
/// from a connection on another node (a session resumed across nodes): the body's bytes.
using publish_atom = caf::atom_constant<caf::atom("s_pub")>;

/// (client_ack_atom, std::uint64_t seq): client `ack`; trims the replay buffer.
using client_ack_atom = caf::atom_constant<caf::atom("s_ack")>;

/// (bye_atom): client `bye`; the session closes the transport with 1000 and ends.
using bye_atom = caf::atom_constant<caf::atom("s_bye")>;

/// (connection_answer_atom, std::string frame): an answer the connection makes itself (an `error`
/// for a frame it refused: bad JSON, over the rate); the session writes it after its answers
/// to the client's earlier frames, so that every answer leaves in the order of the frames.
using connection_answer_atom = caf::atom_constant<caf::atom("s_answer")>;

/// (connection_close_atom, std::uint16_t code, std::string reason): the connection gives up on its
/// client (`limits.rate_limit_strikes`): the session closes the transport with `code` once
/// every answer to an earlier frame is written. The connection reads nothing more.
using connection_close_atom = caf::atom_constant<caf::atom("s_close")>;

// -- session <- broker, session <- itself ------------------------------------

/// (deliver_atom, std::string channel, shared_body body, std::uint64_t origin, std::uint64_t
/// counter, std::int64_t accepted): a publish on a subscribed channel; one message object is
/// shared by every subscriber. `origin` names the broker incarnation that took the publish
/// (random; 0 on a single node) and `counter` numbers that broker's publishes: a session handed
/// over between nodes uses the pair to drop what it would otherwise get twice. `accepted` is
/// when this node's broker took the publish (steady_clock_ns()), the start of
/// wsvisor_publish_delivery_latency_seconds; 0: not timed.
using deliver_atom = caf::atom_constant<caf::atom("s_deliver")>;

/// The steady clock in nanoseconds since its epoch: deliver_atom's `accepted`.
inline std::int64_t steady_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// (welcomed_atom) -> caf::actor: the session itself, once its first welcome is written (the
/// registry delegates a connection's hello to the new session with it).
using welcomed_atom = caf::atom_constant<caf::atom("s_welcomed")>;

/// (expire_atom): session to itself, its resume window may have run out (it checks its deadline).
using expire_atom = caf::atom_constant<caf::atom("s_expire")>;

/// (replica_retry_atom): session to itself, place its replica again (it lost it and found no
/// peer: the peers may be back, or this node may have been cut off from them).
using replica_retry_atom = caf::atom_constant<caf::atom("s_rretry")>;

/// (replicate_atom): session to itself, behind what its mailbox held when a change was made:
/// send the replica everything that changed meanwhile in one update (a publish's cseq with the
/// session's own copy of that message, a burst of deliveries).
using replicate_atom = caf::atom_constant<caf::atom("s_repl")>;

/// (parked_expire_atom, std::uint64_t generation): registry to itself, the earliest parked
/// record's window may have run out (a stale generation is ignored).
using parked_expire_atom = caf::atom_constant<caf::atom("r_expire")>;

/// (room_atom, std::uint64_t generation): the transport attached at that generation has
/// drained (transport::when_room); sending the backlog may continue.
using room_atom = caf::atom_constant<caf::atom("s_room")>;

// -- parking: a detached session becomes a record its registry keeps ---------
//
// (docs/architecture.md, "Detached sessions"). The broker is the point that
// orders a session's deliveries while it moves between actor and record.

/// (broker_park_atom, caf::actor registry, std::string id, std::vector<std::string> channels)
/// -> ok_atom: a detached, idle session -> its broker. In one step the broker takes the session
/// off those channels, subscribes the registry in its place (a count of parked sessions per
/// channel; cluster interest unchanged), sends the registry (parked_moved_atom, id, channels)
/// and answers; every delivery it sent the session before reaches the session before the answer.
using broker_park_atom = caf::atom_constant<caf::atom("b_park")>;

/// (park_atom): registry -> a session it restored, sent after the record and whatever waited
/// for it (at once), or a hold later (a lookup's attach may not come): park again unless a
/// connection attached since the restore.
using park_atom = caf::atom_constant<caf::atom("s_park")>;

/// (parked_moved_atom, std::string id, std::vector<std::string> channels): broker -> registry,
/// the session `id` was moved: deliveries on those channels from now on are for its record.
using parked_moved_atom = caf::atom_constant<caf::atom("r_moved")>;

/// (parked_atom, std::string id, parked_session record): the session -> its registry, after the
/// broker's answer: its state, with every delivery it got; then it quits.
using parked_atom = caf::atom_constant<caf::atom("s_parked")>;

/// (parked_count_atom) -> std::uint64_t: registry, sessions parked now (tests).
using parked_count_atom = caf::atom_constant<caf::atom("r_pcount")>;

/// (unpark_atom, caf::actor session, std::vector<std::string> channels, std::string member)
/// -> ok_atom: registry -> broker, subscribe `session` to those channels in place of one parked
/// session, which holds the presence memberships of `member` (actors/ids.hpp member_of) from now
/// on. Every delivery the broker sent the registry before reaches it before the answer. A null
/// `session` only drops the parked one (expired or ended): its memberships are gone.
using unpark_atom = caf::atom_constant<caf::atom("s_unpark")>;

/// (restore_atom, parked_session record, std::string token): registry -> the session it spawned
/// for a parked record, once the broker has moved it (unpark_atom): take this state; deliveries
/// held since the spawn follow it. A (park_atom) from the registry follows.
using restore_atom = caf::atom_constant<caf::atom("s_restore")>;

/// (connection_timer_atom): the transport's timer fired (transport::set_timer): the
/// earliest of the handshake deadline, the next ping and the silence deadline
/// is due.
using connection_timer_atom = caf::atom_constant<caf::atom("c_timer")>;

/// (drain_goaway_atom, std::uint32_t window_ms): the draining node -> every connection, through
/// `connections_group` (actors/session/connection.hpp): send the client `goaway{reason:
/// "shutdown", retry_ms}` with retry_ms drawn uniformly from [0, window_ms], close with 1001
/// and quit.
using drain_goaway_atom = caf::atom_constant<caf::atom("c_goaway")>;

// -- broker (actors/session/broker.hpp) ----------------------------------------------
/// (broker_subscribe_atom, std::string channel, caf::actor session) -> ok_atom |
/// errc::too_many_channels: a session's subscription (answered once the cluster knows, on a
/// cluster node's first subscriber of the channel).
using broker_subscribe_atom = caf::atom_constant<caf::atom("b_sub")>;

/// (presence_join_atom, std::string channel, std::string member, std::string subject_json,
/// bool online) -> ok_atom | errc::too_many_members: the sender (a session subscribed to
/// `channel`) becomes `member` of it; its members are told (presence_event).
using presence_join_atom = caf::atom_constant<caf::atom("b_pjoin")>;

/// (presence_state_atom, bool online): the sender's connection came or went: its memberships
/// are online or away. No reply. Unsubscribing (or ending) ends its membership (gone).
using presence_state_atom = caf::atom_constant<caf::atom("b_pstate")>;

/// (presence_handed_atom): the sender (a session handed over to another node) ends, and its
/// successor holds its memberships: its leaving is not `gone`. No reply.
using presence_handed_atom = caf::atom_constant<caf::atom("b_phanded")>;

/// (stand_in_atom): the sender (a replica store, actors/cluster/replica_store.hpp) subscribes
/// in the place of sessions homed on other nodes: its subscriptions are not counted as
/// subscribers (admin API, a publish's sessions reached). No reply.
using stand_in_atom = caf::atom_constant<caf::atom("b_standin")>;

/// (broker_unsubscribe_atom, std::string channel, caf::actor session): undoes it. No reply.
using broker_unsubscribe_atom = caf::atom_constant<caf::atom("b_unsub")>;

/// (broker_publish_atom, std::string channel, shared_body body) -> (std::uint64_t
/// sessions_reached, std::string upstream) | errc::upstream_down: a session's (or the HTTP
/// API's) publish. A channel owned by an upstream link goes to that link only: 0 sessions,
/// `upstream` names it.
using broker_publish_atom = caf::atom_constant<caf::atom("b_pub")>;

/// (fanout_atom, std::string channel, shared_body body): a publish by the server itself (an
/// upstream link's frame, a state report on `sys.*`): to every subscriber, whoever owns the
/// channel. No reply.
using fanout_atom = caf::atom_constant<caf::atom("b_fanout")>;

/// (own_channel_atom, std::string channel, caf::actor owner): client publishes on `channel`
/// go to `owner` as (owner_publish_atom, ...) from now on; the broker monitors the owner and
/// forgets its channels when it ends.
using own_channel_atom = caf::atom_constant<caf::atom("b_own")>;

/// (broker_limit_atom, std::uint64_t max_channels): a reload's limits.channels, for
/// subscriptions from now on. (broker_limit_atom, std::uint64_t max_channels, std::uint64_t
/// max_members, duration resume_window): with limits.presence_members and the window after
/// which a lost peer's presence members are gone. No reply.
using broker_limit_atom = caf::atom_constant<caf::atom("b_limit")>;

/// (disown_channel_atom, std::string channel, caf::actor owner): undoes own_channel_atom.
using disown_channel_atom = caf::atom_constant<caf::atom("b_disown")>;

/// (broker_stats_atom) -> std::uint64_t: channels with at least one subscriber.
using broker_stats_atom = caf::atom_constant<caf::atom("b_stats")>;

/// (channel_subscribers_atom, std::string channel) -> std::uint64_t: subscribers of `channel`.
using channel_subscribers_atom = caf::atom_constant<caf::atom("b_subs")>;

// -- broker -> the owner of a channel (own_channel_atom; an upstream) ---------

/// (owner_publish_atom, std::string channel, shared_body body) -> (std::uint64_t 0, std::string
/// upstream) | errc::upstream_down: broker -> upstreams, a client publish on an owned channel.
using owner_publish_atom = caf::atom_constant<caf::atom("u_forward")>;

/// (owned_channels_atom) -> std::vector<std::string>: the channels owned (a new broker asks).
using owned_channels_atom = caf::atom_constant<caf::atom("u_owners")>;

// -- admin API (docs/api.md) -> registry, session, broker ---------------------
//
// Asked by the node's admin actors (app/admin.hpp); never by clients.

/// (admin_list_atom, std::string after, std::uint64_t limit) -> (std::vector<std::string> ids,
/// std::vector<caf::actor> sessions, bool more): registry, up to `limit` of this node's
/// sessions with an id above `after`, by id (the actor of each; null for a parked one: ask the
/// registry by id); `more`: there are others after them.
using admin_list_atom = caf::atom_constant<caf::atom("adm_list")>;

/// (admin_info_atom, std::string id) -> session_info | errc::unknown_session: registry, what the
/// session is now (answered from the record of a parked one, else by the session).
using admin_info_atom = caf::atom_constant<caf::atom("adm_info")>;

/// (admin_end_atom, std::string id) -> ok_atom | errc::unknown_session: registry, end the session
/// now; an attached client is closed with 4410.
using admin_end_atom = caf::atom_constant<caf::atom("adm_end")>;

/// (admin_cut_atom, std::string id) -> ok_atom | errc::not_attached | errc::unknown_session:
/// registry, close the session's connection with 4411 and detach it (the client may resume).
using admin_cut_atom = caf::atom_constant<caf::atom("adm_cut")>;

/// (session_info_atom) -> session_info: registry -> session, for admin_info_atom.
using session_info_atom = caf::atom_constant<caf::atom("s_info")>;

/// (session_end_atom) -> ok_atom | errc::session_parked: registry -> session, for admin_end_atom.
using session_end_atom = caf::atom_constant<caf::atom("s_end")>;

/// (session_cut_atom) -> ok_atom | errc::not_attached: registry -> session, for admin_cut_atom.
using session_cut_atom = caf::atom_constant<caf::atom("s_cut")>;

/// (admin_channels_atom, std::string after, std::uint64_t limit) -> (std::vector<channel_info>,
/// bool more): broker, up to `limit` channels named above `after`, by name.
using admin_channels_atom = caf::atom_constant<caf::atom("adm_chans")>;

/// One session as the admin API shows it (never its resume token).
struct session_info {
  std::string id;
  bool attached = false;
  std::string peer;                    // attached: the client's address
  std::string subject;                 // [auth]: the JWT's sub; else empty
  std::vector<std::string> channels;   // subscriptions, by name
  std::uint64_t seq = 0;               // of the last message produced
  std::uint64_t acked = 0;             // highest seq the client acknowledged
  std::uint64_t buffered = 0;          // replay buffer: messages held
  std::uint64_t buffered_bytes = 0;    // replay buffer: their bytes
  std::uint64_t buffer_max = 0;        // session.replay_buffer
  std::uint64_t buffer_max_bytes = 0;  // session.replay_buffer_bytes
  std::int64_t since_ms = 0;           // attached or detached since (Unix ms)
  std::int64_t expires_ms = 0;         // detached: when the resume window ends (Unix ms)
  /// attached: the CAF node id (to_string) of the node holding the connection, which is
  /// another node's for a session resumed through it; empty when detached.
  std::string connection_node;
  /// Cluster nodes with replicas: the node holding its replica (empty: none
  /// now) and the seq up to which the replica holds its messages.
  std::string replica;
  std::uint64_t replica_seq = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_info& x) {
  return f(caf::meta::type_name("session_info"), x.id, x.attached, x.peer, x.subject, x.channels,
           x.seq, x.acked, x.buffered, x.buffered_bytes, x.buffer_max, x.buffer_max_bytes,
           x.since_ms, x.expires_ms, x.connection_node, x.replica, x.replica_seq);
}

/// One channel as the admin API shows it.
struct channel_info {
  std::string name;
  std::uint64_t subscribers = 0;  // sessions on this node
  std::uint64_t peers = 0;        // cluster nodes with subscribers of their own
  bool owned = false;             // an upstream link owns it (upstream_status_atom names which)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, channel_info& x) {
  return f(caf::meta::type_name("channel_info"), x.name, x.subscribers, x.peers, x.owned);
}

/// Declared in actors/session/parked_session.hpp. Holds shared bodies: it stays in one process.
struct parked_session;

}  // namespace wsvisor

// A parked session moves between the actors of one node only.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::parked_session)
// A reload's settings come from this node's own configuration file.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::registry_settings)
