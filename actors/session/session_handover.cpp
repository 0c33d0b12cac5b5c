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

void session_state::note_through(std::uint64_t origin, std::uint64_t counter) {
  wsvisor::note_through(through_, origin, counter);
}

void session_state::forward_to_successor(const stamped& d) {
  self_->send(successor_, handoff_delivery_atom::value, d.channel, *d.body, d.origin, d.counter);
}

void session_state::append(const std::string& channel, shared_body body, std::uint64_t origin,
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

session_handover session_state::snapshot() const {
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

void session_state::end_adoption(std::uint64_t last_cseq) {
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

void session_state::resubscribed() {
  if (resubscribing_ > 0) --resubscribing_;
  if (resubscribing_ == 0 && ready_) {
    ready_->deliver(caf::actor_cast<caf::actor>(self_));
    ready_.reset();
  }
  // The predecessor may have ended first (end_adoption): then this was the
  // last thing keeping an adopted session from parking.
  try_park();
}

void session_state::forward_sub(const std::string& channel, bool on) {
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
  self->request(successor_, peer_timeout_, handoff_subscription_atom::value, channel, on)
      .then([confirmed](caf::ok_atom) { confirmed(); }, [confirmed](caf::error&) { confirmed(); });
}

void session_state::start_barrier() {
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
  self->request(broker_, peer_timeout_ * 2, local_barrier_atom::value)
      .then([after](caf::ok_atom) { after(); }, [after](caf::error&) { after(); });
}

void session_state::finish_handover() {
  auto rp = std::move(*handover_rp_);
  handover_rp_.reset();
  auto& url = handover_url_;
  auto retry_ms = handover_retry_ms_;
  self_->send(successor_, handoff_done_atom::value, last_cseq_);
  log::info(*log_, "session handed over",
            {{"session", id_}, {"seq", seq_}, {"to", url}, {"attached", transport_ != nullptr}});
  if (transport_) {
    send_text(proto::encode(proto::goaway{"handover", duration{retry_ms}, url}));
    transport_->close(1001, "session handed over");
  }
  leave_channels();
  rp.deliver(caf::ok_atom::value);
  self_->quit();
}

void session_state::adopt(session_handover& h, caf::actor predecessor) {
  auto* self = self_;
  identity_ = h.identity;
  seq_ = h.seq;
  last_cseq_ = h.last_cseq;
  for (std::size_t i = 0; i < h.buffer_seqs.size() && i < h.buffer_bodies.size(); ++i)
    buffer_.push(h.buffer_seqs[i],
                 std::make_shared<const std::string>(std::move(h.buffer_bodies[i])));
  buffer_.restore_marks(h.acked_through, h.lost_through);
  channels_.insert(h.channels.begin(), h.channels.end());
  for (std::size_t i = 0; i < h.through_origins.size() && i < h.through_counters.size(); ++i)
    note_through(h.through_origins[i], h.through_counters[i]);
  adopting_ = true;
  count_as(counted::detached);
  predecessor_ = std::move(predecessor);
  if (predecessor_) self->monitor(predecessor_);
  // Resubscribed here before the adopt is answered: from then on every
  // node sends this node the session's channels.
  resubscribing_ = channels_.size();
  for (auto& channel : channels_)
    self->request(broker_, caf::infinite, broker_subscribe_atom::value, channel,
                  caf::actor_cast<caf::actor>(self))
        .then([self](caf::ok_atom) { self->state.resubscribed(); },
              [self, channel](caf::error& err) {
                self->state.lost_channel(channel, std::move(err));
              });
  due_ = std::chrono::steady_clock::now() + config_.resume_window;
  park_wanted_ = true;
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
  if (parking_) return make_error(errc::session_parked, id_);
  if (handing_over_ || adopting_) return make_error(errc::shutting_down, id_);
  handing_over_ = true;
  handover_rp_ = self->make_response_promise<caf::ok_atom>();
  handover_url_ = url;
  handover_retry_ms_ = retry_ms;
  auto rp = *handover_rp_;
  self->request(target, peer_timeout_, adopt_session_atom::value, snapshot())
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
}

void session_state::on_handoff_delivery(const std::string& channel, std::string body,
                                        std::uint64_t origin, std::uint64_t counter) {
  if (!adopting_ || channels_.count(channel) == 0) return;
  note_through(origin, counter);
  buffer(++seq_, std::make_shared<const std::string>(std::move(body)));
  pump();
}

caf::result<caf::ok_atom> session_state::on_handoff_subscription(const std::string& channel,
                                                                 bool on) {
  auto* self = self_;
  if (!adopting_) return caf::ok_atom::value;
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
