#pragma once

/// The state of one session actor (actors/session/session.hpp): what it
/// holds and the named operations its behaviour dispatches to
/// (actors/session/session.cpp). Its parts: metrics, the answers kept in the
/// client's order, flow control towards the transport, parking, and the
/// session's side of a handover between nodes (session_handover.cpp).
/// Touched only by its actor.

#include <chrono>
#include <cstdint>
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
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "actors/session/parked_session.hpp"
#include "actors/session/replay_buffer.hpp"
#include "actors/session/session.hpp"
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
    count_as(counted::none);
    say_held_back();
  }
  session_state(const session_state&) = delete;
  session_state& operator=(const session_state&) = delete;

  // -- metrics (docs/metrics.md) ------------------------------------------------
  node_metrics_ptr metrics_;  // null: not measured
  enum class counted { none, attached, detached };
  counted counted_ = counted::none;   // which sessions gauge holds this session
  std::uint64_t handed_through_ = 0;  // highest seq ever handed to a transport

  metrics::gauge* gauge_of(counted c) const;

  void count_as(counted c);

  /// Pushes into the replay buffer, counting evictions and stamping the time:
  /// `accepted`, when the broker took the message (deliver_atom), the start
  /// of its delivery latency; 0: now.
  void buffer(std::uint64_t seq, shared_body body, std::int64_t accepted = 0);

  session_actor* self_;
  std::shared_ptr<spdlog::logger> log_ = log::get("session");
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
  // delayed_send): a detach while one is pending only moves due_, and the
  // pending one, when it comes, waits again for what is left. An expiry
  // armed per detach would hold about 220 bytes (a mailbox element and two
  // clock entries) per cut for a whole resume window: the soak's RSS creep.
  bool expiry_pending_ = false;
  // The last attach or detach, for the admin API.
  std::chrono::system_clock::time_point since_ = std::chrono::system_clock::now();
  // Detached: when the resume window ends (handed on with a parked record).
  std::chrono::steady_clock::time_point due_{};
  std::set<std::string> channels_;
  std::multiset<std::string> subscribing_;  // of channels_: asked of the broker, not yet answered
  client_identity identity_;                // [auth]: subject and allowed channels
  std::uint64_t max_subscriptions_ = 0;     // limits.subscriptions_per_session; 0 = none
  // Flow control: messages up to sent_ have been handed to the attached
  // transport; the rest of the buffer waits until the transport has room.
  std::uint64_t sent_ = 0;
  bool awaiting_room_ = false;
  // Answers that wait for another actor (a publish's broker answer, a
  // subscribe's confirmation across the cluster), oldest first, and the
  // answers queued behind them. They go out in order: an upstream's channel
  // answers later than a plain one, and the client must never see ack N+1
  // before ack N, nor `unsubscribed` before the `subscribed` it asked first.
  struct pending_answer {
    std::uint64_t ticket;
    std::uint64_t cseq;               // of a publish; 0 otherwise
    frame_text frame;                 // empty while the answer is outstanding
    std::string undecided_subscribe;  // a subscribe to this channel waits for earlier ones
  };
  // A vector, not a std::deque: libstdc++'s deque allocates 576 bytes even
  // while empty, which is what this almost always is.
  std::vector<pending_answer> answers_;
  std::uint64_t next_ticket_ = 0;

  bool awaiting_answer(std::uint64_t cseq) const;

  /// Reserves the next place in the order of answers.
  std::uint64_t expect_answer(std::uint64_t cseq);

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
  // Predecessor side: deliveries after the snapshot go to the successor too.
  bool handing_over_ = false;
  caf::actor successor_;
  struct stamped {
    std::string channel;
    shared_body body;
    std::uint64_t origin;
    std::uint64_t counter;
    std::int64_t accepted;
  };
  std::vector<stamped> since_snapshot_;  // until the successor is known
  // The client's subscribes and unsubscribes after the snapshot, for the
  // successor too; the barrier waits until it has confirmed each.
  std::vector<std::pair<std::string, bool>> sub_changes_;  // until the successor is known
  std::size_t unconfirmed_subs_ = 0;
  bool barrier_running_ = false;
  bool barrier_stale_ = false;  // a subscription changed after the barrier began
  std::optional<caf::typed_response_promise<caf::ok_atom>> handover_rp_;
  std::string handover_url_;
  std::uint32_t handover_retry_ms_ = 0;
  // Successor side: direct deliveries are held until the predecessor is done;
  // those it forwarded too (by origin and counter) are then dropped.
  bool adopting_ = false;
  caf::actor predecessor_;
  // Cluster nodes: per origin node, the highest delivery counter appended
  // (deliveries from one origin arrive in counter order). Handed over with
  // the session, so that its successor drops what it already has.
  through_marks through_;

  std::uint64_t through(std::uint64_t origin) const { return through_of(through_, origin); }

  void note_through(std::uint64_t origin, std::uint64_t counter);
  // Adopting: direct deliveries until the predecessor is done. Restoring:
  // direct deliveries until the record arrives.
  std::vector<stamped> held_;
  std::optional<caf::typed_response_promise<caf::actor>> ready_;  // adopt answer
  std::size_t resubscribing_ = 0;

  void forward_to_successor(const stamped& d);

  void append(const std::string& channel, shared_body body, std::uint64_t origin,
              std::uint64_t counter, std::int64_t accepted);

  session_handover snapshot() const;

  /// Successor: the predecessor is done (or gone): held deliveries it did not
  /// forward are appended, in the order they came.
  void end_adoption(std::uint64_t last_cseq);

  // -- parking (docs/architecture.md, "Detached sessions") ---------------------
  bool park_wanted_ = false;  // detached: become a record as soon as idle
  bool parking_ = false;      // asked the broker; the actor ends once it answers
  bool restoring_ = false;    // spawned for a parked record that has not arrived yet

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

  /// Watches the resume window, which ends at due_ (the session is detached
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

  /// Hands buffered messages after sent_ to the transport while it has room,
  /// then asks to be told when it drains. Every message therefore goes out
  /// through the replay buffer, and a backlog (a replay, a burst, a slow
  /// reader) never piles up in the socket's queue: memory stays bounded by
  /// the replay buffer plus half the send queue.
  void pump();

  void count_handed(const replay_buffer::entry& e, std::chrono::steady_clock::time_point now);

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
  void on_subscribe(const std::string& channel);
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
  /// The predecessor forwarded a delivery it got after its snapshot.
  void on_handoff_delivery(const std::string& channel, std::string body, std::uint64_t origin,
                           std::uint64_t counter);
  /// The predecessor's client changed a subscription during the handover.
  caf::result<caf::ok_atom> on_handoff_subscription(const std::string& channel, bool on);
};

}  // namespace wsvisor
