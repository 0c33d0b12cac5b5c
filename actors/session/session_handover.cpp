// The session's side of a handover between nodes (docs/cluster.md,
// "Graceful drain"): a draining node's session snapshots itself for its
// successor on a peer, forwards what arrives after the snapshot in order,
// and ends once the successor holds everything; an adopted session
// resubscribes before it answers. The cluster only carries these messages
// (actors/session/cluster_seam.hpp).

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

void session_state::on_channel_gap(const std::string& channel) {
  // Held in order with the deliveries it falls between.
  append(channel, nullptr, 0, 0, 0);
}

void session_state::lose_gap(const std::string& channel) {
  buffer_.lose(++seq_);
  replicate();
  if (counting_.metrics) counting_.metrics->cluster_gaps.inc();
  log::warn(*log_, "messages lost between nodes",
            {{"session", id_}, {"channel", channel}, {"seq", seq_}, {"peer", peer()}});
  if (!transport_) return;
  transport_->close(4412, "messages lost between nodes; resume");
  transport_ = nullptr;  // the connection's down_msg detaches us
}

void session_state::forward_to_successor(const origin_delivery& d) {
  self_->send(handing_over_.successor, handoff_delivery_atom::value, d.channel, *d.body, d.origin,
              d.counter);
}

void session_state::append(const std::string& channel, shared_body body, std::uint64_t origin,
                           std::uint64_t counter, std::int64_t accepted) {
  if (parking_.awaiting_record) {
    // Sent after the broker moved the record here: they follow it.
    held_deliveries_.push_back({channel, std::move(body), origin, counter, accepted});
    return;
  }
  if (channels_.count(channel) == 0) return;  // fanned out before our unsubscribe
  if (body && !wants(channel, *body)) {
    // A presence event for members only, or this session's own.
    raise_counter(origin_counters_, origin, counter);
    return;
  }
  // Each origin's deliveries come in counter order on one path; one at or
  // below what we hold is a copy of a message a predecessor handed us
  // (it reached this node after the handover was done).
  if (origin != 0 && counter <= counter_from(origin)) return;
  if (adopting_.under_way) {
    held_deliveries_.push_back({channel, std::move(body), origin, counter, accepted});
    return;
  }
  if (!body) return lose_gap(channel);
  if (handing_over_.under_way) {
    origin_delivery d{channel, body, origin, counter, accepted};
    if (handing_over_.successor)
      forward_to_successor(d);
    else
      handing_over_.since_snapshot.push_back(std::move(d));
  }
  raise_counter(origin_counters_, origin, counter);
  // A presence event goes to the replica with its body: a local one (a lost
  // peer's members) never reaches the replica's node.
  bool event = proto::is_presence_body(*body);
  buffer(++seq_, std::move(body), accepted);
  if (!event) note_ref(channel, origin, counter);
  replicate_soon();
  pump();
}

session_handover session_state::snapshot() const {
  session_handover h{.id = id_,
                     .token = token_,
                     .seq = seq_,
                     .last_cseq = last_cseq_,
                     .acked_through = buffer_.acked_through(),
                     .lost_through = buffer_.lost_through(),
                     .channels = {channels_.begin(), channels_.end()},
                     .identity = identity_,
                     .epoch = replica_.epoch,
                     .presence = {presence_.begin(), presence_.end()}};
  for (auto& e : buffer_) {
    h.buffer_seqs.push_back(e.seq);
    h.buffer_bodies.push_back(*e.body);
  }
  for (auto& [origin, counter] : origin_counters_) {
    h.through_origins.push_back(origin);
    h.through_counters.push_back(counter);
  }
  return h;
}

void session_state::end_adoption(std::uint64_t last_cseq) {
  if (!adopting_.under_way) return;
  adopting_.under_way = false;
  last_cseq_ = std::max(last_cseq_, last_cseq);
  // append() drops what the snapshot or the predecessor's forwards hold.
  auto before = seq_;
  for (auto& d : held_deliveries_)
    append(d.channel, std::move(d.body), d.origin, d.counter, d.accepted);
  auto kept = seq_ - before;
  log::info(*log_, "session taken over",
            {{"session", id_}, {"seq", seq_}, {"held", held_deliveries_.size()}, {"kept", kept}});
  held_deliveries_.clear();
  held_deliveries_.shrink_to_fit();
  if (adopting_.predecessor) self_->demonitor(adopting_.predecessor);
  adopting_.predecessor = nullptr;
  try_park();
}

void session_state::resubscribed() {
  auto& in = adopting_;
  if (in.resubscribing > 0) --in.resubscribing;
  if (in.resubscribing == 0 && in.ready) {
    in.ready->deliver(caf::actor_cast<caf::actor>(self_));
    in.ready.reset();
  }
  // The predecessor may have ended first (end_adoption): then this was the
  // last thing keeping an adopted session from parking.
  try_park();
}

void session_state::forward_sub(const std::string& channel, bool on) {
  auto& out = handing_over_;
  if (!out.under_way) return;
  if (!out.successor) {
    out.subscription_changes.emplace_back(channel, on);
    return;
  }
  ++out.unconfirmed_subscriptions;
  if (out.barrier_running) out.barrier_stale = true;
  auto* self = self_;
  auto confirmed = [self] {
    --self->state.handing_over_.unconfirmed_subscriptions;
    self->state.start_barrier();
  };
  self->request(out.successor, peer_timeout_, handoff_subscription_atom::value, channel, on)
      .then([confirmed](caf::ok_atom) { confirmed(); }, [confirmed](caf::error&) { confirmed(); });
}

void session_state::start_barrier() {
  auto& out = handing_over_;
  if (!out.successor || out.barrier_running || out.unconfirmed_subscriptions > 0 || !out.done)
    return;
  out.barrier_running = true;
  out.barrier_stale = false;
  auto* self = self_;
  auto after = [self] {
    auto& out = self->state.handing_over_;
    out.barrier_running = false;
    if (out.barrier_stale || out.unconfirmed_subscriptions > 0) return self->state.start_barrier();
    self->state.finish_handover();
  };
  self->request(broker_, peer_timeout_ * 2, local_barrier_atom::value)
      .then([after](caf::ok_atom) { after(); }, [after](caf::error&) { after(); });
}

void session_state::finish_handover() {
  auto& out = handing_over_;
  auto rp = std::move(*out.done);
  out.done.reset();
  auto& url = out.successor_url;
  auto retry_ms = out.retry_ms;
  self_->send(out.successor, handoff_done_atom::value, last_cseq_);
  log::info(*log_, "session handed over",
            {{"session", id_}, {"seq", seq_}, {"to", url}, {"attached", transport_ != nullptr}});
  if (transport_) {
    send_text(proto::encode(proto::goaway{"handover", duration{retry_ms}, url}));
    transport_->close(1001, "session handed over");
  }
  // The successor holds the memberships now: leaving is not `gone`.
  if (!presence_.empty()) self_->send(broker_, presence_handed_atom::value);
  leave_channels();
  rp.deliver(caf::ok_atom::value);
  self_->quit();
}

void session_state::adopt(session_handover& h, caf::actor predecessor) {
  auto* self = self_;
  identity_ = h.identity;
  replica_.epoch = h.epoch;
  seq_ = h.seq;
  last_cseq_ = h.last_cseq;
  for (std::size_t i = 0; i < h.buffer_seqs.size() && i < h.buffer_bodies.size(); ++i)
    buffer_.push(h.buffer_seqs[i],
                 std::make_shared<const std::string>(std::move(h.buffer_bodies[i])));
  buffer_.restore_marks(h.acked_through, h.lost_through);
  channels_.insert(h.channels.begin(), h.channels.end());
  for (std::size_t i = 0; i < h.through_origins.size() && i < h.through_counters.size(); ++i)
    raise_counter(origin_counters_, h.through_origins[i], h.through_counters[i]);
  adopting_.under_way = true;
  counting_.count_as(session_counting::gauge::detached);
  adopting_.predecessor = std::move(predecessor);
  if (adopting_.predecessor) self->monitor(adopting_.predecessor);
  // Resubscribed here before the adopt is answered: from then on every
  // node sends this node the session's channels.
  adopting_.resubscribing = channels_.size();
  for (auto& channel : channels_)
    self->request(broker_, caf::infinite, broker_subscribe_atom::value, channel,
                  caf::actor_cast<caf::actor>(self))
        .then([self](caf::ok_atom) { self->state.resubscribed(); },
              [self, channel](caf::error& err) {
                self->state.lost_channel(channel, std::move(err));
              });
  // Its memberships, away until its client resumes: the others see it move
  // here (no change for them) or come back from a lost node.
  for (auto& channel : h.presence) {
    if (channels_.count(channel) == 0) continue;
    presence_.insert(channel);
    self->request(broker_, caf::infinite, presence_join_atom::value, channel, member_,
                  proto::presence_subject_json(identity_.subject), false)
        .then([](caf::ok_atom) {},
              [self, channel](caf::error& err) {
                // Over the limit here: the session goes on as a plain subscriber.
                log::warn(*self->state.log_, "presence membership not adopted",
                          {{"session", self->state.id_},
                           {"channel", channel},
                           {"error", caf::to_string(err)}});
                self->state.presence_.erase(channel);
              });
  }
  resume_deadline_ = std::chrono::steady_clock::now() + config_.resume_window;
  parking_.wanted = true;
  arm_expiry();
  log::info(*log_, "session adopted",
            {{"session", id_},
             {"seq", seq_},
             {"buffered", buffer_.size()},
             {"channels", channels_.size()}});
}

caf::result<caf::ok_atom> session_state::hand_over(const caf::actor& target, const std::string& url,
                                                   std::uint32_t retry_ms) {
  auto* self = self_;
  auto& out = handing_over_;
  if (parking_.started) return make_error(errc::session_parked, id_);
  if (out.under_way || adopting_.under_way) return make_error(errc::shutting_down, id_);
  out.under_way = true;
  out.done = self->make_response_promise<caf::ok_atom>();
  out.successor_url = url;
  out.retry_ms = retry_ms;
  auto rp = *out.done;
  auto h = snapshot();
  ++h.epoch;  // the successor's copy: this one's replica is dropped when it ends
  self->request(target, peer_timeout_, adopt_session_atom::value, std::move(h))
      .then(
          [self](caf::actor& successor) {
            auto& st = self->state;
            auto& out = st.handing_over_;
            out.successor = successor;
            for (auto& d : out.since_snapshot) st.forward_to_successor(d);
            out.since_snapshot.clear();
            for (auto& [channel, on] : std::exchange(out.subscription_changes, {}))
              st.forward_sub(channel, on);
            st.start_barrier();
          },
          [self, target](caf::error& err) {
            auto& st = self->state;
            log::warn(*st.log_, "handover failed",
                      {{"session", st.id_}, {"error", describe(self->home_system(), err)}});
            // The peer may have made a successor all the same (its answer came
            // too late): it must not live on beside this session, and take
            // over with a stale snapshot once this one ends.
            self->send(target, handoff_abort_atom::value, st.id_);
            auto& out = st.handing_over_;
            out.under_way = false;
            out.since_snapshot.clear();
            out.subscription_changes.clear();
            out.done->deliver(std::move(err));
            out.done.reset();
            st.try_park();
          });
  return rp;
}

void session_state::on_handoff_abort() {
  if (!adopting_.under_way || !adopting_.predecessor ||
      self_->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(adopting_.predecessor))
    return;
  log::info(*log_, "handover aborted by its predecessor", {{"session", id_}});
  adopting_.under_way = false;
  leave_channels();
  self_->quit();
}

void session_state::on_handoff_delivery(const std::string& channel, std::string body,
                                        std::uint64_t origin, std::uint64_t counter) {
  if (!adopting_.under_way || channels_.count(channel) == 0) return;
  raise_counter(origin_counters_, origin, counter);
  // A replica store keeps every presence event on the channel: this
  // session's own, and others' where it is no member, are not for it.
  if (!wants(channel, body)) return;
  buffer(++seq_, std::make_shared<const std::string>(std::move(body)));
  replicate();
  pump();
}

caf::result<caf::ok_atom> session_state::on_handoff_subscription(const std::string& channel,
                                                                 bool on) {
  auto* self = self_;
  if (!adopting_.under_way) return caf::ok_atom::value;
  if (!on) {
    if (channels_.erase(channel) > 0)
      self->send(broker_, broker_unsubscribe_atom::value, channel,
                 caf::actor_cast<caf::actor>(self));
    return caf::ok_atom::value;
  }
  if (!channels_.insert(channel).second) return caf::ok_atom::value;
  auto rp = self->make_response_promise<caf::ok_atom>();
  self->request(broker_, caf::infinite, broker_subscribe_atom::value, channel,
                caf::actor_cast<caf::actor>(self))
      .then(
          [rp](caf::ok_atom) mutable { rp.deliver(caf::ok_atom::value); },
          [self, channel](caf::error& err) { self->state.lost_channel(channel, std::move(err)); });
  return rp;
}

}  // namespace wsvisor
