#include "actors/supervision/supervisor_state.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/errors.hpp"
#include "actors/supervision/messages.hpp"
#include "log/log.hpp"

namespace wsvisor::detail {
namespace {

using steady = std::chrono::steady_clock;

// OTP treats `normal` and `shutdown` as clean exits of a transient child;
// user_shutdown is CAF's counterpart of `shutdown`.
bool is_clean_exit(const caf::error& reason) {
  return !reason || reason == caf::exit_reason::user_shutdown;
}

const char* to_name(restart_kind kind) {
  switch (kind) {
    case restart_kind::permanent:
      return "permanent";
    case restart_kind::transient:
      return "transient";
    case restart_kind::temporary:
      return "temporary";
  }
  return "?";
}

bool should_restart(restart_kind kind, const caf::error& reason) {
  switch (kind) {
    case restart_kind::permanent:
      return true;
    case restart_kind::transient:
      return !is_clean_exit(reason);
    case restart_kind::temporary:
      return false;
  }
  return false;
}

}  // namespace

child_entry* supervisor_state::find(const std::string& child) {
  auto it = std::find_if(children_.begin(), children_.end(),
                         [&](const child_entry& c) { return c.spec.name == child; });
  return it == children_.end() ? nullptr : &*it;
}

const child_entry* supervisor_state::find(const std::string& child) const {
  return const_cast<supervisor_state*>(this)->find(child);
}

child_entry* supervisor_state::find(const caf::actor_addr& incarnation) {
  auto it = std::find_if(children_.begin(), children_.end(), [&](const child_entry& c) {
    return c.actor && c.actor.address() == incarnation;
  });
  return it == children_.end() ? nullptr : &*it;
}

std::string supervisor_state::describe(const caf::error& err) const {
  return wsvisor::describe(self_->system(), err);
}

void supervisor_state::emit(supervisor_event_kind kind, const child_entry& c, std::string reason,
                            std::uint32_t attempt, duration delay, std::uint64_t generation,
                            caf::actor_addr actor) {
  if (auto& counters = opts_.counters) {
    if (kind == supervisor_event_kind::restarted)
      counters->restarted(name, c.spec.name, c.spec.policy);
    else if (kind == supervisor_event_kind::given_up)
      counters->given_up(name, c.spec.name, c.spec.policy);
  }
  if (!opts_.observer) return;
  self_->send(opts_.observer, supervisor_event{kind, name, c.spec.name, attempt, delay,
                                               std::move(reason), generation, std::move(actor)});
}

// -- starting -----------------------------------------------------------------

std::optional<std::string> supervisor_state::spawn(child_entry& c, bool restart) {
  caf::actor incarnation;
  std::string failure;
  // The factory is user code running inside this actor: an exception escaping
  // it would end the supervisor with all its other children.
  try {
    incarnation = c.spec.factory(self_->system());
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (!incarnation) {
    if (failure.empty()) failure = "factory returned an invalid actor handle";
    return failure;
  }
  self_->monitor(incarnation);
  c.actor = std::move(incarnation);
  c.state = child_state::running;
  c.started_at = steady::now();
  c.restart_at.reset();
  if (restart) ++c.restarts;
  if (!restart || !c.quiet)
    log::info(*log_, restart ? "child restarted" : "child started",
              {{"supervisor", name},
               {"child", c.spec.name},
               {"actor", c.actor.id()},
               {"restarts", c.restarts}});
  c.quiet = false;
  emit(restart ? supervisor_event_kind::restarted : supervisor_event_kind::started, c, {}, 0,
       duration::zero(), 0, c.actor.address());
  return std::nullopt;
}

void supervisor_state::start(child_entry& c, bool restart) {
  auto failure = spawn(c, restart);
  if (!failure) return;
  c.state = child_state::restarting;
  c.started_at = steady::now();
  c.generation = next_generation();
  self_->send(self_, start_failed_atom::value, c.spec.name, c.generation, *failure);
}

void supervisor_state::on_start_failed(const std::string& child, std::uint64_t generation,
                                       const std::string& why) {
  auto* c = find(child);
  if (c == nullptr || c->generation != generation || c->actor) return;
  c->generation = next_generation();
  on_failure(child, make_error(errc::child_start_failed, why));
}

// -- exits and restarts ---------------------------------------------------------

void supervisor_state::on_down(const caf::down_msg& msg) {
  auto* c = find(msg.source);
  // Not a current incarnation: one we gave up waiting for, whose down
  // arrived after all (demonitor cannot recall a queued down_msg).
  if (c == nullptr) return;
  c->actor = caf::actor{};
  c->last_exit_reason = describe(msg.reason);
  if (c->stopping != stop_phase::none) {
    finish_stop(*c);
    return;
  }
  on_failure(c->spec.name, msg.reason, msg.source);
}

void supervisor_state::on_failure(const std::string& child, const caf::error& reason,
                                  const caf::actor_addr& incarnation) {
  auto* c = find(child);
  if (c == nullptr) return;
  auto why = describe(reason);
  c->last_exit_reason = why;
  // The retry this exit starts is logged (its exit, restart and start), or
  // held back as a whole and counted once.
  auto held = log::admit(c->retries);
  c->quiet = !held;
  if (c->quiet) c->held_reason = why;
  if (held)
    log::info(*log_, "child exited", {{"supervisor", name}, {"child", child}, {"reason", why}},
              *held);
  emit(supervisor_event_kind::exited, *c, why, 0, duration::zero(), 0, incarnation);
  if (shutting_down_) {
    c->state = child_state::stopped;
    return;
  }
  if (!c->group_leader.empty()) {
    // Its group is already being restarted because of a sibling; it simply
    // got there first.
    c->state = child_state::restarting;
    return;
  }
  if (!should_restart(c->spec.restart, reason)) {
    c->state = child_state::stopped;
    c->generation = next_generation();
    say_held_back(*c);
    log::info(*log_, "child not restarted",
              {{"supervisor", name},
               {"child", child},
               {"restart", to_name(c->spec.restart)},
               {"reason", why}});
    emit(supervisor_event_kind::stopped, *c, why);
    return;
  }
  auto now = steady::now();
  if (!c->intensity.allow(now)) {
    give_up(*c, why);
    return;
  }
  if (now - c->started_at >= c->pol.reset_after) c->delays.reset();
  auto delay = c->delays.next();
  auto attempt = c->delays.attempt();
  auto group = siblings_to_restart(*c);
  if (group.empty()) {
    schedule_respawn(*c, delay, attempt, why);
    return;
  }
  // Group restart: the siblings are stopped first (reverse start order), then
  // the failed child's timer restarts all of them in start order. Siblings
  // that were already waiting for a restart of their own join this one and
  // their timers become stale. As in OTP, temporary siblings are stopped but
  // never restarted.
  for (auto& e : children_) {
    bool member = std::find(group.begin(), group.end(), e.spec.name) != group.end();
    bool follows_member = std::find(group.begin(), group.end(), e.group_leader) != group.end();
    if ((!member && !follows_member) || e.spec.restart == restart_kind::temporary) continue;
    e.group_leader = child;
    e.restart_at.reset();
    if (!e.actor && e.stopping == stop_phase::none) e.generation = next_generation();
  }
  c->state = child_state::restarting;
  c->generation = next_generation();
  auto stamp = c->generation;
  std::reverse(group.begin(), group.end());
  run_stop_job(std::move(group), [this, child, stamp, delay, attempt, why] {
    if (shutting_down_) return;
    auto* leader = find(child);
    if (leader == nullptr || leader->generation != stamp) {
      // The leader was removed meanwhile (its group must not be left
      // hanging), or a later group restart absorbed it and its followers
      // (then nobody follows it any more and this does nothing).
      release_group(child);
      return;
    }
    schedule_respawn(*leader, delay, attempt, why);
  });
}

std::vector<std::string> supervisor_state::siblings_to_restart(const child_entry& failed) const {
  std::vector<std::string> group;
  if (opts_.strategy == strategy_kind::one_for_one) return group;
  bool after = false;
  for (auto& e : children_) {
    if (&e == &failed) {
      after = true;
      continue;
    }
    bool active = e.state == child_state::running || e.state == child_state::restarting;
    if (active && (after || opts_.strategy == strategy_kind::one_for_all))
      group.push_back(e.spec.name);
  }
  return group;
}

void supervisor_state::schedule_respawn(child_entry& c, duration delay, std::uint32_t attempt,
                                        const std::string& why) {
  c.state = child_state::restarting;
  c.generation = next_generation();
  auto at = std::chrono::system_clock::now() + delay;
  c.restart_at = at;
  for (auto& e : children_)
    if (e.group_leader == c.spec.name) e.restart_at = at;
  self_->delayed_send(self_, delay, respawn_atom::value, c.spec.name, c.generation);
  if (!c.quiet)
    log::info(*log_, "restart",
              {{"supervisor", name},
               {"child", c.spec.name},
               {"attempt", attempt},
               {"delay", delay},
               {"reason", why}});
  emit(supervisor_event_kind::restart_scheduled, c, why, attempt, delay, c.generation);
}

void supervisor_state::on_respawn(const std::string& child, std::uint64_t generation) {
  auto* c = find(child);
  if (c == nullptr || c->generation != generation || c->state != child_state::restarting ||
      c->actor || shutting_down_) {
    // CAF 0.17 cannot cancel a delayed_send: this is a timer that was
    // superseded (removal, group restart, shutdown) after it was armed.
    log::debug(*log_, "stale restart timer ignored",
               {{"supervisor", name}, {"child", child}, {"generation", generation}});
    return;
  }
  c->generation = next_generation();  // consumed: a replay of it is stale too
  std::vector<std::string> batch;
  for (auto& e : children_)
    if (&e == c || e.group_leader == child) batch.push_back(e.spec.name);
  for (auto& member : batch) {
    auto* e = find(member);
    if (e == nullptr || e->actor || e->stopping != stop_phase::none) continue;
    e->group_leader.clear();
    start(*e, true);
  }
}

void supervisor_state::release_group(const std::string& leader) {
  for (auto& e : children_) {
    if (e.group_leader != leader || e.actor || e.stopping != stop_phase::none) continue;
    e.group_leader.clear();
    start(e, true);
  }
}

void supervisor_state::give_up(child_entry& c, const std::string& why) {
  c.state = child_state::given_up;
  c.generation = next_generation();
  c.restart_at.reset();
  bool escalate = c.pol.on_give_up == give_up_action::escalate;
  say_held_back(c);
  log::error(*log_, "give up",
             {{"supervisor", name},
              {"child", c.spec.name},
              {"max_restarts", c.pol.max_restarts},
              {"restart_window", c.pol.restart_window},
              {"action", escalate ? "escalate" : "stop"},
              {"reason", why}});
  emit(supervisor_event_kind::given_up, c, why);
  if (escalate) shutdown(make_error(errc::supervisor_gave_up, c.spec.name), {});
}

void supervisor_state::say_held_back(child_entry& c) {
  if (auto held = c.retries.flush())
    log::info(*log_, "child exited",
              {{"supervisor", name},
               {"child", c.spec.name},
               {"reason", c.held_reason},
               {"restarts", c.restarts}},
              *held);
}

// -- stopping -------------------------------------------------------------------

void supervisor_state::run_stop_job(std::vector<std::string> queue, std::function<void()> done) {
  auto id = ++job_counter_;
  jobs_.push_back(stop_job{id, std::move(queue), std::move(done)});
  advance_job(id);
}

void supervisor_state::advance_job(std::uint64_t id) {
  auto it = std::find_if(jobs_.begin(), jobs_.end(), [&](const stop_job& j) { return j.id == id; });
  if (it == jobs_.end()) return;
  while (!it->queue.empty()) {
    auto* c = find(it->queue.front());
    if (c != nullptr && c->actor) {
      if (c->stopping == stop_phase::none) begin_stop(*c);
      return;  // finish_stop resumes this job
    }
    it->queue.erase(it->queue.begin());
  }
  auto done = std::move(it->done);
  jobs_.erase(it);
  done();
}

void supervisor_state::begin_stop(child_entry& c) {
  c.stopping = stop_phase::asked;
  c.generation = next_generation();
  log::debug(*log_, "stopping child", {{"supervisor", name}, {"child", c.spec.name}});
  self_->send_exit(c.actor, caf::exit_reason::user_shutdown);
  self_->delayed_send(self_, opts_.shutdown_timeout, stop_timeout_atom::value, c.spec.name,
                      c.generation);
}

void supervisor_state::on_stop_timeout(const std::string& child, std::uint64_t generation) {
  auto* c = find(child);
  if (c == nullptr || c->generation != generation || c->stopping == stop_phase::none) return;
  c->generation = next_generation();
  if (c->stopping == stop_phase::asked) {
    log::warn(*log_, "child ignored shutdown, killing it",
              {{"supervisor", name}, {"child", child}, {"timeout", opts_.shutdown_timeout}});
    c->stopping = stop_phase::killed;
    self_->send_exit(c->actor, caf::exit_reason::kill);
    self_->delayed_send(self_, opts_.shutdown_timeout, stop_timeout_atom::value, child,
                        c->generation);
    return;
  }
  // A kill takes effect when the child's current handler returns; one that
  // never returns cannot be stopped by any means, so stop waiting for it.
  log::error(*log_, "child still alive after kill, abandoning it",
             {{"supervisor", name}, {"child", child}, {"actor", c->actor.id()}});
  self_->demonitor(c->actor);
  c->actor = caf::actor{};
  c->last_exit_reason = "abandoned: still alive after kill";
  finish_stop(*c);
}

void supervisor_state::finish_stop(child_entry& c) {
  c.stopping = stop_phase::none;
  c.generation = next_generation();  // its stop timer is now stale
  c.state = c.group_leader.empty() ? child_state::stopped : child_state::restarting;
  say_held_back(c);
  log::info(*log_, "child stopped",
            {{"supervisor", name}, {"child", c.spec.name}, {"reason", c.last_exit_reason}});
  emit(supervisor_event_kind::stopped, c, c.last_exit_reason);
  auto child = c.spec.name;  // `c` may be erased by a job's continuation
  std::vector<std::uint64_t> ready;
  for (auto& j : jobs_)
    if (!j.queue.empty() && j.queue.front() == child) ready.push_back(j.id);
  for (auto id : ready) {
    auto it =
        std::find_if(jobs_.begin(), jobs_.end(), [&](const stop_job& j) { return j.id == id; });
    if (it == jobs_.end() || it->queue.empty() || it->queue.front() != child) continue;
    it->queue.erase(it->queue.begin());
    advance_job(id);
  }
}

}  // namespace wsvisor::detail
