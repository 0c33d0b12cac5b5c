#pragma once

/// The state of one session actor (actors/session/session.hpp): what it
/// holds and the named operations its behaviour dispatches to
/// (actors/session/session.cpp). Its parts, each named: what it counts
/// (session_counting), the answers kept in the client's order (answer_order),
/// its channels and presence memberships (session_channels.cpp),
/// flow control towards the transport (delivery_flow), parking
/// (parking_flags, session_parking.cpp), its replica (session_replica,
/// session_replica.cpp) and the two sides of a handover between nodes
/// (handing_over, adopting; session_handover.cpp).
/// Touched only by its actor.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/logger.h>
#include <caf/actor.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/messages.hpp"
#include "actors/remote_transport.hpp"
#include "actors/session/answer_order.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "actors/session/parked_session.hpp"
#include "actors/session/replay_buffer.hpp"
#include "actors/session/session.hpp"
#include "actors/session/session_counting.hpp"
#include "actors/session/session_replica.hpp"
#include "actors/transport.hpp"
#include "log/log.hpp"
#include "log/throttle.hpp"
#include "metrics/node_metrics.hpp"
#include "protocol/codec.hpp"

namespace wsvisor {

/// Bytes a session keeps in flight to a connection on another node.
inline constexpr std::uint64_t remote_window = 256 * 1024;

struct session_state;
using session_actor = caf::stateful_actor<session_state>;

struct session_state {
  static inline const char* name = "session";

  explicit session_state(session_actor* self) : self_(self) {}
  // Whatever ends the session (bye, expiry, parking, a handover, an error),
  // a count of refusals still held back is logged, not lost.
  ~session_state() {
    counting_.count_as(session_counting::gauge::none);
    say_held_back();
    forget_replica();
  }
  session_state(const session_state&) = delete;
  session_state& operator=(const session_state&) = delete;

  // -- the parts of a session ----------------------------------------------------

  /// Flow control towards the attached transport (pump()): every message
  /// goes out through the replay buffer, handed over while the transport has
  /// room.
  struct delivery_flow {
    std::uint64_t handed_up_to = 0;  // messages up to this seq are with the transport
    bool waiting_for_room = false;   // the transport will say when it drains (room_atom)
  };

  /// A channel delivery with where it came from: the origin node's broker
  /// incarnation and its counter (0, 0 on a single node). What a handover
  /// forwards and what an adopting or restoring session holds back.
  struct origin_delivery {
    std::string channel;
    shared_body body;
    std::uint64_t origin;
    std::uint64_t counter;
    std::int64_t accepted;  // deliver_atom's steady_clock_ns; 0: not measured
  };

  /// A draining node's session handing itself to a successor on a peer
  /// (session_handover.cpp).
  struct handing_over {
    bool under_way = false;
    caf::actor successor;  // null until the successor answers the snapshot
    // Until the successor is known: deliveries after the snapshot, and the
    // client's subscribes (true) and unsubscribes (false).
    std::vector<origin_delivery> since_snapshot;
    std::vector<std::pair<std::string, bool>> subscription_changes;
    // Subscription changes the successor has not confirmed yet; the barrier
    // waits for them.
    std::size_t unconfirmed_subscriptions = 0;
    bool barrier_running = false;
    bool barrier_stale = false;  // a subscription changed after the barrier began
    std::optional<caf::typed_response_promise<caf::ok_atom>> done;  // the drain's request
    std::string successor_url;   // what the client's goaway names
    std::uint32_t retry_ms = 0;  // the goaway's retry hint
  };

  /// The successor's side: a session adopted from a draining node's.
  struct adopting {
    bool under_way = false;  // direct deliveries are held until the predecessor is done
    caf::actor predecessor;
    // The channels still being subscribed here; the adopt is answered
    // (ready) once there are none.
    std::size_t resubscribing = 0;
    std::optional<caf::typed_response_promise<caf::actor>> ready;
  };

  /// A detached session becoming a record its registry keeps, or an actor
  /// spawned for such a record (session_parking.cpp).
  struct parking_flags {
    bool wanted = false;           // detached: become a record as soon as idle
    bool started = false;          // asked the broker; the actor ends once it answers
    bool awaiting_record = false;  // spawned for a parked record that has not arrived yet
  };

  session_actor* self_;
  std::shared_ptr<spdlog::logger> log_ = log::get("session");
  session_counting counting_;  // gauges, deliveries and their latency (docs/metrics.md)

  /// Pushes into the replay buffer, counting evictions and stamping the time:
  /// `accepted`, when the broker took the message (deliver_atom), the start
  /// of its delivery latency; 0: now.
  void buffer(std::uint64_t seq, shared_body body, std::int64_t accepted = 0);

  std::string id_;
  std::string token_;
  session_config config_;
  caf::actor broker_;
  caf::actor registry_;      // keeps the record once parked; null: never parks
  caf::actor conn_;          // the attached connection; null while detached
  transport_ptr transport_;  // conn_'s transport; null while detached
  // transport_ when conn_ lives on another node; it takes the connection's credit.
  std::shared_ptr<remote_transport> remote_;
  replay_buffer buffer_{0, 0};
  std::uint64_t seq_ = 0;        // seq of the last message produced
  std::uint64_t last_cseq_ = 0;  // highest accepted publish cseq
  // Bumped on every attach and detach: a room notice of an earlier generation
  // is a former transport's.
  std::uint64_t generation_ = 0;
  // One expire_atom at most is pending (CAF 0.17 cannot cancel a
  // delayed_send): a detach while one is pending only moves the deadline,
  // and the pending one, when it comes, waits again for what is left. An
  // expiry armed per detach would hold about 220 bytes (a mailbox element
  // and two clock entries) per cut for a whole resume window: the soak's
  // RSS creep.
  bool expiry_pending_ = false;
  // The last attach or detach, for the admin API.
  std::chrono::system_clock::time_point attached_or_detached_at_ = std::chrono::system_clock::now();
  // Detached: when the resume window ends (handed on with a parked record).
  std::chrono::steady_clock::time_point resume_deadline_{};
  std::set<std::string> channels_;
  // Of channels_: asked of the broker, not yet answered.
  std::multiset<std::string> subscribes_at_broker_;
  // -- presence (docs/protocol.md, "Presence") ----------------------------------
  std::string member_;                    // member_of(id_)
  std::set<std::string> presence_;        // of channels_: joined as a member
  std::set<std::string> presence_asked_;  // subscribes with presence not decided yet

  /// Whether a delivery on `channel` is for this session: a presence event
  /// only on a channel it is a member of, and never its own.
  bool wants(const std::string& channel, const std::string& body) const;

  /// Joins `channel` (subscribed) as a member, then answers `ticket`
  /// (`subscribed`, or `too_many_members`; `fresh`: the subscription was made
  /// for this subscribe and goes with the refusal). `change`: the replica
  /// change the answer waits for.
  void join_presence(const std::string& channel, std::uint64_t ticket, bool fresh,
                     std::uint64_t change);

  /// Tells the broker this session's connection came or went (its memberships).
  void say_presence(bool online);

  void on_presence_query(const std::string& channel);
  client_identity identity_;             // [auth]: subject and allowed channels
  std::uint64_t max_subscriptions_ = 0;  // limits.subscriptions_per_session; 0 = none
  delivery_flow flow_;
  answer_order answers_;

  /// Reserves the next place in the order of answers.
  std::uint64_t expect_answer(std::uint64_t cseq) { return answers_.reserve(cseq); }

  /// The answer for `ticket` has come: sends every answer now due.
  void answer(std::uint64_t ticket, frame_text frame);

  /// An answer that is ready now, sent after those still outstanding.
  void reply(frame_text frame);

  bool bye_pending_ = false;  // bye arrived while publishes were being answered
  // The connection gave up on its client (connection_close_atom) while answers
  // were outstanding: the close waits for them.
  std::optional<std::pair<std::uint16_t, std::string>> close_pending_;

  void close_after_answers(std::uint16_t code, std::string reason);

  void close_now();

  // -- log lines a client can repeat (log/throttle.hpp) ------------------------
  static constexpr std::string_view channel_refusal = "subscribe refused: limits.channels reached";
  log::throttle refusals_;  // of channel_refusal: a client can send thousands

  void log_refusal(const std::string& channel, const std::string& limit);

  /// A channel this session holds could not be subscribed on this node (an
  /// adopted session's, or one its predecessor's client asked for during the
  /// handover): the session ends. Once per session: not held back.
  void lost_channel(const std::string& channel, caf::error err);

  /// The connection ends (or the session): what was held back is said now.
  void say_held_back();

  // -- handover (docs/cluster.md, "Graceful drain") ---------------------------
  duration peer_timeout_{5'000};
  handing_over handing_over_;
  adopting adopting_;
  // Cluster nodes: per origin node, the highest delivery counter appended
  // (deliveries from one origin arrive in counter order). Handed over with
  // the session, so that its successor drops what it already has.
  per_origin_counters origin_counters_;

  std::uint64_t counter_from(std::uint64_t origin) const {
    return counter_of(origin_counters_, origin);
  }

  // Adopting: direct deliveries until the predecessor is done. Awaiting a
  // parked record: direct deliveries until the record arrives. A null body
  // is a gap (on_channel_gap).
  std::vector<origin_delivery> held_deliveries_;

  void forward_to_successor(const origin_delivery& d);

  /// Publishes on `channel` this session should have had were lost between
  /// nodes (channel_gap_atom): a seq is spent on the gap, marked lost, so no
  /// resume from before it is taken as complete (it gets `overflow`), and an
  /// attached client is closed with 4412 to resume.
  void on_channel_gap(const std::string& channel);

  void lose_gap(const std::string& channel);

  void append(const std::string& channel, shared_body body, std::uint64_t origin,
              std::uint64_t counter, std::int64_t accepted);

  session_handover snapshot() const;

  /// Successor: the predecessor is done (or gone): held deliveries it did not
  /// forward are appended, in the order they came.
  void end_adoption(std::uint64_t last_cseq);

  // -- the replica (docs/cluster.md, "Replicas"; session_replica.cpp) ----------
  session_replica replica_;

  /// The client may see the messages up to this seq: all of them without a
  /// replica, else those the replica holds.
  std::uint64_t visible_seq() const { return gated() ? replica_.held_seq : seq_; }

  bool gated() const { return replica_.local && !replica_.no_peer; }

  /// Marks a change an answer will wait for (a cseq taken, a channel added or
  /// removed): the update that carries it is the one to wait for.
  std::uint64_t changed() { return ++replica_.changes; }

  /// Runs `answer` once the replica holds change `change` (at once without a
  /// replica). An update sent after the change and answered already, or in
  /// flight, carries it: no further round trip. `copy_follows`: this
  /// session's own copy of a publish is on its way from the broker (see
  /// own_copy_follows), and its delivery sends the update.
  void after_replicated(std::uint64_t change, std::function<void()> answer,
                        bool copy_follows = false);

  /// Whether this node's broker, having answered a publish on `channel`
  /// itself (no upstream owns it), sends this session a copy right after
  /// the answer: the session was subscribed there when it took the publish.
  bool own_copy_follows(const std::string& channel, const std::string& owner) const;

  /// replicate() once the session has handled what its mailbox holds now
  /// (replicate_atom), so that changes made meanwhile share one update.
  void replicate_soon();
  void on_replicate_due();

  /// Sends the replica what it lacks, if fewer than two updates are in
  /// flight; places the replica first if it has none.
  void replicate();

  void place_replica();

  void replicated(std::uint64_t id);

  void replica_failed(const caf::error& err);

  /// This node's replica store ended (it is restarted by its supervisor):
  /// what was in flight is lost with it, the replica is placed anew through
  /// the next one.
  void local_store_gone(const caf::error& reason);

  /// Looks this node's replica store up again after it ended; false while
  /// there is none yet (a retry is then on its way).
  bool find_local_store();

  /// replicate() again after lost_again_pause, unless already due.
  void retry_replica_later();

  /// Message `seq_` came on `channel` from (origin, counter): an update names
  /// it instead of carrying it if the replica's node receives that channel.
  void note_ref(const std::string& channel, std::uint64_t origin, std::uint64_t counter);

  /// The session ends (or hands itself over): its replica goes, unless the
  /// session parks (the record keeps it) or another copy took over.
  void forget_replica();

  // -- parking (docs/architecture.md, "Detached sessions") ---------------------
  parking_flags parking_;

  /// Nothing waits for an answer, a subscription, a predecessor or a successor.
  bool idle() const;

  /// Parks if detached, idle and wanted; true if it started to.
  bool try_park();

  /// The broker has moved us: every delivery it sent here is in the buffer.
  /// The record goes to the registry, which files it under our channels
  /// from the broker's notice on, and the actor ends.
  void hand_record();

  /// A parked record, moved here by the broker (unpark_atom) before it came.
  void restore(parked_session& rec, std::string token);

  void resubscribed();

  void end_with_bye() { end(1000, "bye", "bye"); }

  void expire();

  /// Takes the session off every channel at the broker now (the broker would
  /// also drop it on its down_msg): no more fan-out is spent on it.
  void leave_channels();

  /// Ends the session: an attached client is closed with `code`.
  void end(std::uint16_t code, std::string close_reason, std::string_view why);

  void send(out_frame frame);

  void send_text(frame_text text) { send(out_frame{std::move(text), nullptr}); }

  /// Watches the resume window, which ends at resume_deadline_ (the session is detached
  /// and not parked): arms the expire_atom unless one is pending.
  void arm_expiry();

  /// The pending expire_atom came: ends the session if it is still detached
  /// and its window has run out, waits for the rest of a window a later
  /// detach started, or does nothing while attached or parking (the registry
  /// watches a parked session's window).
  void expiry_due();

  void send_error(proto::error_code code, std::string message);

  void attach(caf::actor conn, transport_ptr transport, std::uint64_t client_holds,
              std::shared_ptr<remote_transport> remote = nullptr);

  /// Hands buffered messages after flow_.handed_up_to to the transport while it has room,
  /// then asks to be told when it drains. Every message therefore goes out
  /// through the replay buffer, and a backlog (a replay, a burst, a slow
  /// reader) never piles up in the socket's queue: memory stays bounded by
  /// the replay buffer plus half the send queue.
  void pump();

  // `replay`: a resume's count of buffered messages that follow.
  void welcome(bool resumed, std::string reason, std::optional<std::uint64_t> replay = {});

  std::string peer() const { return transport_ ? transport_->peer() : std::string{}; }

  session_info info() const;

  /// The admin API cuts the connection; the session stays, detached once
  /// the connection has gone (its down_msg).
  caf::result<caf::ok_atom> cut();

  /// A resume on `conn`, of this node or (with `remote`) of another one.
  caf::result<caf::ok_atom> resume(caf::actor conn, transport_ptr transport,
                                   std::shared_ptr<remote_transport> remote,
                                   const std::string& token, std::uint64_t last_seq);

  void publish(const std::string& channel, const shared_body& body, std::uint64_t cseq);

  /// The answer to a subscribe. Empty once the broker has been asked (the
  /// answer then comes under `ticket`, or a ticket taken now when 0).
  /// Nullopt while the answer depends on subscribes still at the broker,
  /// which may yet refuse them (too_many_channels): a pipelined subscribe
  /// beyond limits.subscriptions_per_session must not be refused for
  /// subscriptions this session ends up not holding, nor one already asked
  /// for be answered `subscribed` before the broker took it. The caller
  /// keeps it in the order of answers and `answer` decides it once
  /// everything before it is answered.
  std::optional<std::string> decide_subscribe(const std::string& channel, std::uint64_t ticket);

  /// A subscription change during a handover goes to the successor too.
  void forward_sub(const std::string& channel, bool on);

  /// Publishes sent here before the successor's subscriptions took effect may
  /// still be on their way from other nodes: the barrier waits for them. It
  /// runs once the successor has confirmed every subscription, and again if
  /// one changed meanwhile.
  void start_barrier();

  void finish_handover();

  /// True iff the message being handled comes from the attached connection.
  bool from_current();

  // -- what the behaviour dispatches to (actors/session/session.cpp) ----------
  // Each handles one message; the behaviour only unpacks it.

  /// Takes `args` (new, restored or adopted) and, for a new session, welcomes
  /// its client.
  void start(session_args args);
  /// A monitored actor ended: the attached connection (detach), or the
  /// predecessor of an adoption.
  void on_down(const caf::down_msg& msg);
  /// The record of a parked session arrived (restore_atom).
  void on_restore(parked_session& rec, std::string token);
  /// A resume through a connection on another node (remote_attach_atom).
  caf::result<caf::ok_atom> attach_remote(caf::actor conn, const std::string& peer,
                                          const std::string& token, std::uint64_t last_seq);
  void on_credit(std::uint64_t bytes);
  caf::result<caf::actor> on_welcomed();
  void on_subscribe(const std::string& channel, bool presence);
  void on_unsubscribe(const std::string& channel);
  void on_ack(std::uint64_t seq);
  void on_connection_answer(std::string frame);
  void on_connection_close(std::uint16_t code, std::string reason);
  void on_bye();
  void on_room(std::uint64_t generation);
  caf::result<caf::ok_atom> on_admin_end();
  /// The registry that restored us asks us to park again (park_atom).
  void on_park_request();
  // Handover (session_handover.cpp):
  /// Takes over `h` from a draining node's session `predecessor`.
  void adopt(session_handover& h, caf::actor predecessor);
  /// Hands the session to `target` (a peer's cluster actor) during a drain.
  caf::result<caf::ok_atom> hand_over(const caf::actor& target, const std::string& url,
                                      std::uint32_t retry_ms);
  /// The predecessor gave the handover up (handoff_abort_atom): this
  /// successor ends, unless the handover was done or another sent it.
  void on_handoff_abort();
  /// The predecessor forwarded a delivery it got after its snapshot.
  void on_handoff_delivery(const std::string& channel, std::string body, std::uint64_t origin,
                           std::uint64_t counter);
  /// The predecessor's client changed a subscription during the handover.
  caf::result<caf::ok_atom> on_handoff_subscription(const std::string& channel, bool on);
};

}  // namespace wsvisor
