// The session half of the client actor (client/client_actor.hpp): what it does
// with each server frame, its publishes and its subscriptions. The actor
// half (links, supervisor, timers, reporting) is in client_actor.cpp.

#include <exception>
#include <utility>
#include <vector>

#include "client/client_actor.hpp"
#include "client/messages.hpp"
#include "client/shared.hpp"
#include "log/log.hpp"
#include "net/ws_url.hpp"

namespace wsvisor::detail {
namespace {

std::shared_ptr<spdlog::logger> client_log() {
  static auto logger = log::get("client");
  return logger;
}

reset_reason to_reset_reason(const std::string& reason) {
  if (reason == "expired") return reset_reason::expired;
  if (reason == "overflow") return reset_reason::overflow;
  return reset_reason::unknown;  // "unknown", and anything a newer server may add
}

}  // namespace

void client_actor_state::on_frame(std::uint64_t link_id, const std::string& text) {
  if (!is_current(link_id)) return;
  last_rx_ = steady::now();  // any frame proves the connection alive
  std::string error;
  auto f = decode_server_frame(text, error);
  if (!f) {
    // Untrusted input: ignored, as the server ignores the client's bad frames.
    log::warn(*client_log(), "bad frame from server ignored", {{"error", error}});
    return;
  }
  switch (f->kind) {
    case server_frame_kind::welcome:
      return on_welcome(*f);
    case server_frame_kind::message:
      return on_message(*f);
    case server_frame_kind::presence_event:
      return on_presence_event(*f);
    case server_frame_kind::presence:
      return on_members(*f);
    case server_frame_kind::ack:
      return release_acked(f->cseq);
    case server_frame_kind::subscribed:
      return on_channel_answer(f->channel, true);
    case server_frame_kind::unsubscribed:
      return on_channel_answer(f->channel, false);
    case server_frame_kind::ping:
      send_frame(encode_pong());
      shared_->update([](client_stats& s) { ++s.pongs_sent; });
      return;
    case server_frame_kind::error:
      return on_error_frame(*f);
    case server_frame_kind::goaway:
      return on_goaway(*f);
    case server_frame_kind::unknown:
      return;
  }
}

void client_actor_state::on_welcome(const server_frame& f) {
  if (live_) {
    log::warn(*client_log(), "second welcome on one connection ignored", {{"session", f.session}});
    return;
  }
  if (f.resumed && (!sent_resume_ || f.session != session_))
    return drop_link(client_errc::protocol_violation,
                     "welcome resumed session " + f.session + " that was not asked for");
  live_ = true;
  attempt_ = 0;
  token_ = f.token;
  heartbeat_ = duration{f.heartbeat_ms};
  if (heartbeat_.count() > 0)
    arm_silence(heartbeat_ + opts_.heartbeat_grace);
  else
    ++silence_gen_;  // a server without heartbeat: only the socket can tell
  if (f.resumed) {
    // Everything at or below last_cseq was accepted: its ack got lost.
    release_acked(f.last_cseq);
    reconcile_all();
    ask_waiting();
    send_pending();
    if (last_acked_ < last_seq_) send_ack();  // frees the server's replay buffer now
    shared_->update([&](client_stats& s) {
      ++s.resumes;
      s.live = true;
    });
    report({client_state_kind::resumed, session_});
    return;
  }
  bool reset = sent_resume_;
  session_ = f.session;
  last_seq_ = 0;
  last_acked_ = 0;
  unacked_ = 0;
  ack_armed_ = false;
  ++ack_gen_;
  // A new session numbers publishes from 1 again. Publishes the lost session
  // never acknowledged are sent again in it: the old session may have
  // accepted some of them (an ack lost with the connection), so across a
  // reset a publish is at-least-once; within a session it is exactly-once.
  next_cseq_ = 1;
  for (auto& p : pending_) p.cseq = next_cseq_++;
  for (auto it = channels_.begin(); it != channels_.end();) {
    it->second.confirmed = false;
    it->second.requested = false;
    it = it->second.wanted ? std::next(it) : channels_.erase(it);
  }
  reconcile_all();
  ask_waiting();
  send_pending();
  shared_->update([&](client_stats& s) {
    ++s.sessions;
    if (reset) ++s.resets;
    s.live = true;
    s.session = session_;
    s.last_seq = 0;
    s.last_acked = 0;
  });
  if (reset)
    report({client_state_kind::reset, session_, to_reset_reason(f.reason), f.reason});
  else
    report({client_state_kind::connected, session_});
}

bool client_actor_state::take_seq(const server_frame& f) {
  if (!live_) {
    // After close() the rest of the stream is of no interest; before a
    // welcome a message is a protocol error.
    if (!closing_) log::warn(*client_log(), "message before welcome ignored", {{"seq", f.seq}});
    return false;
  }
  if (f.seq <= last_seq_) {
    // Defensive: the server replays only above last_seq, but a message must
    // never reach the caller twice.
    shared_->update([](client_stats& s) { ++s.duplicates; });
    return false;
  }
  if (f.seq != last_seq_ + 1) {
    // Something was lost on the way. Resuming asks for everything above
    // last_seq again, which is exactly the repair.
    drop_link(
        client_errc::protocol_violation,
        "seq gap: expected " + std::to_string(last_seq_ + 1) + ", got " + std::to_string(f.seq));
    return false;
  }
  last_seq_ = f.seq;
  return true;
}

namespace {

template <class Callback, class Value>
void call(const Callback& cb, const Value& v, const char* what, std::uint64_t seq) {
  try {
    cb(v);
  } catch (const std::exception& e) {
    log::error(*client_log(), std::string{what} + " threw", {{"what", e.what()}, {"seq", seq}});
  } catch (...) {
    log::error(*client_log(), std::string{what} + " threw", {{"seq", seq}});
  }
}

}  // namespace

void client_actor_state::on_message(server_frame& f) {
  if (!take_seq(f)) return;
  if (auto& cb = shared_->callbacks.on_message; cb && !shared_->muted)
    call(cb,
         client_message{std::move(f.channel), f.seq, std::move(f.data), std::move(f.data_msgpack)},
         "on_message", f.seq);
  delivered(false);
}

void client_actor_state::on_presence_event(server_frame& f) {
  if (!take_seq(f)) return;
  if (auto& cb = shared_->callbacks.on_presence; cb && !shared_->muted)
    call(cb,
         client_presence_event{std::move(f.channel), f.seq, std::move(f.member),
                               std::move(f.subject), std::move(f.state)},
         "on_presence", f.seq);
  delivered(true);
}

void client_actor_state::on_members(server_frame& f) {
  auto& cb = shared_->callbacks.on_members;
  if (!cb || shared_->muted) return;
  client_members m{std::move(f.channel), {}};
  m.members.reserve(f.members.size());
  for (auto& row : f.members)
    m.members.push_back({std::move(row.member), std::move(row.subject), std::move(row.state)});
  call(cb, m, "on_members", 0);
}

void client_actor_state::delivered(bool presence_event) {
  // Counted after the callback returned, so that a caller who waits for a
  // count also sees every callback behind it completed.
  shared_->update([&](client_stats& s) {
    ++(presence_event ? s.presence_events : s.messages);
    s.last_seq = last_seq_;
  });
  ++unacked_;
  if (opts_.ack_every != 0 && unacked_ >= opts_.ack_every) {
    send_ack();
  } else if (!ack_armed_) {
    ack_armed_ = true;
    self_->delayed_send(self_, opts_.ack_interval, client_ack_timeout_atom::value, ++ack_gen_);
  }
}

void client_actor_state::send_ack() {
  if (!live_) return;  // a resume carries last_seq instead
  send_frame(encode_ack(last_seq_));
  last_acked_ = last_seq_;
  unacked_ = 0;
  ack_armed_ = false;
  ++ack_gen_;  // a pending interval timer is superseded
  shared_->update([&](client_stats& s) {
    ++s.acks_sent;
    s.last_acked = last_acked_;
  });
}

void client_actor_state::release_acked(std::uint64_t cseq) {
  // The server accepts cseqs in order (a gap is refused with bad_cseq), so
  // accepting one accepts every lower one too.
  std::size_t n = 0;
  while (!pending_.empty() && pending_.front().cseq <= cseq) {
    pending_.pop_front();
    ++n;
  }
  if (n == 0) return;
  shared_->pending -= n;
  shared_->update([&](client_stats& s) {
    s.publishes_acked += n;
    s.pending_publishes = pending_.size();
  });
}

void client_actor_state::send_pending() {
  std::uint64_t resent = 0;
  for (auto& p : pending_) {
    send_frame(encode_publish(p.channel, p.cseq, p.data));
    if (p.sent) ++resent;
    p.sent = true;
  }
  if (resent > 0) shared_->update([&](client_stats& s) { s.resent += resent; });
}

void client_actor_state::on_channel_answer(const std::string& channel, bool subscribed) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) {
    // An answer for a channel we forgot: make sure it ends unsubscribed.
    if (!subscribed) return;
    it = channels_.emplace(channel, channel_state{}).first;
  }
  it->second.confirmed = subscribed;
  it->second.requested = false;
  reconcile(channel);
}

void client_actor_state::reconcile(const std::string& channel) {
  auto it = channels_.find(channel);
  if (it == channels_.end() || !live_ || it->second.requested) return;
  auto& c = it->second;
  if (c.wanted && !c.confirmed) {
    send_frame(encode_subscribe(channel, c.presence));
    c.requested = true;
  } else if (!c.wanted && c.confirmed) {
    send_frame(encode_unsubscribe(channel));
    c.requested = true;
  } else if (!c.wanted) {
    channels_.erase(it);
  }
}

void client_actor_state::ask_waiting() {
  for (auto& channel : std::exchange(presence_asks_, {})) send_frame(encode_presence(channel));
}

void client_actor_state::reconcile_all() {
  std::vector<std::string> names;
  names.reserve(channels_.size());
  for (auto& [name, c] : channels_) names.push_back(name);
  for (auto& name : names) reconcile(name);
}

void client_actor_state::on_error_frame(const server_frame& f) {
  log::warn(*client_log(), "server error", {{"code", f.code}, {"message", f.message}});
  shared_->update([&](client_stats& s) {
    ++s.server_errors;
    s.last_error = f.code;
  });
  // These leave the session out of step with what the client believes (a
  // refused publish makes every later cseq a gap; a refused hello never gets
  // a welcome). Reconnecting and resuming re-synchronises through last_cseq,
  // with the policy's backoff in front of it.
  // The server refused one publish for good (its upstream is down) and
  // counts its cseq as used: drop it rather than resend it. Answers come in
  // cseq order, so everything before it is answered already.
  if (f.code == "upstream_down" && f.cseq > 0) {
    release_acked(f.cseq - 1);
    if (!pending_.empty() && pending_.front().cseq == f.cseq) {
      pending_.pop_front();
      shared_->pending -= 1;
      shared_->update([&](client_stats& s) {
        ++s.publishes_refused;
        s.pending_publishes = pending_.size();
      });
    }
    return;
  }
  if (f.code == "bad_cseq" || f.code == "rate_limited" || f.code == "unauthorized" ||
      f.code == "no_session")
    drop_link(client_errc::server_error, f.code + (f.message.empty() ? "" : ": " + f.message));
}

void client_actor_state::on_goaway(const server_frame& f) {
  goaway_until_ = steady::now() + std::chrono::milliseconds{f.retry_ms};
  if (f.url) {
    std::string error;
    if (net::parse_ws_url(*f.url, error)) {
      // The server moved us: later reconnects go there too, until the next goaway.
      url_ = *f.url;
      shared_->update([&](client_stats& s) { s.url = url_; });
    } else {
      log::warn(*client_log(), "goaway url ignored", {{"error", error}});
    }
  }
  drop_link(client_errc::goaway, f.reason);
}

}  // namespace wsvisor::detail
