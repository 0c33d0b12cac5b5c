#pragma once

/// Every atom and message type of wsvisor's actors, in one place, grouped by
/// the actor that handles them (style.md). Add a new actor's interface as a
/// new section below and its registrations to `add_message_types`.
///
/// Atoms are at most 10 characters from [0-9A-Za-z_]: CAF 0.17 maps other
/// characters onto the same codes, and two atoms that collide are
/// indistinguishable. Types that may cross the network have an `inspect`
/// overload and are registered by `add_message_types`; a type that must stay
/// in-process is marked with CAF_ALLOW_UNSAFE_MESSAGE_TYPE and says so.

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

#include "actors/errors.hpp"
#include "actors/jwt_auth.hpp"
#include "config/config.hpp"

namespace wsvisor {

/// Registers every type below that needs registering, and the `errc` error
/// category, on `cfg`. Call once per actor_system_config, on every node,
/// before constructing the actor_system.
void add_message_types(caf::actor_system_config& cfg);

// -- supervisor (actors/supervisor.hpp) ---------------------------------------
//
// Requests (each gets a reply or an error):

/// (add_child_atom, child_spec) -> ok_atom | error: start and supervise one more child.
using add_child_atom = caf::atom_constant<caf::atom("add_child")>;

/// (remove_child_atom, std::string name) -> ok_atom | error: stop the child, then forget it.
using remove_child_atom = caf::atom_constant<caf::atom("rm_child")>;

/// (get_tree_atom) -> supervision_tree: a snapshot of the supervisor and its children.
using get_tree_atom = caf::atom_constant<caf::atom("get_tree")>;

/// (get_child_atom, std::string name) -> caf::actor | error: the child's running incarnation.
using get_child_atom = caf::atom_constant<caf::atom("get_child")>;

/// (shutdown_atom) -> ok_atom when all children stopped (reverse order); then it quits normally.
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;

/// (set_policies_atom, policy_map) -> ok_atom: a reload's policy values. Children whose
/// policy changed restart under the new values from their next restart on; children added
/// later are checked against the new names. Also understood by the upstreams actor, which
/// passes it on to its links' supervisor.
using set_policies_atom = caf::atom_constant<caf::atom("set_pols")>;

// Timers and notes a supervisor sends itself (generation-stamped; stale ones are ignored):

/// (respawn_atom, std::string name, std::uint64_t generation): a restart delay has elapsed.
using respawn_atom = caf::atom_constant<caf::atom("respawn")>;

/// (stop_timeout_atom, std::string name, std::uint64_t generation): a stop wait has elapsed.
using stop_timeout_atom = caf::atom_constant<caf::atom("stop_tmo")>;

/// (start_failed_atom, std::string name, std::uint64_t generation, std::string why): spawn failed.
using start_failed_atom = caf::atom_constant<caf::atom("start_fail")>;

/// What a supervisor reports about one child.
enum class child_state : std::uint8_t {
  running,     // an incarnation is alive
  restarting,  // between incarnations: a restart is scheduled or its group is being stopped
  stopped,     // not running and not coming back on its own (exited normally, temporary, removed)
  given_up,    // exceeded its restart intensity under on_give_up = stop
};

std::string to_string(child_state x);

/// One child in a `supervision_tree`.
struct child_info {
  std::string name;
  child_state state = child_state::stopped;
  std::optional<std::chrono::system_clock::time_point> restart_at;  // set while a restart is armed
  std::uint32_t restarts = 0;    // incarnations started after the first one
  std::string last_exit_reason;  // rendered; empty before the first exit
  std::string policy;            // key of the supervisor's policies
  restart_kind restart = restart_kind::permanent;
  caf::actor_addr actor;  // the running incarnation; invalid otherwise
  std::uint32_t max_restarts = 0;  // the policy's intensity: restarts within restart_window
  duration restart_window{0};      // (0 restarts: unlimited)
  bool supervisor = false;         // child_spec::supervisor: it answers get_tree_atom itself
};

// CAF 0.17 cannot inspect std::optional, so `restart_at` travels as a flag
// and a time point that a load callback folds back into the optional.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  bool has_restart_at = x.restart_at.has_value();
  auto restart_at = x.restart_at.value_or(std::chrono::system_clock::time_point{});
  auto restart_kind_code = static_cast<std::uint8_t>(x.restart);
  auto fold = caf::meta::load_callback([&]() -> caf::error {
    x.restart_at = has_restart_at ? std::optional{restart_at} : std::nullopt;
    x.restart = static_cast<restart_kind>(restart_kind_code);
    return caf::none;
  });
  return f(caf::meta::type_name("child_info"), x.name, x.state, has_restart_at, restart_at,
           x.restarts, x.last_exit_reason, x.policy, restart_kind_code, x.actor, x.max_restarts,
           x.restart_window, x.supervisor, fold);
}

/// A supervisor and its children in start order (reply to get_tree_atom).
/// A nested supervisor appears as one child; ask it for its own tree.
struct supervision_tree {
  std::string name;
  strategy_kind strategy = strategy_kind::one_for_one;
  std::vector<child_info> children;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervision_tree& x) {
  auto strategy_code = static_cast<std::uint8_t>(x.strategy);
  auto fold = caf::meta::load_callback([&]() -> caf::error {
    x.strategy = static_cast<strategy_kind>(strategy_code);
    return caf::none;
  });
  return f(caf::meta::type_name("supervision_tree"), x.name, strategy_code, x.children, fold);
}

/// Kinds of `supervisor_event`.
enum class supervisor_event_kind : std::uint8_t {
  started,            // a child's first incarnation is running (at spawn or add_child)
  exited,             // an incarnation ended on its own (not asked to stop)
  restart_scheduled,  // a restart timer is armed: attempt, delay, reason, generation are set
  restarted,          // a new incarnation is running
  given_up,           // restart intensity exceeded: the child stays down
  stopped,            // an incarnation the supervisor asked to stop has ended, or the child
                      // ended for good (transient after a normal exit, temporary)
};

std::string to_string(supervisor_event_kind x);

/// Sent to `supervisor_options::observer` as things happen, in order.
struct supervisor_event {
  supervisor_event_kind kind = supervisor_event_kind::started;
  std::string supervisor;  // supervisor_options::name
  std::string child;
  std::uint32_t attempt = 0;     // restart_scheduled: consecutive restarts since the last reset
  duration delay{0};             // restart_scheduled: the backoff delay
  std::string reason;            // exited, restart_scheduled, given_up, stopped: rendered
  std::uint64_t generation = 0;  // restart_scheduled: the timer's generation stamp
  caf::actor_addr actor;         // started, restarted, exited, stopped: the incarnation
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_event& x) {
  return f(caf::meta::type_name("supervisor_event"), x.kind, x.supervisor, x.child, x.attempt,
           x.delay, x.reason, x.generation, x.actor);
}

// -- connection (actors/connection.hpp) <- its socket (net/ws_session) -------
//
// The socket side tells the connection actor what arrived; the actor answers
// through its `transport` (actors/transport.hpp). The actor's life is the
// socket's: it quits when told the socket closed, and the socket is closed
// when the actor quits.

/// (ws_text_atom, std::string payload): one complete text frame arrived.
using ws_text_atom = caf::atom_constant<caf::atom("ws_text")>;

/// (ws_binary_atom): one complete binary frame arrived (unsupported; answered with an error).
using ws_binary_atom = caf::atom_constant<caf::atom("ws_binary")>;

/// (ws_closed_atom, std::uint16_t code, std::string why): the socket is gone (close
/// frame received, reset, timeout, slow reader). `code` is the close code
/// received or sent, 1006 when there was none.
using ws_closed_atom = caf::atom_constant<caf::atom("ws_closed")>;

// -- session registry (actors/registry.hpp) <- connections -----------------
//
// The registry answers with the session now carrying the connection; the
// session itself has already sent `welcome` (and any replay) on the transport.

/// (hello_atom, caf::actor connection, transport_ptr, client_identity) -> caf::actor session:
/// start a new session (errc::server_full over limits.sessions, errc::auth_required when
/// [auth] is on and the identity is not verified).
using hello_atom = caf::atom_constant<caf::atom("s_hello")>;

/// (resume_atom, caf::actor connection, transport_ptr, std::string session, std::string token,
/// std::uint64_t last_seq, client_identity) -> caf::actor session: resume it, or start a new one
/// with the identity (welcome says which; a new one fails as hello_atom's does). Also registry -> session, without the id: -> ok_atom | errc::resume_unknown,
/// errc::resume_overflow.
using resume_atom = caf::atom_constant<caf::atom("s_resume")>;

/// (registry_stats_atom) -> std::uint64_t: sessions alive now, parked ones included (tests,
/// metrics).
using registry_stats_atom = caf::atom_constant<caf::atom("reg_stats")>;

/// What a reload changes in the session registry: the settings of sessions made from now on.
struct registry_settings {
  session_config session;              // handed to new sessions
  std::uint64_t max_sessions = 0;      // limits.sessions; 0 = no limit
  std::uint64_t max_subscriptions = 0; // limits.subscriptions_per_session, for new sessions
  std::uint64_t max_channels = 0;      // limits.channels, passed on to the broker
};

/// (reg_settings_atom, registry_settings) -> ok_atom: a reload's session and limit settings.
using reg_settings_atom = caf::atom_constant<caf::atom("reg_set")>;

// -- session (actors/session.hpp) <- its current connection -----------------
//
// A session acts only on frames from the connection it is attached to; anything
// from an earlier connection is dropped.

/// (subscribe_atom, std::string channel): client `subscribe`; the session answers `subscribed`.
/// Also session -> broker: (subscribe_atom, std::string channel, caf::actor session).
using subscribe_atom = caf::atom_constant<caf::atom("s_sub")>;

/// (unsubscribe_atom, std::string channel): client `unsubscribe`; answered by `unsubscribed`.
/// Also session -> broker: (unsubscribe_atom, std::string channel, caf::actor session).
using unsubscribe_atom = caf::atom_constant<caf::atom("s_unsub")>;

/// (publish_atom, std::string channel, shared_body body, std::uint64_t cseq): client `publish`,
/// `body` is the encoded `message` body (proto::encode_message_body).
/// Also session (or the HTTP API) -> broker: (publish_atom, std::string channel, shared_body body)
/// -> (std::uint64_t sessions_reached, std::string upstream) | errc::upstream_down. A channel
/// owned by an upstream link goes to that link only: 0 sessions, `upstream` names it.
using publish_atom = caf::atom_constant<caf::atom("s_pub")>;

/// (client_ack_atom, std::uint64_t seq): client `ack`; trims the replay buffer.
using client_ack_atom = caf::atom_constant<caf::atom("s_ack")>;

/// (bye_atom): client `bye`; the session closes the transport with 1000 and ends.
using bye_atom = caf::atom_constant<caf::atom("s_bye")>;

/// (conn_answer_atom, std::string frame): an answer the connection makes itself (an `error`
/// for a frame it refused: bad JSON, over the rate); the session writes it after its answers
/// to the client's earlier frames, so that every answer leaves in the order of the frames.
using conn_answer_atom = caf::atom_constant<caf::atom("s_answer")>;

/// (conn_close_atom, std::uint16_t code, std::string reason): the connection gives up on its
/// client (`limits.rate_limit_strikes`): the session closes the transport with `code` once
/// every answer to an earlier frame is written. The connection reads nothing more.
using conn_close_atom = caf::atom_constant<caf::atom("s_close")>;

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
/// (expire_atom, std::uint64_t generation): registry to itself, the earliest parked record's
/// window may have run out (a stale generation is ignored).
using expire_atom = caf::atom_constant<caf::atom("s_expire")>;

/// (room_atom, std::uint64_t generation): the transport attached at that generation has
/// drained (transport::when_room); sending the backlog may continue.
using room_atom = caf::atom_constant<caf::atom("s_room")>;

// -- parking: a detached session becomes a record its registry keeps ---------
//
// (docs/architecture.md, "Detached sessions"). The broker is the point that
// orders a session's deliveries while it moves between actor and record.

/// (park_atom, caf::actor registry, std::string id, std::vector<std::string> channels) ->
/// ok_atom: a detached, idle session -> its broker. In one step the broker takes the session off
/// those channels, subscribes the registry in its place (a count of parked sessions per channel;
/// cluster interest unchanged), sends the registry (parked_atom, id, channels) and answers; every
/// delivery it sent the session before reaches the session before the answer.
/// Also (park_atom): registry -> a session it restored, sent after the record and whatever
/// waited for it (at once), or a hold later (a lookup's attach may not come): park again unless
/// a connection attached since the restore.
using park_atom = caf::atom_constant<caf::atom("s_park")>;

/// (parked_atom, std::string id, std::vector<std::string> channels): broker -> registry, the
/// session `id` was moved: deliveries on those channels from now on are for its record.
/// (parked_atom, std::string id, parked_session record): the session -> its registry, after the
/// broker's answer: its state, with every delivery it got; then it quits.
/// (parked_atom) -> std::uint64_t: registry, sessions parked now (tests).
using parked_atom = caf::atom_constant<caf::atom("s_parked")>;

/// (unpark_atom, caf::actor session, std::vector<std::string> channels) -> ok_atom: registry ->
/// broker, subscribe `session` to those channels in place of one parked session. Every delivery
/// the broker sent the registry before reaches it before the answer. A null `session` only
/// drops the parked one (expired or ended).
using unpark_atom = caf::atom_constant<caf::atom("s_unpark")>;

/// (restore_atom, parked_session record, std::string token): registry -> the session it spawned
/// for a parked record, once the broker has moved it (unpark_atom): take this state; deliveries
/// held since the spawn follow it. A (park_atom) from the registry follows.
using restore_atom = caf::atom_constant<caf::atom("s_restore")>;

// -- connection (actors/connection.hpp) <- its session, <- itself -----------

/// (drop_conn_atom, std::uint16_t code, std::string reason): close the socket with `code`
/// and quit (4409 when the session was resumed on another connection).
using drop_conn_atom = caf::atom_constant<caf::atom("c_drop")>;

/// (conn_timer_atom): the transport's timer fired (transport::set_timer): the
/// earliest of the handshake deadline, the next ping and the silence deadline
/// is due.
using conn_timer_atom = caf::atom_constant<caf::atom("c_timer")>;

// -- broker (actors/broker.hpp) ----------------------------------------------
// (subscribe_atom, ...), (unsubscribe_atom, ...), (publish_atom, ...) as above, plus:

/// (fanout_atom, std::string channel, shared_body body): a publish by the server itself (an
/// upstream link's frame, a state report on `sys.*`): to every subscriber, whoever owns the
/// channel. No reply.
using fanout_atom = caf::atom_constant<caf::atom("b_fanout")>;

/// (own_channel_atom, std::string channel, caf::actor owner): client publishes on `channel`
/// go to `owner` as (up_forward_atom, ...) from now on; the broker monitors the owner and
/// forgets its channels when it ends.
using own_channel_atom = caf::atom_constant<caf::atom("b_own")>;

/// (broker_limit_atom, std::uint64_t max_channels): a reload's limits.channels, for
/// subscriptions from now on. No reply.
using broker_limit_atom = caf::atom_constant<caf::atom("b_limit")>;

/// (disown_channel_atom, std::string channel, caf::actor owner): undoes own_channel_atom.
using disown_channel_atom = caf::atom_constant<caf::atom("b_disown")>;

/// (broker_stats_atom) -> std::uint64_t: channels with at least one subscriber.
/// (broker_stats_atom, std::string channel) -> std::uint64_t: subscribers of `channel`.
using broker_stats_atom = caf::atom_constant<caf::atom("b_stats")>;

// -- upstream links (actors/upstreams.hpp) -----------------------------------
//
// The `upstreams` actor owns every upstream's channel, buffer and state, and
// supervises the link actors (actors/upstream_link.hpp), one per upstream,
// each living exactly as long as its socket.

/// (up_forward_atom, std::string channel, shared_body body) -> (std::uint64_t 0, std::string
/// upstream) | errc::upstream_down: broker -> upstreams, a client publish on an owned channel.
using up_forward_atom = caf::atom_constant<caf::atom("u_forward")>;

/// (up_owners_atom) -> std::vector<std::string>: the channels owned (a new broker asks).
using up_owners_atom = caf::atom_constant<caf::atom("u_owners")>;

/// (up_open_atom, std::string name, caf::actor link, std::string subprotocol): link ->
/// upstreams, the link's socket is open; buffered forwards may go.
using up_open_atom = caf::atom_constant<caf::atom("u_open")>;

/// (up_send_atom, std::uint64_t id, std::string text): upstreams -> link, one forward.
using up_send_atom = caf::atom_constant<caf::atom("u_send")>;

/// (up_written_atom, std::string name, std::uint64_t id): the socket -> upstreams, the forward
/// `id` (and every one before it) is written; it leaves the buffer.
using up_written_atom = caf::atom_constant<caf::atom("u_written")>;

/// (up_text_atom, std::string text): the socket -> its link actor, one text frame.
using up_text_atom = caf::atom_constant<caf::atom("u_text")>;

/// (up_sock_open_atom, std::string subprotocol): the socket -> its link actor, upgraded.
using up_sock_open_atom = caf::atom_constant<caf::atom("u_sockopen")>;

/// (up_closed_atom, std::string how): the socket -> its link actor, it ended (describe()).
using up_closed_atom = caf::atom_constant<caf::atom("u_closed")>;

/// (up_close_t_atom): a link's graceful close took too long; it quits anyway.
using up_close_t_atom = caf::atom_constant<caf::atom("u_close_t")>;

/// (add_upstream_atom, upstream_config) -> ok_atom | errc::{invalid_upstream, duplicate_child}:
/// start one more upstream link; the others are not touched.
using add_upstream_atom = caf::atom_constant<caf::atom("u_add")>;

/// (remove_upstream_atom, std::string name) -> ok_atom once its link is stopped |
/// errc::unknown_child. Its channel is no longer owned; its buffer is dropped (logged).
using remove_upstream_atom = caf::atom_constant<caf::atom("u_remove")>;

/// (update_upstream_atom, upstream_config) -> ok_atom | error: replace the upstream of that
/// name (its link restarts with the new config; its buffer is kept).
using update_upstream_atom = caf::atom_constant<caf::atom("u_update")>;

/// (up_status_atom) -> std::vector<upstream_status>: every upstream's state, in config order.
using up_status_atom = caf::atom_constant<caf::atom("u_status")>;

/// One upstream as reported by up_status_atom and on `sys.upstream.NAME`.
struct upstream_status {
  std::string name;
  std::string channel;
  std::string url;
  std::string state;              // connecting | up | down | given_up | stopped
  std::string reason;             // down, given_up, stopped: why the link ended
  std::uint64_t buffered = 0;     // forwards held (waiting, or written but not confirmed)
  std::uint64_t dropped = 0;      // forwards dropped because the buffer was full (total)
  std::uint32_t restarts = 0;     // links started after the first one
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upstream_status& x) {
  return f(caf::meta::type_name("upstream_status"), x.name, x.channel, x.url, x.state, x.reason,
           x.buffered, x.dropped, x.restarts);
}

// -- cluster (actors/cluster.hpp) --------------------------------------------
//
// Every type below is made of atoms, strings, integers, vectors of strings
// and actor handles, which CAF serialises without registration; the cluster
// test sends each across two real nodes.

/// (cl_hello_atom) -> caf::actor: asked of a node's published contact actor,
/// which answers with that node's running cluster actor.
using cl_hello_atom = caf::atom_constant<caf::atom("cl_hello")>;

/// (cl_link_atom, caf::actor remote_cluster, std::string address) -> std::string peer name: a
/// peer link -> its cluster actor: the link to the configured `address` reached
/// `remote_cluster`; join it.
using cl_link_atom = caf::atom_constant<caf::atom("cl_link")>;

/// (cl_join_atom, std::string node, caf::actor cluster, std::string public_url,
/// std::string address, std::vector<std::string> interest) -> (std::string node,
/// std::string public_url, std::string address, std::vector<std::string> interest): cluster <->
/// cluster, each side learns the other's name, URL, middleman address (`[cluster] listen`) and
/// channels with subscribers. Errors: errc::duplicate_node.
using cl_join_atom = caf::atom_constant<caf::atom("cl_join")>;

/// (cl_leave_atom, std::string node): cluster -> every peer's cluster, this node stops on
/// purpose (drain, shutdown); its cluster actor's down that follows is a leave, not a loss.
using cl_leave_atom = caf::atom_constant<caf::atom("cl_leave")>;

/// (cl_status_atom) -> std::vector<cluster_member_info>: the cluster's view of its members
/// (GET /api/cluster, and the peers a cluster-wide admin question goes to).
using cl_status_atom = caf::atom_constant<caf::atom("cl_status")>;

/// (cl_admin_atom, std::uint8_t kind, std::string after, std::uint64_t limit, std::string state)
/// -> (std::uint16_t status, std::string body): a node's admin -> a peer's cluster -> its admin
/// responder (admin_name): that node's own answer to a paged admin list (`kind` is a
/// net::admin_request::kind: list_sessions or channels), as its HTTP status and JSON body.
using cl_admin_atom = caf::atom_constant<caf::atom("cl_admin")>;

/// (cl_interest_atom, std::string channel) -> ok_atom: broker -> cluster, the channel got its
/// first local subscriber; answered once every peer has acknowledged.
/// (cl_interest_atom, std::string channel, false): broker -> cluster, it lost its last one.
/// Also cluster -> cluster: (cl_interest_atom, std::string node, std::string channel, bool on)
/// -> ok_atom once the receiving node's broker has been told.
using cl_interest_atom = caf::atom_constant<caf::atom("cl_intr")>;

/// (cl_peer_intr_atom, caf::actor peer_cluster, std::string channel, bool on): cluster ->
/// broker, forward (or stop forwarding) publishes on `channel` to that peer.
using cl_peer_intr_atom = caf::atom_constant<caf::atom("cl_pintr")>;

/// (cl_peer_gone_atom, caf::actor peer_cluster): cluster -> broker, forget that peer.
using cl_peer_gone_atom = caf::atom_constant<caf::atom("cl_pgone")>;

/// (cl_broker_atom): a new broker -> cluster: send me every peer's interest (cl_peer_intr_atom).
using cl_broker_atom = caf::atom_constant<caf::atom("cl_broker")>;

/// (cl_fanout_atom, std::string channel, std::string body): broker -> a peer's cluster, a
/// publish made on this node; the peer delivers it to its own subscribers only.
using cl_fanout_atom = caf::atom_constant<caf::atom("cl_fanout")>;

/// (cl_deliver_atom, std::string channel, shared_body body): cluster -> its broker, a publish
/// from a peer: to local subscribers only, never forwarded again.
using cl_deliver_atom = caf::atom_constant<caf::atom("cl_deliver")>;

/// (cl_find_atom, std::string session, std::string token) -> caf::actor session |
/// errc::resume_unknown | errc::session_expired: registry -> cluster, a resume of a session
/// this node does not hold; the cluster asks every peer (cl_lookup_atom).
using cl_find_atom = caf::atom_constant<caf::atom("cl_find")>;

/// (cl_lookup_atom, std::string session, std::string token) -> the same: cluster -> a peer's
/// cluster -> its registry, which answers for its own sessions only.
using cl_lookup_atom = caf::atom_constant<caf::atom("cl_lookup")>;

/// (cl_attach_atom, caf::actor connection, std::string peer, std::string token,
/// std::uint64_t last_seq) -> ok_atom | errc::resume_unknown | errc::resume_overflow: registry ->
/// a session on another node, the resume of resume_atom for a connection on this node. The
/// session writes to it through a remote transport (actors/remote_transport.hpp).
using cl_attach_atom = caf::atom_constant<caf::atom("cl_attach")>;

/// (cl_members_atom) -> std::vector<std::string>: the peers joined now, by node name.
using cl_members_atom = caf::atom_constant<caf::atom("cl_members")>;

/// (cl_targets_atom) -> (std::vector<caf::actor> clusters, std::vector<std::string> urls): the
/// joined peers' cluster actors and public URLs (a draining registry picks handover targets).
using cl_targets_atom = caf::atom_constant<caf::atom("cl_targets")>;

/// (cl_barrier_atom) -> ok_atom: session -> its broker -> the cluster. Answered once every
/// peer's broker has echoed (cl_echo_atom) along the path its publishes take to this node, so
/// every publish a peer sent here before the barrier has been delivered before the answer.
/// Also cluster -> peer cluster -> its broker: (cl_barrier_atom, std::uint64_t token,
/// caf::actor origin_cluster).
using cl_barrier_atom = caf::atom_constant<caf::atom("cl_barrier")>;

/// (cl_echo_atom, std::uint64_t token): a peer's broker -> the cluster that sent the barrier.
using cl_echo_atom = caf::atom_constant<caf::atom("cl_echo")>;

/// (cl_adopt_atom, session_handover) -> caf::actor: a draining node's session -> a peer's
/// cluster -> its registry: take this session over. Answered by the new session once it is
/// subscribed everywhere (errc::duplicate_child if the id is taken there).
using cl_adopt_atom = caf::atom_constant<caf::atom("cl_adopt")>;

/// (cl_handoff_atom, std::string channel, std::string body, std::uint64_t origin,
/// std::uint64_t counter): a handed-over session -> its successor, a delivery it got after the
/// snapshot, in its order.
using cl_handoff_atom = caf::atom_constant<caf::atom("cl_handoff")>;

/// (cl_handoff_sub_atom, std::string channel, bool on) -> ok_atom: a handed-over session ->
/// its successor, its client subscribed (or unsubscribed) during the handover; answered once
/// the successor's subscription is confirmed.
using cl_handoff_sub_atom = caf::atom_constant<caf::atom("cl_hsub")>;

/// (cl_handoff_done_atom, std::uint64_t last_cseq): the last of the handed-over session's
/// messages to its successor; nothing more comes from it.
using cl_handoff_done_atom = caf::atom_constant<caf::atom("cl_hdone")>;

/// (handover_atom, caf::actor target_cluster, std::string target_url, std::uint32_t retry_ms)
/// -> ok_atom: registry -> session during a drain; answered once the session lives on the
/// target and its client was sent `goaway` (the old session then ends).
using handover_atom = caf::atom_constant<caf::atom("s_handover")>;

/// (drain_atom, duration bound) -> (std::uint64_t handed_over, std::uint64_t failed): node ->
/// registry, hand every session to live peers, at most a few at a time.
using drain_atom = caf::atom_constant<caf::atom("s_drain")>;

/// A session as handed over between nodes (cl_adopt_atom).
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
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_handover& x) {
  return f(caf::meta::type_name("session_handover"), x.id, x.token, x.seq, x.last_cseq,
           x.acked_through, x.lost_through, x.channels, x.buffer_seqs, x.buffer_bodies,
           x.through_origins, x.through_counters, x.identity);
}

// -- connection <-> a session on another node ---------------------------------

/// (conn_out_atom, std::string frame): a remote session -> its connection: write this frame.
using conn_out_atom = caf::atom_constant<caf::atom("c_out")>;

/// (conn_credit_atom, std::uint64_t bytes): connection -> its remote session: that many bytes
/// of conn_out_atom frames have left the connection's queue (flow control).
using conn_credit_atom = caf::atom_constant<caf::atom("c_credit")>;

// -- admin API (docs/api.md) -> registry, session, broker ---------------------
//
// Asked by the node's admin actors (app/admin.hpp); never by clients.

/// (adm_list_atom, std::string after, std::uint64_t limit) -> (std::vector<std::string> ids,
/// std::vector<caf::actor> sessions, bool more): registry, up to `limit` of this node's
/// sessions with an id above `after`, by id (the actor of each; null for a parked one: ask the
/// registry by id); `more`: there are others after them.
using adm_list_atom = caf::atom_constant<caf::atom("adm_list")>;

/// (adm_info_atom, std::string id) -> session_info | errc::unknown_session: registry, what the
/// session is now (answered from the record of a parked one, else by the session).
/// Also registry -> session: (adm_info_atom) -> session_info.
using adm_info_atom = caf::atom_constant<caf::atom("adm_info")>;

/// (adm_end_atom, std::string id) -> ok_atom | errc::unknown_session: registry, end the session
/// now; an attached client is closed with 4410. Also registry -> session: (adm_end_atom) ->
/// ok_atom | errc::session_parked.
using adm_end_atom = caf::atom_constant<caf::atom("adm_end")>;

/// (adm_cut_atom, std::string id) -> ok_atom | errc::not_attached | errc::unknown_session:
/// registry, close the session's connection with 4411 and detach it (the client may resume).
/// Also registry -> session: (adm_cut_atom) -> ok_atom | errc::not_attached.
using adm_cut_atom = caf::atom_constant<caf::atom("adm_cut")>;

/// (adm_chans_atom, std::string after, std::uint64_t limit) -> (std::vector<channel_info>,
/// bool more): broker, up to `limit` channels named above `after`, by name.
using adm_chans_atom = caf::atom_constant<caf::atom("adm_chans")>;

/// One session as the admin API shows it (never its resume token).
struct session_info {
  std::string id;
  bool attached = false;
  std::string peer;                     // attached: the client's address
  std::string subject;                  // [auth]: the JWT's sub; else empty
  std::vector<std::string> channels;    // subscriptions, by name
  std::uint64_t seq = 0;                // of the last message produced
  std::uint64_t acked = 0;              // highest seq the client acknowledged
  std::uint64_t buffered = 0;           // replay buffer: messages held
  std::uint64_t buffered_bytes = 0;     // replay buffer: their bytes
  std::uint64_t buffer_max = 0;         // session.replay_buffer
  std::uint64_t buffer_max_bytes = 0;   // session.replay_buffer_bytes
  std::int64_t since_ms = 0;            // attached or detached since (Unix ms)
  std::int64_t expires_ms = 0;          // detached: when the resume window ends (Unix ms)
  /// attached: the CAF node id (to_string) of the node holding the connection, which is
  /// another node's for a session resumed through it; empty when detached.
  std::string connection_node;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_info& x) {
  return f(caf::meta::type_name("session_info"), x.id, x.attached, x.peer, x.subject, x.channels,
           x.seq, x.acked, x.buffered, x.buffered_bytes, x.buffer_max, x.buffer_max_bytes,
           x.since_ms, x.expires_ms, x.connection_node);
}

/// One node of the cluster as this node sees it (cl_status_atom).
struct cluster_member_info {
  std::string node;        // its `[cluster] node`; empty for a configured peer never joined
  std::string address;     // its middleman address: as it announced it, or as configured
  std::string public_url;  // its `[cluster] public_url`
  std::string state;       // "up", "down" (lost), "left" (stopped on purpose), "connecting"
  std::int64_t since_ms = 0;      // in this state since (Unix ms); 0: never joined
  std::int64_t last_seen_ms = 0;  // up: now; otherwise when it was last up (0: never)
  std::string caf_node;    // the CAF node id of its process (to_string); empty if never joined
  caf::actor_addr actor;   // up: its cluster actor; otherwise null
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_member_info& x) {
  return f(caf::meta::type_name("cluster_member_info"), x.node, x.address, x.public_url,
           x.state, x.since_ms, x.last_seen_ms, x.caf_node, x.actor);
}

/// One channel as the admin API shows it.
struct channel_info {
  std::string name;
  std::uint64_t subscribers = 0;  // sessions on this node
  std::uint64_t peers = 0;        // cluster nodes with subscribers of their own
  bool owned = false;             // an upstream link owns it (up_status_atom names which)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, channel_info& x) {
  return f(caf::meta::type_name("channel_info"), x.name, x.subscribers, x.peers, x.owned);
}

// -- names in CAF's actor registry (sys.registry()) --------------------------

/// The running session registry; connections look it up on every hello/resume,
/// so a restarted registry is found. Put and erased by the registry itself.
inline constexpr caf::atom_value session_registry_name = caf::atom("wsv_reg");

/// The broker of the running session registry. Put and erased by the registry.
inline constexpr caf::atom_value broker_name = caf::atom("wsv_broker");

/// The running `upstreams` actor. Put and erased by it.
inline constexpr caf::atom_value upstreams_name = caf::atom("wsv_ups");

/// The running cluster actor (cluster nodes only). Put and erased by it.
inline constexpr caf::atom_value cluster_name = caf::atom("wsv_clu");

/// The node's admin responder (app/admin.hpp), which answers a peer's cl_admin_atom with this
/// node's own admin answer. Put by the node.
inline constexpr caf::atom_value admin_name = caf::atom("wsv_admin");

/// One encoded payload shared by every recipient (never copied per recipient).
using shared_body = std::shared_ptr<const std::string>;

/// Named supervision policies, as in `config::policies`.
using policy_map = std::map<std::string, policy>;

/// Declared in actors/supervisor.hpp. Holds a std::function, so it can only be
/// sent within one process.
struct child_spec;

/// Declared in actors/parked_session.hpp. Holds shared bodies: it stays in one process.
struct parked_session;

}  // namespace wsvisor

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::child_spec)
// A parked session moves between the actors of one node only.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::parked_session)
// Runtime changes of upstreams come from this node's own configuration.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::upstream_config)
// A reload's settings come from this node's own configuration file.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::policy_map)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::registry_settings)
// A shared body lives in this process's memory: sessions and the broker of one
// node pass the pointer, never the bytes. Cluster fan-out will send strings.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::shared_body)
