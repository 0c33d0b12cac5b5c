// A detached session's resume window and parking (docs/architecture.md,
// "Detached sessions"): an idle detached session becomes a record its
// registry keeps; a restored one takes the record back. Part of
// session_state (actors/session/session_state.hpp).

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

bool session_state::idle() const {
  return replica_.in_flight.empty() && answers_.empty() && subscribes_at_broker_.empty() &&
         !handing_over_.under_way && !adopting_.under_way && adopting_.resubscribing == 0 &&
         !bye_pending_;
}

bool session_state::try_park() {
  if (!registry_ || conn_ || parking_.started || parking_.awaiting_record || !parking_.wanted ||
      !idle())
    return false;
  parking_.started = true;
  auto* self = self_;
  std::vector<std::string> channels{channels_.begin(), channels_.end()};
  self->request(broker_, caf::infinite, broker_park_atom::value, registry_, id_,
                std::move(channels))
      .then([self](caf::ok_atom) { self->state.hand_record(); },
            // The broker is gone (the registry ends with it).
            [self](caf::error& err) { self->quit(std::move(err)); });
  return true;
}

void session_state::hand_record() {
  parked_session rec{.config = config_,
                     .identity = std::move(identity_),
                     .seq = seq_,
                     .last_cseq = last_cseq_,
                     .timed_up_to = counting_.timed_up_to,
                     .max_subscriptions = max_subscriptions_,
                     .buffer = std::move(buffer_),
                     .channels = {channels_.begin(), channels_.end()},
                     .presence = {presence_.begin(), presence_.end()},
                     .member = member_,
                     .origin_counters = std::move(origin_counters_),
                     .epoch = replica_.epoch,
                     .replica = replica_.store ? replica_.node : std::string{},
                     .replica_seq = replica_.held_seq,
                     .since = attached_or_detached_at_,
                     .due = resume_deadline_};
  log::debug(*log_, "session parked",
             {{"session", id_}, {"seq", seq_}, {"buffered", rec.buffer.size()}});
  // The record counts as detached from now on (the registry's gauge unit).
  counting_.counted_in = session_counting::gauge::none;
  self_->send(registry_, parked_atom::value, id_, std::move(rec));
  self_->quit();
}

void session_state::restore(parked_session& rec, std::string token) {
  token_ = std::move(token);
  config_ = rec.config;
  identity_ = std::move(rec.identity);
  seq_ = rec.seq;
  last_cseq_ = rec.last_cseq;
  counting_.timed_up_to = rec.timed_up_to;
  max_subscriptions_ = rec.max_subscriptions;
  buffer_ = std::move(rec.buffer);
  channels_.insert(rec.channels.begin(), rec.channels.end());
  presence_.insert(rec.presence.begin(), rec.presence.end());
  origin_counters_ = std::move(rec.origin_counters);
  replica_.epoch = rec.epoch;
  attached_or_detached_at_ = rec.since;
  resume_deadline_ = rec.due;
  // The record's gauge unit is ours now.
  if (counting_.metrics) counting_.counted_in = session_counting::gauge::detached;
  parking_.awaiting_record = false;
  auto held = std::exchange(held_deliveries_, {});
  for (auto& d : held) append(d.channel, std::move(d.body), d.origin, d.counter, d.accepted);
  // What was appended to the record while parked is not at the replica.
  replicate();
}

void session_state::on_restore(parked_session& rec, std::string token) {
  restore(rec, std::move(token));
  log::debug(*log_, "session unparked",
             {{"session", id_}, {"seq", seq_}, {"buffered", buffer_.size()}});
  // Parking again is the registry's call (park_atom): only it can send
  // that behind the resume or handover it unparked us for. A message to
  // ourselves could overtake them.
}

void session_state::on_park_request() {
  // A restored actor starts at generation 0: any attach since (a resume)
  // has moved it on.
  if (conn_ || generation_ != 0 || parking_.started) return;
  if (std::chrono::steady_clock::now() >= resume_deadline_) return expire();
  parking_.wanted = true;
  // Busy (a handover under way): it parks once idle, or expires.
  if (!try_park()) arm_expiry();
}

void session_state::expire() {
  log::info(*log_, "session expired", {{"session", id_}, {"dropped_messages", buffer_.size()}});
  self_->quit(make_error(errc::session_expired, id_));
}

void session_state::arm_expiry() {
  if (expiry_pending_) return;
  expiry_pending_ = true;
  auto left = resume_deadline_ - std::chrono::steady_clock::now();
  self_->delayed_send(self_, std::chrono::ceil<duration>(std::max(left, left.zero())),
                      expire_atom::value);
}

void session_state::expiry_due() {
  expiry_pending_ = false;
  if (conn_ || parking_.started) return;
  if (std::chrono::steady_clock::now() < resume_deadline_) return arm_expiry();
  expire();
}

}  // namespace wsvisor
