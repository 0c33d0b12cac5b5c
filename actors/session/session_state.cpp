#include "actors/session/session_state.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/system_messages.hpp>

#include "actors/errors.hpp"
#include "actors/ids.hpp"

namespace wsvisor {

void session_state::buffer(std::uint64_t seq, shared_body body, std::int64_t accepted) {
  buffer_message(buffer_, seq, std::move(body), accepted, counting_.metrics.get());
}

void session_state::answer(std::uint64_t ticket, frame_text frame) {
  answers_.fill(ticket, std::move(frame));
  // An undecided subscribe at the front is decided once every answer before
  // it is out, if that no longer depends on subscribes at the broker.
  answers_.release(
      [this](const std::string& channel, std::uint64_t t) { return decide_subscribe(channel, t); },
      [this](frame_text f) { send_text(std::move(f)); });
  if (!answers_.empty()) return;
  if (bye_pending_) end_with_bye();
  if (close_pending_) close_now();
  try_park();
}

void session_state::reply(frame_text frame) {
  if (answers_.empty()) return send_text(std::move(frame));
  answers_.queue(std::move(frame));
}

void session_state::close_after_answers(std::uint16_t code, std::string reason) {
  close_pending_.emplace(code, std::move(reason));
  if (answers_.empty()) close_now();
}

void session_state::close_now() {
  auto [code, reason] = std::move(*close_pending_);
  close_pending_.reset();
  if (transport_) transport_->close(code, std::move(reason));
}

void session_state::log_refusal(const std::string& channel, const std::string& limit) {
  if (auto held = log::admit(refusals_))
    log::warn(*log_, channel_refusal,
              {{"session", id_}, {"peer", peer()}, {"channel", channel}, {"channels", limit}},
              *held);
}

void session_state::lost_channel(const std::string& channel, caf::error err) {
  if (err == errc::too_many_channels)
    log::warn(*log_, channel_refusal,
              {{"session", id_}, {"channel", channel}, {"channels", context_of(err)}});
  self_->quit(std::move(err));
}

void session_state::say_held_back() {
  if (auto held = refusals_.flush())
    log::warn(*log_, channel_refusal, {{"session", id_}, {"peer", peer()}}, *held);
}

void session_state::leave_channels() {
  auto me = caf::actor_cast<caf::actor>(self_);
  for (auto& channel : channels_) self_->send(broker_, broker_unsubscribe_atom::value, channel, me);
}

void session_state::end(std::uint16_t code, std::string close_reason, std::string_view why) {
  log::info(*log_, "session ended", {{"session", id_}, {"reason", why}});
  if (transport_) transport_->close(code, std::move(close_reason));
  leave_channels();
  self_->quit();
}

void session_state::send(out_frame frame) {
  // The result needs no handling here: a transport that drops a frame
  // closes its socket, which ends the connection and detaches us; the
  // message stays in the replay buffer for the resume.
  if (transport_) transport_->send(std::move(frame));
}

void session_state::send_error(proto::error_code code, std::string message) {
  send_text(proto::encode_error(code, message));
}

void session_state::attach(caf::actor conn, transport_ptr transport, std::uint64_t client_holds,
                           std::shared_ptr<remote_transport> remote) {
  attached_or_detached_at_ = std::chrono::system_clock::now();
  conn_ = std::move(conn);
  transport_ = std::move(transport);
  remote_ = std::move(remote);
  ++generation_;
  flow_ = {.handed_up_to = client_holds, .waiting_for_room = false};
  self_->monitor(conn_);
  counting_.count_as(session_counting::gauge::attached);
  say_presence(true);
}

void session_state::pump() {
  auto visible = visible_seq();
  if (!transport_ || flow_.waiting_for_room || flow_.handed_up_to >= visible) return;
  if (!buffer_.can_replay_after(flow_.handed_up_to)) {
    // The client reads so slowly that messages it has not received yet were
    // evicted: it cannot catch up on this connection. Close it; its resume
    // will be answered with `overflow`.
    log::info(
        *log_, "slow consumer disconnected",
        {{"session", id_}, {"peer", peer()}, {"delivered", flow_.handed_up_to}, {"seq", seq_}});
    transport_->close(1008, "slow consumer");
    transport_ = nullptr;  // the connection's down_msg detaches us
    return;
  }
  auto& metrics = counting_.metrics;
  auto now = metrics ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  for (auto it = buffer_.first_after(flow_.handed_up_to); it != buffer_.end() && it->seq <= visible;
       ++it) {
    if (!transport_->has_room()) {
      flow_.waiting_for_room = true;
      auto me = caf::actor_cast<caf::weak_actor_ptr>(self_);
      transport_->when_room([me, generation = generation_] {
        if (auto session = caf::actor_cast<caf::actor>(me))
          caf::anon_send(session, room_atom::value, generation);
      });
      return;
    }
    transport_->send(out_frame{
        proto::encode_head(it->seq, it->body ? std::string_view{*it->body} : std::string_view{}),
        it->body});
    flow_.handed_up_to = it->seq;
    if (metrics) counting_.handed(*it, now);
  }
}

void session_state::welcome(bool resumed, std::string reason, std::optional<std::uint64_t> replay) {
  send_text(
      proto::encode(proto::welcome{id_, token_, resumed, std::move(reason), last_cseq_,
                                   config_.heartbeat_interval, config_.resume_window, replay}));
}

session_info session_state::info() const {
  auto i = describe_session(id_, conn_ != nullptr, identity_, {channels_.begin(), channels_.end()},
                            seq_, buffer_, config_, attached_or_detached_at_);
  if (conn_) {
    i.peer = peer();
    i.connection_node = caf::to_string(conn_.node());
  }
  if (replica_.store) {
    i.replica = replica_.node;
    i.replica_seq = replica_.held_seq;
  }
  return i;
}

caf::result<caf::ok_atom> session_state::cut() {
  if (!conn_) return make_error(errc::not_attached, id_);
  log::info(*log_, "connection cut by the admin API", {{"session", id_}, {"peer", peer()}});
  std::string why = "disconnected by an operator; resume the session";
  if (remote_)
    remote_->close(4411, std::move(why));
  else
    self_->send(conn_, drop_connection_atom::value, std::uint16_t{4411}, std::move(why));
  return caf::ok_atom::value;
}

caf::result<caf::ok_atom> session_state::resume(caf::actor conn, transport_ptr transport,
                                                std::shared_ptr<remote_transport> remote,
                                                const std::string& token, std::uint64_t last_seq) {
  // Too late: the broker has (or will have) moved us. The registry asks
  // the record's next actor.
  if (parking_.started) return make_error(errc::session_parked, id_);
  // Refusals change nothing here: a wrong token must not disturb the
  // session, and the registry answers the client with a new session.
  if (!token_equal(token, token_) || last_seq > seq_) return make_error(errc::resume_unknown);
  if (!buffer_.can_replay_after(last_seq)) return make_error(errc::resume_overflow);
  if (conn_) {
    say_held_back();
    log::info(*log_, "session moved to another connection",
              {{"session", id_}, {"from", peer()}, {"to", transport->peer()}});
    self_->demonitor(conn_);
    if (remote_)
      remote_->close(4409, "session resumed on another connection");
    else
      self_->send(conn_, drop_connection_atom::value, std::uint16_t{4409},
                  std::string{"session resumed on another connection"});
  }
  // The client holds everything up to last_seq: an implicit ack.
  buffer_.ack(last_seq);
  std::uint64_t replay = buffer_.size();
  if (counting_.metrics) counting_.metrics->replayed_messages.inc(replay);
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

void session_state::publish(const std::string& channel, const shared_body& body,
                            std::uint64_t cseq) {
  if (!from_current()) return;
  if (cseq <= last_cseq_) {
    // A resend (the client missed our ack): acknowledge again, publish
    // nothing. One still being answered gets that answer when it comes.
    if (answers_.awaiting(cseq)) return;
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
  // No update yet: the broker delivers the publish to this node's
  // subscribers before it answers, so one update after the answer carries
  // the cseq and, when the session is subscribed itself, its own message.
  auto change = changed();
  if (!channel_allowed(identity_, channel)) {
    // Like upstream_down: the cseq is used, the error names it.
    reply(proto::encode_error(proto::error_code::forbidden,
                              "publish: channel " + channel + " is not allowed by your token",
                              cseq));
    return;
  }
  auto ticket = expect_answer(cseq);
  auto* self = self_;
  self->request(broker_, caf::infinite, broker_publish_atom::value, channel, body)
      .then(
          [self, ticket, cseq, change, channel](std::uint64_t, const std::string& owner) {
            auto& st = self->state;
            if (auto& m = st.counting_.metrics) m->received_client.inc();
            // Acknowledged once the replica knows the cseq: a resend after a
            // takeover is not published twice.
            st.after_replicated(
                change,
                [self, ticket, cseq] { self->state.answer(ticket, proto::encode_ack(cseq)); },
                st.own_copy_follows(channel, owner));
          },
          [self, ticket, cseq](caf::error& err) {
            // upstream_down is the only refusal (its context names the
            // upstream). Anything else means the broker is gone: the
            // publish may not have happened, so it must not be answered
            // as refused; the session ends as it would with the
            // registry, and the client's resume starts a new one into
            // which it resends.
            if (err != errc::upstream_down) return self->quit(std::move(err));
            self->state.answer(ticket, proto::encode_error(proto::error_code::upstream_down,
                                                           "publish: " + context_of(err), cseq));
          });
}

bool session_state::own_copy_follows(const std::string& channel, const std::string& owner) const {
  // The broker answers a publish it takes and then, in the same step, sends
  // it to the channel's subscribers (actors/session/broker.cpp, on_publish).
  // A subscribe still at the broker may have been taken after the publish.
  return owner.empty() && channels_.count(channel) > 0 && subscribes_at_broker_.count(channel) == 0;
}

bool session_state::from_current() {
  if (bye_pending_) return false;  // nothing counts after bye
  if (conn_ && self_->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(conn_))
    return true;
  log::debug(*log_, "frame from a former connection ignored", {{"session", id_}});
  return false;
}

// -- what the behaviour dispatches to -----------------------------------------

void session_state::start(session_args args) {
  id_ = std::move(args.id);
  member_ = member_of(id_);
  token_ = std::move(args.token);
  config_ = args.config;
  broker_ = std::move(args.broker);
  registry_ = std::move(args.registry);
  buffer_ = replay_buffer{args.config.replay_buffer, args.config.replay_buffer_bytes};
  peer_timeout_ = args.peer_timeout;
  identity_ = std::move(args.identity);
  max_subscriptions_ = args.max_subscriptions;
  counting_.metrics = std::move(args.metrics);
  // Spawned on cluster nodes with [cluster] replicas = 1 only.
  replica_.local = self_->home_system().registry().get<caf::actor>(replica_store_name);
  // Its requests carry no timeout (one per update would cost a timer each):
  // the store answers each within its own peer_timeout, or ends.
  if (replica_.local) self_->monitor(replica_.local);
  if (args.adopted) {
    adopt(*args.adopted, std::move(args.predecessor));
  } else if (args.restoring) {
    parking_.awaiting_record = true;
  } else {
    attach(std::move(args.connection), std::move(args.transport), 0);
    welcome(false, args.reason);
    log::info(*log_, "session created",
              {{"session", id_},
               {"peer", peer()},
               {"reason", args.reason.empty() ? std::string{"hello"} : args.reason},
               {"subject", identity_.subject}});
  }
  replicate();
}

void session_state::on_down(const caf::down_msg& msg) {
  if (replica_.store && msg.source == replica_.store.address()) {
    return replica_failed(msg.reason);
  }
  if (replica_.local && msg.source == replica_.local.address()) return local_store_gone(msg.reason);
  if (adopting_.predecessor && msg.source == adopting_.predecessor.address()) {
    // Its node died mid-handover: what it forwarded is all it will.
    log::warn(*log_, "predecessor ended before its handover was done",
              {{"session", id_}, {"reason", describe(self_->home_system(), msg.reason)}});
    end_adoption(0);
    return;
  }
  // Only the attached connection's end detaches: a former connection's
  // down_msg may still be queued after a resume moved us (CAF issue 1301).
  if (!conn_ || msg.source != conn_.address()) return;
  say_held_back();
  log::info(*log_, "session detached",
            {{"session", id_},
             {"reason", describe(self_->home_system(), msg.reason)},
             {"buffered", buffer_.size()}});
  conn_ = nullptr;
  transport_ = nullptr;
  remote_ = nullptr;
  close_pending_.reset();  // that connection's; a resume starts afresh
  counting_.count_as(session_counting::gauge::detached);
  say_presence(false);
  attached_or_detached_at_ = std::chrono::system_clock::now();
  resume_deadline_ = std::chrono::steady_clock::now() + config_.resume_window;
  ++generation_;
  parking_.wanted = true;
  // A parked session's window is the registry's to watch: no timer here
  // (a pending delayed message would keep this actor's memory for the
  // whole window, CAF issue 1204).
  if (!try_park()) arm_expiry();
}

caf::result<caf::ok_atom> session_state::attach_remote(caf::actor conn, const std::string& peer,
                                                       const std::string& token,
                                                       std::uint64_t last_seq) {
  auto remote = std::make_shared<remote_transport>(conn, peer, remote_window);
  return resume(std::move(conn), remote, remote, token, last_seq);
}

void session_state::on_credit(std::uint64_t bytes) {
  if (remote_ && self_->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(conn_))
    remote_->credit(bytes);
}

caf::result<caf::actor> session_state::on_welcomed() {
  // An adopted session answers once resubscribed; any other sent its
  // welcome in the behaviour's setup, before any message.
  if (adopting_.resubscribing == 0) return caf::actor_cast<caf::actor>(self_);
  adopting_.ready = self_->make_response_promise<caf::actor>();
  return *adopting_.ready;
}

void session_state::on_ack(std::uint64_t seq) {
  if (!from_current()) return;
  buffer_.ack(std::min(seq, seq_));
}

void session_state::on_connection_answer(std::string frame) {
  if (from_current()) reply(std::move(frame));
}

void session_state::on_connection_close(std::uint16_t code, std::string reason) {
  if (from_current()) close_after_answers(code, std::move(reason));
}

void session_state::on_bye() {
  if (!from_current()) return;
  // Publishes still being answered are answered first: a client that
  // publishes and says bye gets its acks before the close.
  if (!answers_.empty()) {
    bye_pending_ = true;
    return;
  }
  end_with_bye();
}

void session_state::on_room(std::uint64_t generation) {
  if (generation != generation_) return;  // a former connection's transport
  flow_.waiting_for_room = false;
  pump();
}

caf::result<caf::ok_atom> session_state::on_admin_end() {
  // The record is on its way to the registry, which ends it there.
  if (parking_.started) return make_error(errc::session_parked, id_);
  end(4410, "session ended by an operator", "admin");
  return caf::ok_atom::value;
}

}  // namespace wsvisor
