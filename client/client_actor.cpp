#include "client/client_actor.hpp"

#include <exception>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "actors/supervision/messages.hpp"
#include "actors/supervision/supervisor.hpp"
#include "client/link.hpp"
#include "client/messages.hpp"
#include "client/shared.hpp"
#include "log/log.hpp"

namespace wsvisor::detail {
namespace {

using actor_type = client_actor_state::actor_type;

std::shared_ptr<spdlog::logger> client_log() {
  static auto logger = log::get("client");
  return logger;
}

caf::behavior client_behavior(actor_type* self, std::shared_ptr<client_shared> shared,
                              client_options opts, std::shared_ptr<client_io> io) {
  self->set_down_handler([self](caf::down_msg& msg) { self->state.on_down(msg); });
  self->state.init(std::move(shared), std::move(opts), std::move(io));
  return {
      [self](client_subscribe_atom, const std::string& ch, bool presence) {
        self->state.subscribe(ch, presence);
      },
      [self](client_ask_presence_atom, const std::string& ch) { self->state.ask_presence(ch); },
      [self](client_unsubscribe_atom, const std::string& ch) { self->state.unsubscribe(ch); },
      [self](client_publish_atom, std::string& ch, std::string& data) {
        self->state.publish(std::move(ch), std::move(data));
      },
      [self](client_close_atom) { self->state.close(); },
      [self](client_link_up_atom, const caf::actor& link) { self->state.on_link_up(link); },
      [self](client_open_atom, std::uint64_t id) { self->state.on_open(id); },
      [self](client_frame_atom, std::uint64_t id, const std::string& text) {
        self->state.on_frame(id, text);
      },
      [self](client_ack_timeout_atom, std::uint64_t gen) { self->state.on_ack_timeout(gen); },
      [self](client_silence_atom, std::uint64_t gen) { self->state.on_silence(gen); },
      [self](const supervisor_event& ev) { self->state.on_supervisor_event(ev); },
  };
}

std::uint64_t ceil_ms(std::chrono::steady_clock::duration d) {
  return static_cast<std::uint64_t>(std::chrono::ceil<std::chrono::milliseconds>(d).count());
}

}  // namespace

caf::actor spawn_client_actor(caf::actor_system& sys, std::shared_ptr<client_shared> shared,
                              client_options opts, std::shared_ptr<client_io> io) {
  return sys.spawn(client_behavior, std::move(shared), std::move(opts), std::move(io));
}

client_actor_state::~client_actor_state() {
  // Normally the supervisor is down already; if this actor was killed, its
  // links must not keep reconnecting for nobody.
  if (sup_) caf::anon_send_exit(sup_, caf::exit_reason::user_shutdown);
  if (shared_) {
    {
      std::lock_guard guard{shared_->mtx};
      shared_->actor_gone = true;
    }
    shared_->cv.notify_all();
  }
}

void client_actor_state::init(std::shared_ptr<client_shared> shared, client_options opts,
                              std::shared_ptr<client_io> io) {
  shared_ = std::move(shared);
  io_ = std::move(io);
  opts_ = std::move(opts);
  url_ = opts_.url;
  shared_->update([&](client_stats& s) { s.url = url_; });
  // The link is supervised like any other child: it dies with its socket and
  // is respawned after the policy's delay, with reset_after, intensity and
  // on_give_up as the policy says.
  link_options lo;
  lo.client = caf::actor_cast<caf::actor>(self_);
  lo.io = io_;
  lo.connect_timeout = opts_.connect_timeout;
  lo.close_timeout = opts_.close_timeout;
  lo.ca_file = opts_.ca_file;
  lo.max_queued_bytes = opts_.max_queued_bytes;
  lo.max_frame_bytes = opts_.max_frame_bytes;
  supervisor_options so;
  so.name = "wsvisor.client";
  so.policies = {{"reconnect", opts_.reconnect}};
  so.children.push_back(child_spec{"link",
                                   [lo](caf::actor_system& sys) { return spawn_link(sys, lo); },
                                   opts_.reconnect.restart, "reconnect"});
  so.observer = caf::actor_cast<caf::actor>(self_);
  so.seed = opts_.seed;
  // The link bounds its own graceful close by close_timeout; the supervisor
  // only kills it if that bound fails.
  so.shutdown_timeout = 2 * opts_.close_timeout;
  sup_ = spawn_supervisor(self_->system(), std::move(so));
  self_->monitor(sup_);
}

// -- from the facade ------------------------------------------------------------

void client_actor_state::subscribe(const std::string& channel, bool presence) {
  if (final_ || closing_) return;
  auto& c = channels_[channel];
  c.wanted = true;
  // A member now: the confirmed subscription (without presence) is made
  // again with it.
  if (presence && !c.presence) c.confirmed = false;
  c.presence = c.presence || presence;
  reconcile(channel);
}

void client_actor_state::ask_presence(const std::string& channel) {
  if (final_ || closing_) return;
  if (live_)
    send_frame(encode_presence(channel));
  else
    presence_asks_.push_back(channel);
}

void client_actor_state::unsubscribe(const std::string& channel) {
  auto it = channels_.find(channel);
  if (final_ || closing_ || it == channels_.end()) return;
  it->second.wanted = false;
  it->second.presence = false;
  reconcile(channel);
}

void client_actor_state::publish(std::string channel, std::string data) {
  if (final_ || closing_) return;
  auto& p =
      pending_.emplace_back(pending_publish{next_cseq_++, std::move(channel), std::move(data)});
  if (live_) {
    send_frame(encode_publish(p.channel, p.cseq, p.data));
    p.sent = true;
  }
  shared_->update([&](client_stats& s) {
    ++s.published;
    s.pending_publishes = pending_.size();
  });
}

void client_actor_state::close() {
  if (closing_ || final_) return;
  closing_ = true;
  // bye ends the session at the server without a resume window. The link
  // writes it before its close handshake: the supervisor's user_shutdown
  // reaches the link after this frame does.
  if (live_) send_frame(encode_bye());
  live_ = false;
  if (sup_) {
    self_->send_exit(sup_, caf::exit_reason::user_shutdown);
  } else {
    finish({client_state_kind::closed});
    self_->quit();
  }
}

// -- links and the supervisor -----------------------------------------------------

void client_actor_state::on_link_up(const caf::actor& link) {
  if (final_ || closing_) return;  // the supervisor is stopping it already
  link_ = link;
  link_id_ = link.id();
  drop_why_.reset();
  live_ = false;
  sent_resume_ = false;
  self_->monitor(link_);
  std::uint64_t delay_ms = 0;
  if (goaway_until_) {
    // The supervisor's backoff has passed already; a goaway's retry_ms is a
    // lower bound on top of which nothing more is added.
    auto now = steady::now();
    if (*goaway_until_ > now) delay_ms = ceil_ms(*goaway_until_ - now);
    goaway_until_.reset();
  }
  shared_->update([](client_stats& s) { ++s.connects; });
  client_state_change change{client_state_kind::connecting};
  change.url = url_;
  change.attempt = attempt_++;
  report(std::move(change));
  self_->send(link_, client_connect_atom::value, url_, delay_ms);
}

void client_actor_state::on_open(std::uint64_t link_id) {
  if (!is_current(link_id) || closing_) return;
  if (!session_.empty()) {
    send_frame(encode_resume(session_, token_, last_seq_));
    sent_resume_ = true;
  } else {
    send_frame(encode_hello(opts_.auth));
  }
  last_rx_ = steady::now();
  arm_silence(opts_.connect_timeout);
}

void client_actor_state::on_down(const caf::down_msg& msg) {
  if (sup_ && msg.source == sup_.address()) {
    sup_ = nullptr;
    if (!final_) {
      if (closing_)
        finish({client_state_kind::closed});
      else  // on_give_up = escalate: the supervisor quit with supervisor_gave_up
        finish({client_state_kind::given_up,
                {},
                reset_reason::none,
                describe_link_exit(self_->system(), msg.reason)});
    }
    self_->quit();
    return;
  }
  if (!link_ || msg.source != link_.address()) return;
  link_ = nullptr;
  link_id_ = 0;
  live_ = false;
  ++silence_gen_;  // the pending silence check belongs to the dead link
  for (auto& [name, ch] : channels_) ch.requested = false;  // answers died with it
  if (closing_ || final_) return;
  // When this actor ended the link, its reason is the one to report: the
  // socket may have failed on its own meanwhile (a goaway's close 1001 races
  // with our exit message), but that is a consequence, not the cause.
  auto why = drop_why_ ? *std::exchange(drop_why_, std::nullopt)
                       : describe_link_exit(self_->system(), msg.reason);
  log::info(*client_log(), "disconnected", {{"url", url_}, {"why", why}});
  shared_->update([](client_stats& s) {
    ++s.disconnects;
    s.live = false;
  });
  report({client_state_kind::disconnected, {}, reset_reason::none, std::move(why)});
}

void client_actor_state::on_supervisor_event(const supervisor_event& ev) {
  if (ev.kind == supervisor_event_kind::restart_scheduled) {
    log::debug(*client_log(), "reconnect scheduled",
               {{"attempt", ev.attempt}, {"delay_ms", ev.delay.count()}, {"reason", ev.reason}});
  } else if ((ev.kind == supervisor_event_kind::given_up ||
              ev.kind == supervisor_event_kind::stopped) &&
             !final_ && !closing_) {
    // on_give_up = stop, or a restart kind that does not restart (temporary),
    // leaves the supervisor running without a link: this client is done, and
    // stops it.
    auto why = ev.kind == supervisor_event_kind::given_up
                   ? ev.reason
                   : "not restarted (restart kind): " + ev.reason;
    finish({client_state_kind::given_up, {}, reset_reason::none, std::move(why)});
    if (sup_) self_->send_exit(sup_, caf::exit_reason::user_shutdown);
  }
}

// -- timers ----------------------------------------------------------------------------

void client_actor_state::on_ack_timeout(std::uint64_t generation) {
  if (generation != ack_gen_) return;
  ack_armed_ = false;
  if (unacked_ > 0) send_ack();
}

void client_actor_state::arm_silence(duration d) {
  self_->delayed_send(self_, d, client_silence_atom::value, ++silence_gen_);
}

void client_actor_state::on_silence(std::uint64_t generation) {
  if (generation != silence_gen_ || link_id_ == 0) return;
  // One timer per link, re-armed for the remaining time instead of on every
  // frame: frames are many, timers cannot be cancelled (CAF issue 1362).
  auto limit = live_ ? heartbeat_ + opts_.heartbeat_grace : opts_.connect_timeout;
  auto elapsed = steady::now() - last_rx_;
  if (elapsed < limit) return arm_silence(duration{ceil_ms(limit - elapsed)});
  drop_link(client_errc::heartbeat_timeout, (live_ ? "no frame for " : "no welcome within ") +
                                                std::to_string(limit.count()) + " ms");
}

// -- helpers ----------------------------------------------------------------------------

void client_actor_state::send_frame(std::string text) {
  if (link_ && link_id_ != 0) self_->send(link_, client_send_atom::value, std::move(text));
}

void client_actor_state::drop_link(client_errc code, std::string detail) {
  if (!link_ || link_id_ == 0) return;
  log::info(*client_log(), "dropping connection",
            {{"url", url_}, {"why", to_string(code)}, {"detail", detail}});
  drop_why_ = to_string(code) + (detail.empty() ? "" : ": " + detail);
  self_->send_exit(link_, make_error(code, std::move(detail)));
  link_id_ = 0;  // frames still in flight from it no longer count
  live_ = false;
}

void client_actor_state::report(client_state_change change) {
  if (auto& cb = shared_->callbacks.on_state; cb && !shared_->muted) {
    // An exception must not end the actor (and with it the session).
    try {
      cb(change);
    } catch (const std::exception& e) {
      log::error(*client_log(), "on_state threw", {{"what", e.what()}});
    } catch (...) {
      log::error(*client_log(), "on_state threw");
    }
  }
  // After the callback, like the message count: whoever waits for a state
  // in the stats finds its callback done.
  shared_->update([&](client_stats& s) {
    s.state = change.kind;
    if (change.kind == client_state_kind::given_up || change.kind == client_state_kind::closed)
      s.finished = true;
  });
}

void client_actor_state::finish(client_state_change change) {
  final_ = true;
  shared_->closed = true;
  live_ = false;
  shared_->update([](client_stats& s) { s.live = false; });
  report(std::move(change));
}

}  // namespace wsvisor::detail
