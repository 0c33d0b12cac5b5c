#include "actors/session.hpp"

#include <algorithm>
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
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/skip.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/errors.hpp"
#include "actors/ids.hpp"
#include "actors/messages.hpp"
#include "actors/parked_session.hpp"
#include "actors/protocol.hpp"
#include "actors/remote_transport.hpp"
#include "actors/replay_buffer.hpp"
#include "log/log.hpp"

namespace wsvisor {
namespace {

/// Bytes a session keeps in flight to a connection on another node.
constexpr std::uint64_t remote_window = 256 * 1024;

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
  counted counted_ = counted::none;  // which sessions gauge holds this session
  std::uint64_t handed_through_ = 0;  // highest seq ever handed to a transport

  metrics::gauge* gauge_of(counted c) const {
    if (c == counted::attached) return &metrics_->sessions_attached;
    if (c == counted::detached) return &metrics_->sessions_detached;
    return nullptr;
  }

  void count_as(counted c) {
    if (!metrics_ || c == counted_) return;
    if (auto* g = gauge_of(counted_)) g->sub();
    if (auto* g = gauge_of(c)) g->add();
    counted_ = c;
  }

  /// Pushes into the replay buffer, counting evictions and stamping the time:
  /// `accepted`, when the broker took the message (deliver_atom), the start
  /// of its delivery latency; 0: now.
  void buffer(std::uint64_t seq, shared_body body, std::int64_t accepted = 0) {
    buffer_message(buffer_, seq, std::move(body), accepted, metrics_.get());
  }

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
  client_identity identity_;             // [auth]: subject and allowed channels
  std::uint64_t max_subscriptions_ = 0;  // limits.subscriptions_per_session; 0 = none
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
    std::uint64_t cseq;  // of a publish; 0 otherwise
    frame_text frame;    // empty while the answer is outstanding
    std::string undecided_subscribe;  // a subscribe to this channel waits for earlier ones
  };
  // A vector, not a std::deque: libstdc++'s deque allocates 576 bytes even
  // while empty, which is what this almost always is.
  std::vector<pending_answer> answers_;
  std::uint64_t next_ticket_ = 0;

  bool awaiting_answer(std::uint64_t cseq) const {
    return std::any_of(answers_.begin(), answers_.end(),
                       [cseq](const pending_answer& a) { return a.cseq == cseq; });
  }

  /// Reserves the next place in the order of answers.
  std::uint64_t expect_answer(std::uint64_t cseq) {
    answers_.push_back({++next_ticket_, cseq, {}});
    return next_ticket_;
  }

  void answer(std::uint64_t ticket, frame_text frame) {
    for (auto& a : answers_)
      if (a.ticket == ticket) a.frame = std::move(frame);
    std::size_t sent = 0;
    while (sent < answers_.size()) {
      auto& front = answers_[sent];
      if (!front.undecided_subscribe.empty()) {
        // Every answer before it is out: decide it now, if that no longer
        // depends on subscribes at the broker.
        auto decided = decide_subscribe(front.undecided_subscribe, front.ticket);
        if (!decided) break;
        front.undecided_subscribe.clear();
        front.frame = std::move(*decided);
      }
      if (front.frame.empty()) break;
      send_text(std::move(front.frame));
      ++sent;
    }
    answers_.erase(answers_.begin(), answers_.begin() + static_cast<std::ptrdiff_t>(sent));
    if (bye_pending_ && answers_.empty()) end_with_bye();
    if (close_pending_ && answers_.empty()) close_now();
    if (answers_.empty()) try_park();
  }

  /// An answer that is ready now, sent after those still outstanding.
  void reply(frame_text frame) {
    if (answers_.empty()) return send_text(std::move(frame));
    answers_.push_back({++next_ticket_, 0, std::move(frame)});
  }

  bool bye_pending_ = false;  // bye arrived while publishes were being answered
  // The connection gave up on its client (conn_close_atom) while answers
  // were outstanding: the close waits for them.
  std::optional<std::pair<std::uint16_t, std::string>> close_pending_;

  void close_after_answers(std::uint16_t code, std::string reason) {
    close_pending_.emplace(code, std::move(reason));
    if (answers_.empty()) close_now();
  }

  void close_now() {
    auto [code, reason] = std::move(*close_pending_);
    close_pending_.reset();
    if (transport_) transport_->close(code, std::move(reason));
  }

  // -- log lines a client can repeat (log/throttle.hpp) ------------------------
  static constexpr std::string_view channel_refusal = "subscribe refused: limits.channels reached";
  log::throttle refusals_;  // of channel_refusal: a client can send thousands

  void log_refusal(const std::string& channel, const std::string& limit) {
    if (auto held = log::admit(refusals_))
      log::warn(*log_, channel_refusal,
                {{"session", id_}, {"peer", peer()}, {"channel", channel}, {"channels", limit}},
                *held);
  }

  /// A channel this session holds could not be subscribed on this node (an
  /// adopted session's, or one its predecessor's client asked for during the
  /// handover): the session ends. Once per session: not held back.
  void lost_channel(const std::string& channel, caf::error err) {
    if (err == errc::too_many_channels)
      log::warn(*log_, channel_refusal,
                {{"session", id_}, {"channel", channel}, {"channels", context_of(err)}});
    self_->quit(std::move(err));
  }

  /// The connection ends (or the session): what was held back is said now.
  void say_held_back() {
    if (auto held = refusals_.flush())
      log::warn(*log_, channel_refusal, {{"session", id_}, {"peer", peer()}}, *held);
  }

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

  void note_through(std::uint64_t origin, std::uint64_t counter) {
    wsvisor::note_through(through_, origin, counter);
  }
  // Adopting: direct deliveries until the predecessor is done. Restoring:
  // direct deliveries until the record arrives.
  std::vector<stamped> held_;
  std::optional<caf::typed_response_promise<caf::actor>> ready_;  // adopt answer
  std::size_t resubscribing_ = 0;

  void forward_to_successor(const stamped& d) {
    self_->send(successor_, cl_handoff_atom::value, d.channel, *d.body, d.origin, d.counter);
  }

  void append(const std::string& channel, shared_body body, std::uint64_t origin,
              std::uint64_t counter, std::int64_t accepted) {
    if (restoring_) {
      // Sent after the broker moved the record here: they follow it.
      held_.push_back({channel, std::move(body), origin, counter, accepted});
      return;
    }
    if (channels_.count(channel) == 0) return;  // fanned out before our unsubscribe
    // Each origin's deliveries come in counter order on one path; one at or
    // below what we hold is a copy of a message a predecessor handed us
    // (it reached this node after the handover was done).
    if (origin != 0 && counter <= through(origin)) return;
    if (adopting_) {
      held_.push_back({channel, std::move(body), origin, counter, accepted});
      return;
    }
    if (handing_over_) {
      stamped d{channel, body, origin, counter, accepted};
      if (successor_)
        forward_to_successor(d);
      else
        since_snapshot_.push_back(std::move(d));
    }
    note_through(origin, counter);
    buffer(++seq_, std::move(body), accepted);
    pump();
  }

  session_handover snapshot() const {
    session_handover h{.id = id_,
                       .token = token_,
                       .seq = seq_,
                       .last_cseq = last_cseq_,
                       .acked_through = buffer_.acked_through(),
                       .lost_through = buffer_.lost_through(),
                       .channels = {channels_.begin(), channels_.end()},
                       .identity = identity_};
    for (auto& e : buffer_) {
      h.buffer_seqs.push_back(e.seq);
      h.buffer_bodies.push_back(*e.body);
    }
    for (auto& [origin, counter] : through_) {
      h.through_origins.push_back(origin);
      h.through_counters.push_back(counter);
    }
    return h;
  }

  /// Successor: the predecessor is done (or gone): held deliveries it did not
  /// forward are appended, in the order they came.
  void end_adoption(std::uint64_t last_cseq) {
    if (!adopting_) return;
    adopting_ = false;
    last_cseq_ = std::max(last_cseq_, last_cseq);
    // append() drops what the snapshot or the predecessor's forwards hold.
    auto before = seq_;
    for (auto& d : held_) append(d.channel, std::move(d.body), d.origin, d.counter, d.accepted);
    auto kept = seq_ - before;
    log::info(*log_, "session taken over",
              {{"session", id_}, {"seq", seq_}, {"held", held_.size()}, {"kept", kept}});
    held_.clear();
    held_.shrink_to_fit();
    if (predecessor_) self_->demonitor(predecessor_);
    predecessor_ = nullptr;
    try_park();
  }

  // -- parking (docs/architecture.md, "Detached sessions") ---------------------
  bool park_wanted_ = false;  // detached: become a record as soon as idle
  bool parking_ = false;      // asked the broker; the actor ends once it answers
  bool restoring_ = false;    // spawned for a parked record that has not arrived yet

  /// Nothing waits for an answer, a subscription, a predecessor or a successor.
  bool idle() const {
    return answers_.empty() && subscribing_.empty() && !handing_over_ && !adopting_ &&
           resubscribing_ == 0 && !bye_pending_;
  }

  /// Parks if detached, idle and wanted; true if it started to.
  bool try_park() {
    if (!registry_ || conn_ || parking_ || restoring_ || !park_wanted_ || !idle()) return false;
    parking_ = true;
    auto* self = self_;
    std::vector<std::string> channels{channels_.begin(), channels_.end()};
    self->request(broker_, caf::infinite, park_atom::value, registry_, id_, std::move(channels))
        .then([self](caf::ok_atom) { self->state.hand_record(); },
              // The broker is gone (the registry ends with it).
              [self](caf::error& err) { self->quit(std::move(err)); });
    return true;
  }

  /// The broker has moved us: every delivery it sent here is in the buffer.
  /// The record goes to the registry, which files it under our channels
  /// from the broker's notice on, and the actor ends.
  void hand_record() {
    parked_session rec{.config = config_,
                       .identity = std::move(identity_),
                       .seq = seq_,
                       .last_cseq = last_cseq_,
                       .handed_through = handed_through_,
                       .max_subscriptions = max_subscriptions_,
                       .buffer = std::move(buffer_),
                       .channels = {channels_.begin(), channels_.end()},
                       .through = std::move(through_),
                       .since = since_,
                       .due = due_};
    log::debug(*log_, "session parked",
               {{"session", id_}, {"seq", seq_}, {"buffered", rec.buffer.size()}});
    // The record counts as detached from now on (the registry's gauge unit).
    counted_ = counted::none;
    self_->send(registry_, parked_atom::value, id_, std::move(rec));
    self_->quit();
  }

  /// A parked record, moved here by the broker (unpark_atom) before it came.
  void restore(parked_session& rec, std::string token) {
    token_ = std::move(token);
    config_ = rec.config;
    identity_ = std::move(rec.identity);
    seq_ = rec.seq;
    last_cseq_ = rec.last_cseq;
    handed_through_ = rec.handed_through;
    max_subscriptions_ = rec.max_subscriptions;
    buffer_ = std::move(rec.buffer);
    channels_.insert(rec.channels.begin(), rec.channels.end());
    through_ = std::move(rec.through);
    since_ = rec.since;
    due_ = rec.due;
    // The record's gauge unit is ours now.
    if (metrics_) counted_ = counted::detached;
    restoring_ = false;
    auto held = std::exchange(held_, {});
    for (auto& d : held) append(d.channel, std::move(d.body), d.origin, d.counter, d.accepted);
  }

  void resubscribed() {
    if (resubscribing_ > 0) --resubscribing_;
    if (resubscribing_ == 0 && ready_) {
      ready_->deliver(caf::actor_cast<caf::actor>(self_));
      ready_.reset();
    }
    // The predecessor may have ended first (end_adoption): then this was the
    // last thing keeping an adopted session from parking.
    try_park();
  }

  void end_with_bye() { end(1000, "bye", "bye"); }

  void expire() {
    log::info(*log_, "session expired", {{"session", id_}, {"dropped_messages", buffer_.size()}});
    self_->quit(make_error(errc::session_expired, id_));
  }

  /// Ends the session: an attached client is closed with `code`.
  void end(std::uint16_t code, std::string close_reason, std::string_view why) {
    log::info(*log_, "session ended", {{"session", id_}, {"reason", why}});
    if (transport_) transport_->close(code, std::move(close_reason));
    // The broker would also drop us on our down_msg; telling it now means
    // no more fan-out is spent on a session that is gone.
    auto me = caf::actor_cast<caf::actor>(self_);
    for (auto& channel : channels_) self_->send(broker_, unsubscribe_atom::value, channel, me);
    self_->quit();
  }

  void send(out_frame frame) {
    // The result needs no handling here: a transport that drops a frame
    // closes its socket, which ends the connection and detaches us; the
    // message stays in the replay buffer for the resume.
    if (transport_) transport_->send(std::move(frame));
  }

  void send_text(frame_text text) { send(out_frame{std::move(text), nullptr}); }

  /// Watches the resume window, which ends at due_ (the session is detached
  /// and not parked): arms the expire_atom unless one is pending.
  void arm_expiry() {
    if (expiry_pending_) return;
    expiry_pending_ = true;
    auto left = due_ - std::chrono::steady_clock::now();
    self_->delayed_send(self_, std::chrono::ceil<duration>(std::max(left, left.zero())),
                        expire_atom::value);
  }

  /// The pending expire_atom came: ends the session if it is still detached
  /// and its window has run out, waits for the rest of a window a later
  /// detach started, or does nothing while attached or parking (the registry
  /// watches a parked session's window).
  void expiry_due() {
    expiry_pending_ = false;
    if (conn_ || parking_) return;
    if (std::chrono::steady_clock::now() < due_) return arm_expiry();
    expire();
  }

  void send_error(proto::error_code code, std::string message) {
    send_text(proto::encode_error(code, message));
  }

  void attach(caf::actor conn, transport_ptr transport, std::uint64_t client_holds,
              std::shared_ptr<remote_transport> remote = nullptr) {
    since_ = std::chrono::system_clock::now();
    conn_ = std::move(conn);
    transport_ = std::move(transport);
    remote_ = std::move(remote);
    ++generation_;
    sent_ = client_holds;
    awaiting_room_ = false;
    self_->monitor(conn_);
    count_as(counted::attached);
  }

  /// Hands buffered messages after sent_ to the transport while it has room,
  /// then asks to be told when it drains. Every message therefore goes out
  /// through the replay buffer, and a backlog (a replay, a burst, a slow
  /// reader) never piles up in the socket's queue: memory stays bounded by
  /// the replay buffer plus half the send queue.
  void pump() {
    if (!transport_ || awaiting_room_ || sent_ >= seq_) return;
    if (!buffer_.can_replay_after(sent_)) {
      // The client reads so slowly that messages it has not received yet were
      // evicted: it cannot catch up on this connection. Close it; its resume
      // will be answered with `overflow`.
      log::info(*log_, "slow consumer disconnected",
                {{"session", id_}, {"peer", peer()}, {"delivered", sent_}, {"seq", seq_}});
      transport_->close(1008, "slow consumer");
      transport_ = nullptr;  // the connection's down_msg detaches us
      return;
    }
    auto now = metrics_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    for (auto it = buffer_.first_after(sent_); it != buffer_.end(); ++it) {
      if (!transport_->has_room()) {
        awaiting_room_ = true;
        auto me = caf::actor_cast<caf::weak_actor_ptr>(self_);
        transport_->when_room([me, generation = generation_] {
          if (auto session = caf::actor_cast<caf::actor>(me))
            caf::anon_send(session, room_atom::value, generation);
        });
        return;
      }
      transport_->send(out_frame{proto::encode_message_head(it->seq), it->body});
      sent_ = it->seq;
      if (metrics_) count_handed(*it, now);
    }
  }

  void count_handed(const replay_buffer::entry& e, std::chrono::steady_clock::time_point now) {
    metrics_->delivered.inc();
    // A message is timed on its first hand-off only: a replay of one the
    // client lost with its connection would count twice.
    if (e.seq <= handed_through_) return;
    handed_through_ = e.seq;
    if (e.taken != std::chrono::steady_clock::time_point{})
      metrics_->delivery_latency.observe(now - e.taken);
  }

  // `replay`: a resume's count of buffered messages that follow.
  void welcome(bool resumed, std::string reason, std::optional<std::uint64_t> replay = {}) {
    send_text(proto::encode(proto::welcome{id_, token_, resumed, std::move(reason), last_cseq_,
                                           config_.heartbeat_interval, config_.resume_window,
                                           replay}));
  }

  std::string peer() const { return transport_ ? transport_->peer() : std::string{}; }

  session_info info() const {
    auto i = describe_session(id_, conn_ != nullptr, identity_, {channels_.begin(), channels_.end()},
                              seq_, buffer_, config_, since_);
    if (conn_) {
      i.peer = peer();
      i.connection_node = caf::to_string(conn_.node());
    }
    return i;
  }

  /// The admin API cuts the connection; the session stays, detached once
  /// the connection has gone (its down_msg).
  caf::result<caf::ok_atom> cut() {
    if (!conn_) return make_error(errc::not_attached, id_);
    log::info(*log_, "connection cut by the admin API", {{"session", id_}, {"peer", peer()}});
    std::string why = "disconnected by an operator; resume the session";
    if (remote_)
      remote_->close(4411, std::move(why));
    else
      self_->send(conn_, drop_conn_atom::value, std::uint16_t{4411}, std::move(why));
    return caf::ok_atom::value;
  }

  /// A resume on `conn`, of this node or (with `remote`) of another one.
  caf::result<caf::ok_atom> resume(caf::actor conn, transport_ptr transport,
                                   std::shared_ptr<remote_transport> remote,
                                   const std::string& token, std::uint64_t last_seq) {
    // Too late: the broker has (or will have) moved us. The registry asks
    // the record's next actor.
    if (parking_) return make_error(errc::session_parked, id_);
    // Refusals change nothing here: a wrong token must not disturb the
    // session, and the registry answers the client with a new session.
    if (!token_equal(token, token_) || last_seq > seq_) return make_error(errc::resume_unknown);
    if (!buffer_.can_replay_after(last_seq)) return make_error(errc::resume_overflow);
    if (conn_) {
      say_held_back();
      log::info(*log_, "session moved to another connection",
                {{"session", id_}, {"from", peer()}, {"to", transport->peer()}});
      self_->demonitor(conn_);
      if (remote_) remote_->close(4409, "session resumed on another connection");
      else
        self_->send(conn_, drop_conn_atom::value, std::uint16_t{4409},
                    std::string{"session resumed on another connection"});
    }
    // The client holds everything up to last_seq: an implicit ack.
    buffer_.ack(last_seq);
    std::uint64_t replay = buffer_.size();
    if (metrics_) metrics_->replayed_messages.inc(replay);
    bool across = remote != nullptr;
    attach(std::move(conn), std::move(transport), last_seq, std::move(remote));
    welcome(true, {}, replay);
    log::info(*log_, "session resumed",
              {{"session", id_},
               {"peer", peer()},
               {"remote_connection", across},
               {"last_seq", last_seq},
               {"replaying", seq_ - last_seq}});
    pump();
    return caf::ok_atom::value;
  }

  void publish(const std::string& channel, const shared_body& body, std::uint64_t cseq) {
    if (!from_current()) return;
    if (cseq <= last_cseq_) {
      // A resend (the client missed our ack): acknowledge again, publish
      // nothing. One still being answered gets that answer when it comes.
      if (awaiting_answer(cseq)) return;
      send_text(proto::encode_ack(cseq));
      return;
    }
    if (cseq != last_cseq_ + 1) {
      send_error(proto::error_code::bad_cseq, "publish: cseq " + std::to_string(cseq) +
                                                  " skips ahead; expected " +
                                                  std::to_string(last_cseq_ + 1));
      return;
    }
    last_cseq_ = cseq;
    if (!channel_allowed(identity_, channel)) {
      // Like upstream_down: the cseq is used, the error names it.
      reply(proto::encode_error(proto::error_code::forbidden,
                                "publish: channel " + channel + " is not allowed by your token",
                                cseq));
      return;
    }
    auto ticket = expect_answer(cseq);
    auto* self = self_;
    self->request(broker_, caf::infinite, publish_atom::value, channel, body)
        .then(
            [self, ticket, cseq](std::uint64_t, const std::string&) {
              if (auto& m = self->state.metrics_) m->received_client.inc();
              self->state.answer(ticket, proto::encode_ack(cseq));
            },
            [self, ticket, cseq](caf::error& err) {
              // upstream_down is the only refusal (its context names the
              // upstream). Anything else means the broker is gone: the
              // publish may not have happened, so it must not be answered
              // as refused; the session ends as it would with the
              // registry, and the client's resume starts a new one into
              // which it resends.
              if (err != errc::upstream_down) return self->quit(std::move(err));
              self->state.answer(ticket,
                                 proto::encode_error(proto::error_code::upstream_down,
                                                     "publish: " + context_of(err), cseq));
            });
  }

  /// The answer to a subscribe. Empty once the broker has been asked (the
  /// answer then comes under `ticket`, or a ticket taken now when 0).
  /// Nullopt while the answer depends on subscribes still at the broker,
  /// which may yet refuse them (too_many_channels): a pipelined subscribe
  /// beyond limits.subscriptions_per_session must not be refused for
  /// subscriptions this session ends up not holding, nor one already asked
  /// for be answered `subscribed` before the broker took it. The caller
  /// keeps it in the order of answers and `answer` decides it once
  /// everything before it is answered.
  std::optional<std::string> decide_subscribe(const std::string& channel, std::uint64_t ticket) {
    if (channels_.count(channel) > 0) {
      if (subscribing_.count(channel) > 0) return std::nullopt;
      return proto::encode_subscribed(channel);
    }
    if (!channel_allowed(identity_, channel))
      return proto::encode_error(proto::error_code::forbidden,
                                 "subscribe: channel " + channel + " is not allowed by your token");
    if (max_subscriptions_ != 0 && channels_.size() >= max_subscriptions_) {
      if (!subscribing_.empty()) return std::nullopt;
      return proto::encode_error(proto::error_code::too_many_subscriptions,
                                 "subscribe: this session holds its limit of " +
                                     std::to_string(max_subscriptions_) + " subscriptions");
    }
    channels_.insert(channel);
    subscribing_.insert(channel);
    forward_sub(channel, true);
    // Answered once the broker (and, on a cluster node, every peer) has
    // the subscription: `subscribed` means publishes from now on arrive.
    if (ticket == 0) ticket = expect_answer(0);
    auto* self = self_;
    self->request(broker_, caf::infinite, subscribe_atom::value, channel,
                  caf::actor_cast<caf::actor>(self))
        .then(
            [self, ticket, channel](caf::ok_atom) {
              auto& st = self->state;
              st.subscribing_.erase(st.subscribing_.find(channel));
              st.answer(ticket, proto::encode_subscribed(channel));
            },
            [self, ticket, channel](caf::error& err) {
              // The node's channel limit is the only refusal; anything
              // else means the broker is gone.
              if (err != errc::too_many_channels) return self->quit(std::move(err));
              auto& st = self->state;
              st.log_refusal(channel, context_of(err));
              st.subscribing_.erase(st.subscribing_.find(channel));
              st.channels_.erase(channel);
              st.forward_sub(channel, false);
              st.answer(ticket, proto::encode_error(proto::error_code::too_many_channels,
                                                    "subscribe: this node holds its limit of " +
                                                        context_of(err) + " channels"));
            });
    return std::string{};
  }

  /// A subscription change during a handover goes to the successor too.
  void forward_sub(const std::string& channel, bool on) {
    if (!handing_over_) return;
    if (!successor_) {
      sub_changes_.emplace_back(channel, on);
      return;
    }
    ++unconfirmed_subs_;
    if (barrier_running_) barrier_stale_ = true;
    auto* self = self_;
    auto confirmed = [self] {
      --self->state.unconfirmed_subs_;
      self->state.start_barrier();
    };
    self->request(successor_, peer_timeout_, cl_handoff_sub_atom::value, channel, on)
        .then([confirmed](caf::ok_atom) { confirmed(); },
              [confirmed](caf::error&) { confirmed(); });
  }

  /// Publishes sent here before the successor's subscriptions took effect may
  /// still be on their way from other nodes: the barrier waits for them. It
  /// runs once the successor has confirmed every subscription, and again if
  /// one changed meanwhile.
  void start_barrier() {
    if (!successor_ || barrier_running_ || unconfirmed_subs_ > 0 || !handover_rp_) return;
    barrier_running_ = true;
    barrier_stale_ = false;
    auto* self = self_;
    auto after = [self] {
      auto& st = self->state;
      st.barrier_running_ = false;
      if (st.barrier_stale_ || st.unconfirmed_subs_ > 0) return st.start_barrier();
      st.finish_handover();
    };
    self->request(broker_, peer_timeout_ * 2, cl_barrier_atom::value)
        .then([after](caf::ok_atom) { after(); }, [after](caf::error&) { after(); });
  }

  void finish_handover() {
    auto rp = std::move(*handover_rp_);
    handover_rp_.reset();
    auto& url = handover_url_;
    auto retry_ms = handover_retry_ms_;
    self_->send(successor_, cl_handoff_done_atom::value, last_cseq_);
    log::info(*log_, "session handed over",
              {{"session", id_}, {"seq", seq_}, {"to", url}, {"attached", transport_ != nullptr}});
    if (transport_) {
      send_text(proto::encode(proto::goaway{"handover", duration{retry_ms}, url}));
      transport_->close(1001, "session handed over");
    }
    auto me = caf::actor_cast<caf::actor>(self_);
    for (auto& channel : channels_) self_->send(broker_, unsubscribe_atom::value, channel, me);
    rp.deliver(caf::ok_atom::value);
    self_->quit();
  }

  /// True iff the message being handled comes from the attached connection.
  bool from_current() {
    if (bye_pending_) return false;  // nothing counts after bye
    if (conn_ && self_->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(conn_))
      return true;
    log::debug(*log_, "frame from a former connection ignored", {{"session", id_}});
    return false;
  }
};

caf::behavior running(session_actor* self);

caf::behavior session_behavior(session_actor* self, session_args args) {
  auto& st = self->state;
  st.id_ = std::move(args.id);
  st.token_ = std::move(args.token);
  st.config_ = args.config;
  st.broker_ = std::move(args.broker);
  st.registry_ = std::move(args.registry);
  st.buffer_ = replay_buffer{args.config.replay_buffer, args.config.replay_buffer_bytes};
  st.peer_timeout_ = args.peer_timeout;
  st.identity_ = std::move(args.identity);
  st.max_subscriptions_ = args.max_subscriptions;
  st.metrics_ = std::move(args.metrics);
  if (args.adopted) {
    auto& h = *args.adopted;
    st.identity_ = h.identity;
    st.seq_ = h.seq;
    st.last_cseq_ = h.last_cseq;
    for (std::size_t i = 0; i < h.buffer_seqs.size() && i < h.buffer_bodies.size(); ++i)
      st.buffer_.push(h.buffer_seqs[i], std::make_shared<const std::string>(std::move(h.buffer_bodies[i])));
    st.buffer_.restore_marks(h.acked_through, h.lost_through);
    st.channels_.insert(h.channels.begin(), h.channels.end());
    for (std::size_t i = 0; i < h.through_origins.size() && i < h.through_counters.size(); ++i)
      st.note_through(h.through_origins[i], h.through_counters[i]);
    st.adopting_ = true;
    st.count_as(session_state::counted::detached);
    st.predecessor_ = std::move(args.predecessor);
    if (st.predecessor_) self->monitor(st.predecessor_);
    // Resubscribed here before the adopt is answered: from then on every
    // node sends this node the session's channels.
    st.resubscribing_ = st.channels_.size();
    for (auto& channel : st.channels_)
      self->request(st.broker_, caf::infinite, subscribe_atom::value, channel,
                    caf::actor_cast<caf::actor>(self))
          .then([self](caf::ok_atom) { self->state.resubscribed(); },
                [self, channel](caf::error& err) {
                  self->state.lost_channel(channel, std::move(err));
                });
    st.due_ = std::chrono::steady_clock::now() + st.config_.resume_window;
    st.park_wanted_ = true;
    st.arm_expiry();
    log::info(*st.log_, "session adopted",
              {{"session", st.id_}, {"seq", st.seq_}, {"buffered", st.buffer_.size()},
               {"channels", st.channels_.size()}});
  } else if (args.restoring) {
    st.restoring_ = true;
  } else {
    st.attach(std::move(args.connection), std::move(args.transport), 0);
    st.welcome(false, args.reason);
    log::info(*st.log_, "session created",
              {{"session", st.id_},
               {"peer", st.peer()},
               {"reason", args.reason.empty() ? std::string{"hello"} : args.reason},
               {"subject", st.identity_.subject}});
  }

  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (st.predecessor_ && msg.source == st.predecessor_.address()) {
      // Its node died mid-handover: what it forwarded is all it will.
      log::warn(*st.log_, "predecessor ended before its handover was done",
                {{"session", st.id_}, {"reason", describe(self->home_system(), msg.reason)}});
      st.end_adoption(0);
      return;
    }
    // Only the attached connection's end detaches: a former connection's
    // down_msg may still be queued after a resume moved us (CAF issue 1301).
    if (!st.conn_ || msg.source != st.conn_.address()) return;
    st.say_held_back();
    log::info(*st.log_, "session detached",
              {{"session", st.id_},
               {"reason", describe(self->home_system(), msg.reason)},
               {"buffered", st.buffer_.size()}});
    st.conn_ = nullptr;
    st.transport_ = nullptr;
    st.remote_ = nullptr;
    st.close_pending_.reset();  // that connection's; a resume starts afresh
    st.count_as(session_state::counted::detached);
    st.since_ = std::chrono::system_clock::now();
    st.due_ = std::chrono::steady_clock::now() + st.config_.resume_window;
    ++st.generation_;
    st.park_wanted_ = true;
    // A parked session's window is the registry's to watch: no timer here
    // (a pending delayed message would keep this actor's memory for the
    // whole window, CAF issue 1204).
    if (!st.try_park()) st.arm_expiry();
  });

  if (!st.restoring_) return running(self);
  // Until the record comes, only the broker (deliveries) and the registry
  // (the record first) know this actor; anything else waits in the mailbox.
  self->set_default_handler(caf::skip);
  return {
      [self](deliver_atom, const std::string& channel, const shared_body& body,
             std::uint64_t origin, std::uint64_t counter, std::int64_t accepted) {
        self->state.append(channel, body, origin, counter, accepted);
      },
      [self](restore_atom, parked_session& rec, std::string& token) {
        auto& st = self->state;
        st.restore(rec, std::move(token));
        self->set_default_handler(caf::print_and_drop);
        self->become(running(self));
        log::debug(*st.log_, "session unparked",
                   {{"session", st.id_}, {"seq", st.seq_}, {"buffered", st.buffer_.size()}});
        // Parking again is the registry's call (park_atom): only it can send
        // that behind the resume or handover it unparked us for. A message to
        // ourselves could overtake them.
      },
  };
}

caf::behavior running(session_actor* self) {
  return {
      [self](resume_atom, caf::actor& conn, transport_ptr& transport, const std::string& token,
             std::uint64_t last_seq) -> caf::result<caf::ok_atom> {
        return self->state.resume(std::move(conn), std::move(transport), nullptr, token, last_seq);
      },
      [self](cl_attach_atom, caf::actor& conn, const std::string& peer, const std::string& token,
             std::uint64_t last_seq) -> caf::result<caf::ok_atom> {
        auto remote = std::make_shared<remote_transport>(conn, peer, remote_window);
        return self->state.resume(std::move(conn), remote, remote, token, last_seq);
      },
      [self](conn_credit_atom, std::uint64_t bytes) {
        auto& st = self->state;
        if (st.remote_ && self->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(st.conn_))
          st.remote_->credit(bytes);
      },
      [self](welcomed_atom) -> caf::result<caf::actor> {
        auto& st = self->state;
        // An adopted session answers once resubscribed; any other sent its
        // welcome in the behaviour's setup, before any message.
        if (st.resubscribing_ == 0) return caf::actor_cast<caf::actor>(self);
        st.ready_ = self->make_response_promise<caf::actor>();
        return *st.ready_;
      },
      [self](subscribe_atom, const std::string& channel) {
        auto& st = self->state;
        if (!st.from_current()) return;
        if (auto decided = st.decide_subscribe(channel, 0)) {
          if (!decided->empty()) st.reply(std::move(*decided));
          return;
        }
        st.answers_.push_back({++st.next_ticket_, 0, {}, channel});
      },
      [self](unsubscribe_atom, const std::string& channel) {
        auto& st = self->state;
        if (!st.from_current()) return;
        if (st.channels_.erase(channel) > 0) {
          self->send(st.broker_, unsubscribe_atom::value, channel,
                     caf::actor_cast<caf::actor>(self));
          st.forward_sub(channel, false);
        }
        st.reply(proto::encode_unsubscribed(channel));
      },
      [self](publish_atom, const std::string& channel, const shared_body& body,
             std::uint64_t cseq) { self->state.publish(channel, body, cseq); },
      [self](publish_atom, const std::string& channel, const std::string& body,
             std::uint64_t cseq) {
        // From a connection on another node: the body crossed as bytes.
        self->state.publish(channel, std::make_shared<const std::string>(body), cseq);
      },
      [self](client_ack_atom, std::uint64_t seq) {
        auto& st = self->state;
        if (!st.from_current()) return;
        st.buffer_.ack(std::min(seq, st.seq_));
      },
      [self](conn_answer_atom, std::string& frame) {
        auto& st = self->state;
        if (st.from_current()) st.reply(std::move(frame));
      },
      [self](conn_close_atom, std::uint16_t code, std::string& reason) {
        auto& st = self->state;
        if (st.from_current()) st.close_after_answers(code, std::move(reason));
      },
      [self](bye_atom) {
        auto& st = self->state;
        if (!st.from_current()) return;
        // Publishes still being answered are answered first: a client that
        // publishes and says bye gets its acks before the close.
        if (!st.answers_.empty()) {
          st.bye_pending_ = true;
          return;
        }
        st.end_with_bye();
      },
      [self](deliver_atom, const std::string& channel, const shared_body& body,
             std::uint64_t origin, std::uint64_t counter, std::int64_t accepted) {
        self->state.append(channel, body, origin, counter, accepted);
      },
      [self](cl_handoff_atom, const std::string& channel, std::string& body, std::uint64_t origin,
             std::uint64_t counter) {
        auto& st = self->state;
        if (!st.adopting_ || st.channels_.count(channel) == 0) return;
        st.note_through(origin, counter);
        st.buffer(++st.seq_, std::make_shared<const std::string>(std::move(body)));
        st.pump();
      },
      [self](cl_handoff_done_atom, std::uint64_t last_cseq) {
        self->state.end_adoption(last_cseq);
      },
      [self](handover_atom, const caf::actor& target, const std::string& url,
             std::uint32_t retry_ms) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        if (st.parking_) return make_error(errc::session_parked, st.id_);
        if (st.handing_over_ || st.adopting_) return make_error(errc::shutting_down, st.id_);
        st.handing_over_ = true;
        st.handover_rp_ = self->make_response_promise<caf::ok_atom>();
        st.handover_url_ = url;
        st.handover_retry_ms_ = retry_ms;
        auto rp = *st.handover_rp_;
        self->request(target, st.peer_timeout_, cl_adopt_atom::value, st.snapshot())
            .then(
                [self](caf::actor& successor) {
                  auto& st = self->state;
                  st.successor_ = successor;
                  for (auto& d : st.since_snapshot_) st.forward_to_successor(d);
                  st.since_snapshot_.clear();
                  for (auto& [channel, on] : std::exchange(st.sub_changes_, {}))
                    st.forward_sub(channel, on);
                  st.start_barrier();
                },
                [self](caf::error& err) {
                  auto& st = self->state;
                  log::warn(*st.log_, "handover failed",
                            {{"session", st.id_}, {"error", describe(self->home_system(), err)}});
                  st.handing_over_ = false;
                  st.since_snapshot_.clear();
                  st.sub_changes_.clear();
                  st.handover_rp_->deliver(std::move(err));
                  st.handover_rp_.reset();
                  st.try_park();
                });
        return rp;
      },
      [self](cl_handoff_sub_atom, const std::string& channel,
             bool on) -> caf::result<caf::ok_atom> {
        // The predecessor's client changed a subscription during the handover.
        auto& st = self->state;
        if (!st.adopting_) return caf::ok_atom::value;
        if (!on) {
          if (st.channels_.erase(channel) > 0)
            self->send(st.broker_, unsubscribe_atom::value, channel,
                       caf::actor_cast<caf::actor>(self));
          return caf::ok_atom::value;
        }
        if (!st.channels_.insert(channel).second) return caf::ok_atom::value;
        auto rp = self->make_response_promise<caf::ok_atom>();
        self->request(st.broker_, caf::infinite, subscribe_atom::value, channel,
                      caf::actor_cast<caf::actor>(self))
            .then([rp](caf::ok_atom) mutable { rp.deliver(caf::ok_atom::value); },
                  [self, channel](caf::error& err) {
                    self->state.lost_channel(channel, std::move(err));
                  });
        return rp;
      },
      [self](room_atom, std::uint64_t generation) {
        auto& st = self->state;
        if (generation != st.generation_) return;  // a former connection's transport
        st.awaiting_room_ = false;
        st.pump();
      },
      [self](adm_info_atom) { return self->state.info(); },
      [self](adm_end_atom) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        // The record is on its way to the registry, which ends it there.
        if (st.parking_) return make_error(errc::session_parked, st.id_);
        st.end(4410, "session ended by an operator", "admin");
        return caf::ok_atom::value;
      },
      [self](adm_cut_atom) { return self->state.cut(); },
      [self](expire_atom) { self->state.expiry_due(); },
      [self](park_atom) {
        // From the registry that restored us. A restored actor starts at
        // generation 0: any attach since (a resume) has moved it on.
        auto& st = self->state;
        if (st.conn_ || st.generation_ != 0 || st.parking_) return;
        if (std::chrono::steady_clock::now() >= st.due_) return st.expire();
        st.park_wanted_ = true;
        // Busy (a handover under way): it parks once idle, or expires.
        if (!st.try_park()) st.arm_expiry();
      },
  };
}

}  // namespace

caf::actor spawn_session(caf::actor_system& sys, session_args args) {
  return sys.spawn(session_behavior, std::move(args));
}

}  // namespace wsvisor
