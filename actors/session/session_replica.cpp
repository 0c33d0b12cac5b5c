// The session's side of its replica (docs/cluster.md, "Replicas"): it puts
// itself whole on the store its node's replica store places it on, then sends
// what changed, at most two updates in flight (what changes meanwhile goes
// in the next one), each through its node's store, which batches them per
// peer. Its client sees a message, an ack or a `subscribed` only
// once the replica holds it: pump() stops at visible_seq(), and answers wait
// in after_replicated().

#include "actors/session/session_state.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <optional>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "actors/errors.hpp"

namespace wsvisor {

namespace {

// No peer to place a replica on: ask again after this long (at the next change).
constexpr auto place_again_after = std::chrono::seconds{1};

// A replica lost again this soon after the last loss is placed again only
// after this long: a peer's store that is gone while its node is still
// listed would otherwise be placed on, fail and be placed on in a tight loop
// until the cluster notices the loss.
constexpr auto lost_again_pause = std::chrono::milliseconds{100};

// Updates sent to a replica before the first is answered: the next change
// (a publish's echo after its cseq) need not wait a round trip, and a busy
// session still batches.
constexpr std::size_t max_updates_in_flight = 2;

}  // namespace

void session_state::after_replicated(std::uint64_t change, std::function<void()> answer,
                                     bool copy_follows) {
  if (!gated() || (replica_.whole_held && change <= replica_.held_changes)) return answer();
  replica_.waiting.emplace_back(change, std::move(answer));
  // The copy's arrival (deliver) asks for the update itself, which then
  // carries both: waiting for our mailbox alone is not enough, as the
  // broker may not have sent the copy yet when its answer is handled.
  if (!copy_follows) replicate_soon();
}

void session_state::replicate_soon() {
  auto& r = replica_;
  if (!r.local || r.update_queued) return;
  r.update_queued = true;
  self_->send(self_, replicate_atom::value);
}

void session_state::on_replicate_due() {
  replica_.update_queued = false;
  replicate();
}

void session_state::replicate() {
  auto& r = replica_;
  if (!r.local || r.in_flight.size() >= max_updates_in_flight || r.placing || r.retry_pending ||
      parking_.awaiting_record)
    return;
  if (r.local_gone && !find_local_store()) return;
  if (!r.store) {
    if (r.no_peer && std::chrono::steady_clock::now() < r.place_again_at) return;
    return place_replica();
  }
  if (r.put_sent && seq_ <= r.sent_seq && r.changes <= r.sent_changes) return;
  auto* self = self_;
  bool whole = !r.put_sent;
  // The channel list goes only when it changed: most updates carry a few
  // numbers and the new messages.
  bool channels_changed = whole || channels_ != r.sent_channels || presence_ != r.sent_presence;
  if (channels_changed) {
    r.sent_channels = channels_;
    r.sent_presence = presence_;
  }
  session_handover h;
  replica_update u;
  if (whole) {
    h = snapshot();
  } else {
    u = replica_update{.id = id_,
                       .epoch = r.epoch,
                       .seq = seq_,
                       .last_cseq = last_cseq_,
                       .acked_through = buffer_.acked_through(),
                       .lost_through = buffer_.lost_through(),
                       .channels_changed = channels_changed};
    if (channels_changed) {
      u.channels.assign(channels_.begin(), channels_.end());
      u.presence.assign(presence_.begin(), presence_.end());
    }
    auto ref = r.refs.begin();
    for (auto it = buffer_.first_after(r.sent_seq); it != buffer_.end(); ++it) {
      while (ref != r.refs.end() && ref->seq < it->seq) ++ref;
      if (ref != r.refs.end() && ref->seq == it->seq)
        u.entries.push_back({.seq = it->seq, .origin = ref->origin, .counter = ref->counter});
      else
        u.entries.push_back({.seq = it->seq, .body = *it->body});
    }
    u.through_origins.reserve(origin_counters_.size());
    u.through_counters.reserve(origin_counters_.size());
    for (auto& [origin, counter] : origin_counters_) {
      u.through_origins.push_back(origin);
      u.through_counters.push_back(counter);
    }
  }
  auto id = ++r.last_update;
  if (r.in_flight.empty() && counting_.metrics) counting_.metrics->replication_pending.add();
  r.in_flight.push_back({id, seq_, r.changes,
                         channels_changed ? std::optional{r.sent_channels} : std::nullopt,
                         std::chrono::steady_clock::now()});
  r.put_sent = true;
  r.sent_seq = seq_;
  r.sent_changes = r.changes;
  auto sent = r.sent_seq;
  r.refs.erase(r.refs.begin(), std::find_if(r.refs.begin(), r.refs.end(),
                                            [sent](auto& m) { return m.seq > sent; }));
  auto on_reply = [self, id](caf::ok_atom) { self->state.replicated(id); };
  auto on_error = [self, id](caf::error& err) {
    auto& q = self->state.replica_.in_flight;
    // The first of a failed store's answers; the others find it handled.
    if (std::any_of(q.begin(), q.end(), [id](auto& u) { return u.id == id; }))
      self->state.replica_failed(err);
  };
  // Through this node's store, which batches what its sessions send to one
  // peer. No timeout: the store answers within its own peer_timeout for each
  // batch (a batch may wait for two before it), and its end is monitored.
  if (whole)
    self->request(r.local, caf::infinite, replica_put_atom::value, r.store, std::move(h))
        .then(on_reply, on_error);
  else
    self->request(r.local, caf::infinite, replica_update_atom::value, r.store, std::move(u))
        .then(on_reply, on_error);
}

void session_state::place_replica() {
  auto* self = self_;
  replica_.placing = true;
  self->request(replica_.local, peer_timeout_, replica_place_atom::value, id_, replica_.epoch)
      .then(
          [self](caf::actor& store, std::string& node) {
            auto& st = self->state;
            auto& r = st.replica_;
            r.placing = false;
            r.place_failures = 0;
            if (!store && r.had_replica && r.lonely_tries < 2) {
              ++r.lonely_tries;
              r.retry_pending = true;
              self->delayed_send(self, st.peer_timeout_, replica_retry_atom::value);
              return;
            }
            if (!store) {
              // Alone: nothing to wait for, nothing a replica could keep.
              if (!r.no_peer) log::debug(*st.log_, "no peer for a replica", {{"session", st.id_}});
              r.no_peer = true;
              r.place_again_at = std::chrono::steady_clock::now() + place_again_after;
              for (auto& [change, answer] : std::exchange(r.waiting, {})) answer();
              st.pump();
              return;
            }
            r.no_peer = false;
            r.lonely_tries = 0;
            r.had_replica = true;
            r.store = std::move(store);
            r.node = std::move(node);
            r.whole_held = false;
            r.put_sent = false;
            self->monitor(r.store);
            st.replicate();
          },
          [self](caf::error& err) {
            auto& st = self->state;
            st.replica_.placing = false;
            if (err == errc::session_moved) return st.replica_failed(err);
            // Said once per run of failures: a store that does not answer
            // would otherwise log for each session every peer_timeout.
            if (st.replica_.place_failures++ == 0)
              log::warn(*st.log_, "replica not placed; asking again until it is",
                        {{"session", st.id_}, {"error", describe(self->home_system(), err)}});
            // What waits for the replica would wait for good: asked again.
            st.retry_replica_later();
          });
}

void session_state::retry_replica_later() {
  if (replica_.retry_pending) return;
  replica_.retry_pending = true;
  self_->delayed_send(self_, lost_again_pause, replica_retry_atom::value);
}

void session_state::local_store_gone(const caf::error& reason) {
  auto& r = replica_;
  log::error(*log_, "this node's replica store ended; the replica is placed again",
             {{"session", id_}, {"reason", describe(self_->home_system(), reason)}});
  r.local_gone = true;
  // The peer's store may hold the replica still: placed anew, put whole. A
  // placement asked of it fails on its own (its request has a timeout).
  replica_failed(reason);
}

bool session_state::find_local_store() {
  auto& r = replica_;
  auto found = self_->home_system().registry().get<caf::actor>(replica_store_name);
  if (!found || found == r.local) {
    retry_replica_later();
    return false;
  }
  r.local = std::move(found);
  r.local_gone = false;
  self_->monitor(r.local);
  return true;
}

void session_state::replicated(std::uint64_t id) {
  auto& r = replica_;
  // The store applies a session's puts and updates in the order they were
  // sent, so an answer to one means those before it are held too (batches
  // can be answered out of order when one waits for a subscription).
  auto answered =
      std::find_if(r.in_flight.begin(), r.in_flight.end(), [id](auto& u) { return u.id == id; });
  if (answered == r.in_flight.end()) return;  // a former store's, or already covered
  auto done = std::move(*answered);
  // The channels as of the answered one: its own list, or the last sent
  // before it.
  if (!done.channels)
    for (auto it = std::make_reverse_iterator(answered); it != r.in_flight.rend(); ++it)
      if (it->channels) {
        done.channels = std::move(it->channels);
        break;
      }
  r.in_flight.erase(r.in_flight.begin(), std::next(answered));
  if (auto& m = counting_.metrics) {
    if (r.in_flight.empty()) m->replication_pending.sub();
    m->replication_latency.observe(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::steady_clock::now() - done.at));
  }
  r.whole_held = true;
  r.held_seq = std::max(r.held_seq, done.seq);
  r.held_changes = std::max(r.held_changes, done.changes);
  if (done.channels) r.held_channels = std::move(*done.channels);
  auto due = std::partition(r.waiting.begin(), r.waiting.end(),
                            [held = r.held_changes](auto& w) { return w.first > held; });
  std::vector<std::pair<std::uint64_t, std::function<void()>>> ready(
      std::make_move_iterator(due), std::make_move_iterator(r.waiting.end()));
  r.waiting.erase(due, r.waiting.end());
  std::sort(ready.begin(), ready.end(), [](auto& a, auto& b) { return a.first < b.first; });
  for (auto& [change, answer] : ready) answer();
  pump();
  replicate();
  try_park();
}

void session_state::replica_failed(const caf::error& err) {
  auto& r = replica_;
  if (!r.in_flight.empty() && counting_.metrics) counting_.metrics->replication_pending.sub();
  r.in_flight.clear();
  r.put_sent = false;
  if (err == errc::session_moved && handing_over_.under_way) {
    // Its successor's replica replaced this copy's: the successor is the
    // session now, and this copy only finishes the handover, unreplicated.
    log::debug(*log_, "replica taken by the successor", {{"session", id_}});
    r.store = nullptr;
    r.local = nullptr;
    for (auto& [change, answer] : std::exchange(r.waiting, {})) answer();
    pump();
    try_park();
    return;
  }
  if (err == errc::session_moved) {
    // Another node adopted this session (this node was taken for lost):
    // that copy is the session now; this one serves nothing more.
    log::warn(*log_, "session moved to another node",
              {{"session", id_}, {"epoch", r.epoch}, {"peer", peer()}});
    r.store = nullptr;  // no drop: the record there is the other copy's
    r.local = nullptr;
    // Its memberships are the other copy's too: ending here is not `gone`.
    if (!presence_.empty()) self_->send(broker_, presence_handed_atom::value);
    end(4413, "session moved to another node; resume", "moved");
    return;
  }
  log::warn(*log_, "replica lost; placing it again",
            {{"session", id_}, {"error", describe(self_->home_system(), err)}});
  if (r.store) self_->demonitor(r.store);
  r.store = nullptr;
  r.whole_held = false;
  r.refs.clear();  // the next store is put whole, bodies and all
  r.held_channels.clear();
  auto now = std::chrono::steady_clock::now();
  bool again = now - r.lost_at < lost_again_pause;
  r.lost_at = now;
  if (again) return retry_replica_later();
  replicate();
}

void session_state::note_ref(const std::string& channel, std::uint64_t origin,
                             std::uint64_t counter) {
  auto& r = replica_;
  if (!r.store || !r.whole_held || origin == 0 || r.held_channels.count(channel) == 0) return;
  r.refs.push_back({seq_, origin, counter});
  // Evicted from the replay buffer before an update named them: forgotten.
  if (r.refs.size() > buffer_.size() && buffer_.size() > 0) {
    auto first = buffer_.begin()->seq;
    r.refs.erase(r.refs.begin(), std::find_if(r.refs.begin(), r.refs.end(),
                                              [first](auto& m) { return m.seq >= first; }));
  }
}

void session_state::forget_replica() {
  auto& r = replica_;
  if (!r.store || parking_.started) return;
  // Its epoch only: a successor's (a handover's) record stays.
  caf::anon_send(r.store, replica_drop_atom::value, id_, r.epoch);
  r.store = nullptr;
}

}  // namespace wsvisor
