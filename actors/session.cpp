#include "actors/session.hpp"

#include <algorithm>
#include <deque>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include <spdlog/logger.h>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/errors.hpp"
#include "actors/ids.hpp"
#include "actors/messages.hpp"
#include "actors/protocol.hpp"
#include "actors/replay_buffer.hpp"
#include "log/log.hpp"

namespace wsvisor {
namespace {

struct session_state;
using session_actor = caf::stateful_actor<session_state>;

struct session_state {
  static inline const char* name = "session";

  explicit session_state(session_actor* self) : self_(self) {}

  session_actor* self_;
  std::shared_ptr<spdlog::logger> log_ = log::get("session");
  std::string id_;
  std::string token_;
  session_config config_;
  caf::actor broker_;
  caf::actor conn_;          // the attached connection; null while detached
  transport_ptr transport_;  // conn_'s transport; null while detached
  replay_buffer buffer_{0, 0};
  std::uint64_t seq_ = 0;        // seq of the last message produced
  std::uint64_t last_cseq_ = 0;  // highest accepted publish cseq
  // Bumped on every attach and detach: an expiry timer armed at an earlier
  // generation is stale (CAF 0.17 cannot cancel a delayed_send).
  std::uint64_t generation_ = 0;
  std::set<std::string> channels_;
  // Flow control: messages up to sent_ have been handed to the attached
  // transport; the rest of the buffer waits until the transport has room.
  std::uint64_t sent_ = 0;
  bool awaiting_room_ = false;
  // Accepted publishes whose broker answer is outstanding, oldest first. Their
  // acks (or errors) go out in cseq order: an upstream's channel answers later
  // than a plain one, and the client must never see ack N+1 before ack N.
  struct pending_answer {
    std::uint64_t cseq;
    std::string frame;  // empty while the answer is outstanding
  };
  std::deque<pending_answer> answers_;

  bool awaiting_answer(std::uint64_t cseq) const {
    return !answers_.empty() && cseq >= answers_.front().cseq;
  }

  void answer(std::uint64_t cseq, std::string frame) {
    for (auto& a : answers_)
      if (a.cseq == cseq) a.frame = std::move(frame);
    while (!answers_.empty() && !answers_.front().frame.empty()) {
      send_text(std::move(answers_.front().frame));
      answers_.pop_front();
    }
    if (bye_pending_ && answers_.empty()) end_with_bye();
  }

  bool bye_pending_ = false;  // bye arrived while publishes were being answered

  void end_with_bye() {
    log::info(*log_, "session ended", {{"session", id_}, {"reason", "bye"}});
    if (transport_) transport_->close(1000, "bye");
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

  void send_text(std::string text) { send(out_frame{std::move(text), nullptr}); }

  void send_error(proto::error_code code, std::string message) {
    send_text(proto::encode_error(code, message));
  }

  void attach(caf::actor conn, transport_ptr transport, std::uint64_t client_holds) {
    conn_ = std::move(conn);
    transport_ = std::move(transport);
    ++generation_;
    sent_ = client_holds;
    awaiting_room_ = false;
    self_->monitor(conn_);
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
    }
  }

  void welcome(bool resumed, std::string reason) {
    send_text(proto::encode(proto::welcome{id_, token_, resumed, std::move(reason), last_cseq_,
                                           config_.heartbeat_interval, config_.resume_window}));
  }

  std::string peer() const { return transport_ ? transport_->peer() : std::string{}; }

  /// True iff the message being handled comes from the attached connection.
  bool from_current() {
    if (bye_pending_) return false;  // nothing counts after bye
    if (conn_ && self_->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(conn_))
      return true;
    log::debug(*log_, "frame from a former connection ignored", {{"session", id_}});
    return false;
  }
};

caf::behavior session_behavior(session_actor* self, session_args args) {
  auto& st = self->state;
  st.id_ = std::move(args.id);
  st.token_ = std::move(args.token);
  st.config_ = args.config;
  st.broker_ = std::move(args.broker);
  st.buffer_ = replay_buffer{args.config.replay_buffer, args.config.replay_buffer_bytes};
  st.attach(std::move(args.connection), std::move(args.transport), 0);
  st.welcome(false, args.reason);
  log::info(*st.log_, "session created",
            {{"session", st.id_},
             {"peer", st.peer()},
             {"reason", args.reason.empty() ? std::string{"hello"} : args.reason}});

  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    // Only the attached connection's end detaches: a former connection's
    // down_msg may still be queued after a resume moved us (CAF issue 1301).
    if (!st.conn_ || msg.source != st.conn_.address()) return;
    log::info(*st.log_, "session detached",
              {{"session", st.id_},
               {"reason", describe(self->home_system(), msg.reason)},
               {"buffered", st.buffer_.size()}});
    st.conn_ = nullptr;
    st.transport_ = nullptr;
    auto generation = ++st.generation_;
    self->delayed_send(self, st.config_.resume_window, expire_atom::value, generation);
  });

  return {
      [self](resume_atom, caf::actor& conn, transport_ptr& transport, const std::string& token,
             std::uint64_t last_seq) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        // Refusals change nothing here: a wrong token must not disturb the
        // session, and the registry answers the client with a new session.
        if (!token_equal(token, st.token_) || last_seq > st.seq_)
          return make_error(errc::resume_unknown);
        if (!st.buffer_.can_replay_after(last_seq)) return make_error(errc::resume_overflow);
        if (st.conn_) {
          log::info(*st.log_, "session moved to another connection",
                    {{"session", st.id_}, {"from", st.peer()}, {"to", transport->peer()}});
          self->demonitor(st.conn_);
          self->send(st.conn_, drop_conn_atom::value, std::uint16_t{4409},
                     std::string{"session resumed on another connection"});
        }
        // The client holds everything up to last_seq: an implicit ack.
        st.buffer_.ack(last_seq);
        st.attach(std::move(conn), std::move(transport), last_seq);
        st.welcome(true, {});
        log::info(*st.log_, "session resumed",
                  {{"session", st.id_},
                   {"peer", st.peer()},
                   {"last_seq", last_seq},
                   {"replaying", st.seq_ - last_seq}});
        st.pump();
        return caf::ok_atom::value;
      },
      [self](welcomed_atom) {
        // The welcome went out in the behaviour's setup, before any message.
        return caf::actor_cast<caf::actor>(self);
      },
      [self](subscribe_atom, const std::string& channel) {
        auto& st = self->state;
        if (!st.from_current()) return;
        if (st.channels_.insert(channel).second)
          self->send(st.broker_, subscribe_atom::value, channel, caf::actor_cast<caf::actor>(self));
        st.send_text(proto::encode_subscribed(channel));
      },
      [self](unsubscribe_atom, const std::string& channel) {
        auto& st = self->state;
        if (!st.from_current()) return;
        if (st.channels_.erase(channel) > 0)
          self->send(st.broker_, unsubscribe_atom::value, channel,
                     caf::actor_cast<caf::actor>(self));
        st.send_text(proto::encode_unsubscribed(channel));
      },
      [self](publish_atom, const std::string& channel, const shared_body& body,
             std::uint64_t cseq) {
        auto& st = self->state;
        if (!st.from_current()) return;
        if (cseq <= st.last_cseq_) {
          // A resend (the client missed our ack): acknowledge again, publish
          // nothing. One still being answered gets that answer when it comes.
          if (st.awaiting_answer(cseq)) return;
          st.send_text(proto::encode_ack(cseq));
          return;
        }
        if (cseq != st.last_cseq_ + 1) {
          st.send_error(proto::error_code::bad_cseq, "publish: cseq " + std::to_string(cseq) +
                                                         " skips ahead; expected " +
                                                         std::to_string(st.last_cseq_ + 1));
          return;
        }
        st.last_cseq_ = cseq;
        st.answers_.push_back({cseq, {}});
        self->request(st.broker_, caf::infinite, publish_atom::value, channel, body)
            .then(
                [self, cseq](std::uint64_t, const std::string&) {
                  self->state.answer(cseq, proto::encode_ack(cseq));
                },
                [self, cseq](caf::error& err) {
                  // upstream_down is the only refusal (its context names the
                  // upstream). Anything else means the broker is gone: the
                  // publish may not have happened, so it must not be answered
                  // as refused; the session ends as it would with the
                  // registry, and the client's resume starts a new one into
                  // which it resends.
                  if (err != errc::upstream_down) return self->quit(std::move(err));
                  self->state.answer(cseq, proto::encode_error(proto::error_code::upstream_down,
                                                               "publish: " + context_of(err),
                                                               cseq));
                });
      },
      [self](client_ack_atom, std::uint64_t seq) {
        auto& st = self->state;
        if (!st.from_current()) return;
        st.buffer_.ack(std::min(seq, st.seq_));
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
      [self](deliver_atom, const std::string& channel, const shared_body& body) {
        auto& st = self->state;
        // A publish the broker fanned out before it saw our unsubscribe.
        if (st.channels_.count(channel) == 0) return;
        st.buffer_.push(++st.seq_, body);
        st.pump();
      },
      [self](room_atom, std::uint64_t generation) {
        auto& st = self->state;
        if (generation != st.generation_) return;  // a former connection's transport
        st.awaiting_room_ = false;
        st.pump();
      },
      [self](expire_atom, std::uint64_t generation) {
        auto& st = self->state;
        if (st.conn_ || generation != st.generation_) return;  // stale: resumed meanwhile
        log::info(*st.log_, "session expired",
                  {{"session", st.id_}, {"dropped_messages", st.buffer_.size()}});
        self->quit(make_error(errc::session_expired, st.id_));
      },
  };
}

}  // namespace

caf::actor spawn_session(caf::actor_system& sys, session_args args) {
  return sys.spawn(session_behavior, std::move(args));
}

}  // namespace wsvisor
