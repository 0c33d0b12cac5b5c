// The registry's parked sessions (docs/architecture.md, "Detached
// sessions"): records taken from idle detached sessions, deliveries kept for
// them, and the session spawned again when one is needed. Part of
// registry_state (actors/session/registry_state.hpp).

#include "actors/session/registry_state.hpp"

#include <algorithm>
#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <utility>

#include "actors/errors.hpp"
#include "actors/ids.hpp"
#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "log/log.hpp"

namespace wsvisor::detail {

// -- parking --------------------------------------------------------------------

// From the broker's notice on, deliveries on the session's channels come
// here instead of to its actor: they are the record's (held until the record
// itself arrives, then appended after what the actor had).
void registry_state::on_notice(const std::string& id, std::vector<std::string> channels) {
  auto it = sessions_.find(id);
  if (it == sessions_.end() || (it->second.move && it->second.move->unparking)) {
    // Its actor ended abnormally between asking the broker and hearing back:
    // nobody will send the record. Give the broker's count back.
    log::warn(*log_, "park notice for a session not parking", {{"session", id}});
    release(std::move(channels), member_of(id));
    return;
  }
  auto& slot = it->second;
  if (!slot.move) slot.move = std::make_unique<session_move>();
  if (!slot.parked) {
    slot.parked = std::make_unique<parked_entry>();
    slot.parked->id = &it->first;
    slot.parked->rec.channels = std::move(channels);
  }
  lot_.file(*slot.parked);
  slot.move->notice = true;
  if (slot.parked->ready) settle_parked(slot);
}

void registry_state::on_record(const std::string& id, parked_session rec) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    log::warn(*log_, "record of an unknown session dropped", {{"session", id}});
    if (metrics()) metrics()->sessions_detached.sub();
    return;
  }
  auto& slot = it->second;
  // The actor ends now: its down_msg concerns nobody any more.
  slot.actor = nullptr;
  if (!slot.move) slot.move = std::make_unique<session_move>();
  if (!slot.parked) {
    slot.parked = std::make_unique<parked_entry>();
    slot.parked->id = &it->first;
    slot.parked->rec = std::move(rec);
  } else {
    // Filed under the notice's channels: they stay (they are the same).
    auto channels = std::move(slot.parked->rec.channels);
    slot.parked->rec = std::move(rec);
    slot.parked->rec.channels = std::move(channels);
  }
  auto& e = *slot.parked;
  e.ready = true;
  for (auto& d : e.held)
    e.rec.append(std::move(d.body), d.origin, d.counter, d.accepted, metrics());
  e.held.clear();
  e.held.shrink_to_fit();
  if (slot.move->notice) settle_parked(slot);
}

void registry_state::on_delivery(const std::string& channel, const shared_body& body,
                                 std::uint64_t origin, std::uint64_t counter,
                                 std::int64_t accepted) {
  for (auto* e : lot_.on(channel)) {
    if (e->ready)
      e->rec.append(body, origin, counter, accepted, metrics());
    else
      e->held.push_back({body, origin, counter, accepted});
  }
}

void registry_state::settle_parked(session_slot& slot) {
  auto move = std::move(slot.move);
  lot_.queue(*slot.parked);
  arm_expiry();
  for (auto& op : move->waiting) op();
}

void registry_state::unpark(const std::string& id, session_slot& slot, duration hold) {
  auto& e = *slot.parked;
  // Its window is the actor's to watch from now on.
  lot_.unqueue(e);
  session_args args{id, slot.token, e.rec.config, broker_, nullptr, nullptr, {}};
  args.restoring = true;
  args.peer_timeout = opts_.peer_timeout;
  args.metrics = opts_.metrics;
  args.registry = caf::actor_cast<caf::actor>(self_);
  auto session = spawn_session(self_->home_system(), std::move(args));
  watch(session, id);
  slot.actor = session;
  slot.move = std::make_unique<session_move>();
  slot.move->unparking = true;
  // Until the broker answers, deliveries keep coming here and go into the
  // record; after, they go to the actor, which holds them until the record.
  self_->request(broker_, caf::infinite, unpark_atom::value, session, e.rec.channels, member_of(id))
      .then([this, id, session, hold](caf::ok_atom) { finish_unpark(id, session, hold); },
            [this](caf::error& err) { self_->quit(std::move(err)); });
}

void registry_state::finish_unpark(const std::string& id, const caf::actor& session,
                                   duration hold) {
  auto* slot = find(id);
  if (slot == nullptr || slot->actor != session || !slot->parked) return;  // it died meanwhile
  auto entry = std::move(slot->parked);
  lot_.unfile(*entry);
  // With the record goes its unit of the detached gauge.
  self_->send(session, restore_atom::value, std::move(entry->rec), slot->token);
  auto move = std::move(slot->move);
  // Operations sent from here reach the actor after the record.
  for (auto& op : move->waiting) op();
  // Behind them (one sender, one receiver): were it sent by the actor to
  // itself, it could overtake the resume it was unparked for.
  if (hold.count() == 0)
    self_->send(session, park_atom::value);
  else
    self_->delayed_send(session, hold, park_atom::value);
}

void registry_state::forget(const std::string& id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  auto slot = std::move(it->second);
  sessions_.erase(it);
  if (auto& e = slot.parked) {
    lot_.unqueue(*e);
    // An unpark under way gives the broker's count back itself.
    bool moving_out = slot.move && slot.move->unparking;
    if (e->filed && !moving_out) release(e->rec.channels, member_of(id));
    if (!moving_out) drop_replica(id, e->rec.epoch);
    lot_.unfile(*e);
    if (e->ready && metrics()) metrics()->sessions_detached.sub();
  }
  if (slot.move)
    for (auto& op : slot.move->waiting) op();
}

void registry_state::drop_replica(const std::string& id, std::uint64_t epoch) {
  // Our store forwards it to the peer that holds the replica.
  if (auto store = self_->home_system().registry().get<caf::actor>(replica_store_name))
    self_->send(store, replica_drop_atom::value, id, epoch);
}

void registry_state::release(std::vector<std::string> channels, std::string member) {
  if (channels.empty()) return;
  // Asked, not told: the broker answers every unpark.
  self_
      ->request(broker_, caf::infinite, unpark_atom::value, caf::actor{}, std::move(channels),
                std::move(member))
      .then([](caf::ok_atom) {}, [](caf::error&) {});
}

void registry_state::arm_expiry() {
  auto* first = lot_.first_due();
  if (first == nullptr) return;
  auto due = first->rec.due;
  if (expiry_armed_ && *expiry_armed_ <= due) return;
  expiry_armed_ = due;
  auto now = std::chrono::steady_clock::now();
  auto delay = due > now ? std::chrono::ceil<duration>(due - now) : duration{0};
  self_->delayed_send(self_, delay, parked_expire_atom::value, ++expiry_generation_);
}

void registry_state::expire_due() {
  expiry_armed_.reset();
  auto now = std::chrono::steady_clock::now();
  for (auto* first = lot_.first_due(); first != nullptr && first->rec.due <= now;
       first = lot_.first_due()) {
    auto id = *first->id;
    log::info(*log_, "session expired",
              {{"session", id}, {"dropped_messages", first->rec.buffer.size()}});
    remember_expired(id, sessions_.at(id).token);
    forget(id);
  }
  arm_expiry();
}

}  // namespace wsvisor::detail
