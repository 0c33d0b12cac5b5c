// The registry's drain (docs/cluster.md, "Graceful drain"): every session is
// handed to a live peer, a few at a time, within the drain's bound. Part of
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

// -- drain --------------------------------------------------------------------

void registry_state::start_drain(caf::typed_response_promise<std::uint64_t, std::uint64_t> rp,
                                 std::vector<caf::actor> clusters, std::vector<std::string> urls,
                                 duration bound) {
  if (clusters.empty()) {
    rp.deliver(std::uint64_t{0}, static_cast<std::uint64_t>(sessions_.size()));
    return;
  }
  drain_run run{.rp = rp, .clusters = std::move(clusters), .urls = std::move(urls)};
  for (auto& [id, s] : sessions_) run.queue.push_back(id);
  run.generation = ++drain_generation_;
  run.bound = bound;
  log::info(*log_, "draining", {{"sessions", run.queue.size()}, {"peers", run.clusters.size()}});
  drain_ = std::move(run);
  self_->delayed_send(self_, bound, drain_bound_atom::value, drain_->generation);
  pump_drain();
}

void registry_state::pump_drain() {
  auto& d = *drain_;
  while (d.running < handovers_in_flight && !d.queue.empty()) {
    auto id = std::move(d.queue.back());
    d.queue.pop_back();
    auto i = d.next_target++ % d.clusters.size();
    // Spread the clients' reconnects over a second.
    auto retry_ms = static_cast<std::uint32_t>(rng_() % 1000);
    ++d.running;
    hand_over(id, d.generation, d.clusters[i], d.urls[i], retry_ms);
    if (!drain_) return;  // answered and finished on the way
  }
  if (d.running == 0 && d.queue.empty()) finish_drain(false);
}

/// One session of a drain: a parked one is unparked first (the handover
/// protocol is the actor's).
void registry_state::hand_over(const std::string& id, std::uint64_t generation, caf::actor target,
                               std::string url, std::uint32_t retry_ms) {
  auto again = [this, id, generation, target, url, retry_ms] {
    hand_over(id, generation, target, url, retry_ms);
  };
  auto* slot = find(id);
  if (slot == nullptr) return handover_done(generation, false);  // ended meanwhile
  if (deferred(*slot, again)) return;
  if (slot->parked) {
    unpark(id, *slot, duration{0});
    deferred(*slot, again);
    return;
  }
  auto session = slot->actor;
  auto bound = drain_ ? drain_->bound : opts_.peer_timeout;
  self_->request(session, bound, handover_atom::value, target, url, retry_ms)
      .then([this, generation](caf::ok_atom) { handover_done(generation, true); },
            [this, id, session, generation, again](caf::error& err) {
              if (!retry_after(id, session, err, again)) handover_failed(id, generation);
            });
}

void registry_state::handover_failed(const std::string& id, std::uint64_t generation) {
  if (!drain_ || drain_->generation != generation) return;
  auto& d = *drain_;
  if (find(id) == nullptr || ++d.attempts[id] >= handover_attempts)
    return handover_done(generation, false);
  log::info(*log_, "handover tried again", {{"session", id}, {"attempt", d.attempts[id] + 1}});
  --d.running;
  d.queue.push_back(id);  // next, to the next peer
  pump_drain();
}

void registry_state::handover_done(std::uint64_t generation, bool ok) {
  if (!drain_ || drain_->generation != generation) return;
  --drain_->running;
  ++(ok ? drain_->handed : drain_->failed);
  pump_drain();
}

void registry_state::finish_drain(bool timed_out) {
  auto d = std::move(*drain_);
  drain_.reset();
  auto left = static_cast<std::uint64_t>(d.queue.size() + d.running);
  log::info(*log_, timed_out ? "drain bound passed" : "drained",
            {{"handed_over", d.handed}, {"failed", d.failed}, {"left", left}});
  d.rp.deliver(d.handed, d.failed + left);
}

}  // namespace wsvisor::detail
