#include "actors/supervision/supervisor.hpp"

#include <algorithm>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/expected.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/errors.hpp"
#include "actors/supervision/messages.hpp"
#include "actors/supervision/supervisor_state.hpp"
#include "log/log.hpp"

namespace wsvisor {
namespace detail {
namespace {

caf::behavior supervisor_behavior(supervisor_actor* self, supervisor_options opts) {
  // Exits are trapped so that a parent's exit signal becomes an ordered
  // shutdown instead of an abrupt end that would orphan the children.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (!msg.reason) return;  // a normal exit signal never stops an actor in CAF; keep that
    self->state.shutdown(std::move(msg.reason), {});
  });
  self->set_down_handler([self](caf::down_msg& msg) { self->state.on_down(msg); });
  self->set_default_handler([self](caf::scheduled_actor*,
                                   caf::message_view& x) -> caf::result<caf::message> {
    log::warn(
        *log::get("supervisor"), "unexpected message",
        {{"supervisor", self->state.name}, {"message", to_string(x.copy_content_to_message())}});
    return caf::sec::unexpected_message;
  });
  self->state.init(std::move(opts));
  return {
      [self](add_child_atom, child_spec& spec) -> caf::result<caf::ok_atom> {
        if (auto err = self->state.add(std::move(spec))) return err;
        return caf::ok_atom::value;
      },
      [self](remove_child_atom, const std::string& child) -> caf::result<caf::ok_atom> {
        // Once a promise exists, CAF ignores the handler's return value: an
        // error must go through the promise too.
        auto rp = self->make_response_promise<caf::ok_atom>();
        if (auto err =
                self->state.remove(child, [rp]() mutable { rp.deliver(caf::ok_atom::value); }))
          rp.deliver(std::move(err));
        return rp;
      },
      [self](set_policies_atom, policy_map& policies) {
        self->state.set_policies(std::move(policies));
        return caf::ok_atom::value;
      },
      [self](get_tree_atom) { return self->state.tree(); },
      [self](get_child_atom, const std::string& child) -> caf::result<caf::actor> {
        auto found = self->state.child(child);
        if (!found) return std::move(found.error());
        return std::move(*found);
      },
      [self](shutdown_atom) -> caf::result<caf::ok_atom> {
        auto rp = self->make_response_promise<caf::ok_atom>();
        self->state.shutdown(caf::error{}, rp);
        return rp;
      },
      [self](respawn_atom, const std::string& child, std::uint64_t generation) {
        self->state.on_respawn(child, generation);
      },
      [self](stop_timeout_atom, const std::string& child, std::uint64_t generation) {
        self->state.on_stop_timeout(child, generation);
      },
      [self](start_failed_atom, const std::string& child, std::uint64_t generation,
             const std::string& why) { self->state.on_start_failed(child, generation, why); },
  };
}

}  // namespace

child_entry::child_entry(child_spec s, const policy& p, std::uint64_t seed)
    : spec(std::move(s)), pol(p), delays(p, seed), intensity(p) {}

supervisor_state::supervisor_state(supervisor_actor* self)
    : self_(self), log_(log::get("supervisor")) {}

supervisor_state::~supervisor_state() {
  for (auto& c : children_) {
    say_held_back(c);
    if (c.actor) caf::anon_send_exit(c.actor, caf::exit_reason::user_shutdown);
  }
}

void supervisor_state::init(supervisor_options opts) {
  opts_ = std::move(opts);
  if (!opts_.name.empty()) name = opts_.name;
  seeder_.seed(opts_.seed != 0 ? opts_.seed : std::random_device{}());
  auto initial = std::move(opts_.children);
  opts_.children.clear();
  for (auto& spec : initial) {
    if (auto err = validate(spec)) {
      // A broken spec is a programming or configuration error: fail loudly
      // and let whoever spawned us see the reason in its down_msg.
      log::error(*log_, "invalid child spec",
                 {{"supervisor", name}, {"child", spec.name}, {"error", describe(err)}});
      self_->quit(std::move(err));
      return;
    }
    auto& pol = opts_.policies.at(spec.policy);
    children_.emplace_back(std::move(spec), pol, seeder_());
  }
  for (auto& c : children_) start(c, false);
}

caf::error supervisor_state::validate(const child_spec& spec) const {
  if (spec.name.empty() || !spec.factory) return make_error(errc::invalid_child_spec, spec.name);
  if (opts_.policies.count(spec.policy) == 0)
    return make_error(errc::unknown_policy, spec.name + ": " + spec.policy);
  if (find(spec.name) != nullptr) return make_error(errc::duplicate_child, spec.name);
  return caf::none;
}

void supervisor_state::set_policies(policy_map policies) {
  for (auto& c : children_) {
    auto it = policies.find(c.spec.policy);
    // A child whose policy is gone keeps the values it has: the reload that
    // removed the policy removes the child too (config validation).
    if (it == policies.end() || it->second == c.pol) continue;
    // The backoff and the intensity window start over under the new values:
    // their counts were made against the old ones.
    c.pol = it->second;
    c.delays = backoff{c.pol, seeder_()};
    c.intensity = restart_intensity{c.pol};
  }
  opts_.policies = std::move(policies);
}

caf::error supervisor_state::add(child_spec spec) {
  if (shutting_down_) return make_error(errc::shutting_down, spec.name);
  if (auto err = validate(spec)) return err;
  auto& pol = opts_.policies.at(spec.policy);
  auto& c = children_.emplace_back(std::move(spec), pol, seeder_());
  if (auto failure = spawn(c, false)) {
    // Like OTP's start_child: a child that cannot start is not added.
    auto err = make_error(errc::child_start_failed, c.spec.name + ": " + *failure);
    children_.pop_back();
    return err;
  }
  return caf::none;
}

caf::error supervisor_state::remove(const std::string& child, std::function<void()> done) {
  auto* c = find(child);
  if (c == nullptr) return make_error(errc::unknown_child, child);
  // A pending restart timer (or failed-start note) of this child is superseded;
  // a stopping child keeps its stamp, which its stop timer needs.
  if (c->stopping == stop_phase::none) c->generation = next_generation();
  run_stop_job({child}, [this, child, done = std::move(done)] {
    auto it = std::find_if(children_.begin(), children_.end(),
                           [&](const child_entry& e) { return e.spec.name == child; });
    if (it != children_.end() && !it->actor) {
      say_held_back(*it);
      children_.erase(it);
      log::info(*log_, "child removed", {{"supervisor", name}, {"child", child}});
    }
    // Siblings waiting for a group restart this child led are started now.
    release_group(child);
    done();
  });
  return caf::none;
}

supervision_tree supervisor_state::tree() const {
  supervision_tree t;
  t.name = name;
  t.strategy = opts_.strategy;
  t.children.reserve(children_.size());
  for (auto& c : children_)
    t.children.push_back(child_info{.name = c.spec.name,
                                    .state = c.state,
                                    .restart_at = c.restart_at,
                                    .restarts = c.restarts,
                                    .last_exit_reason = c.last_exit_reason,
                                    .policy = c.spec.policy,
                                    .restart = c.spec.restart,
                                    .actor = c.actor ? c.actor.address() : caf::actor_addr{},
                                    .max_restarts = c.pol.max_restarts,
                                    .restart_window = c.pol.restart_window,
                                    .supervisor = c.spec.supervisor});
  return t;
}

caf::expected<caf::actor> supervisor_state::child(const std::string& child) const {
  auto* c = find(child);
  if (c == nullptr) return make_error(errc::unknown_child, child);
  if (!c->actor) return make_error(errc::child_not_running, child);
  return c->actor;
}

void supervisor_state::shutdown(caf::error reason, caf::response_promise rp) {
  if (rp.pending()) shutdown_waiters_.push_back(std::move(rp));
  if (shutting_down_) return;  // the first reason wins
  shutting_down_ = true;
  quit_reason_ = std::move(reason);
  log::info(*log_, "shutting down", {{"supervisor", name}, {"reason", describe(quit_reason_)}});
  std::vector<std::string> order;
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
    auto& c = *it;
    c.group_leader.clear();
    c.restart_at.reset();
    if (!c.actor) {
      // Between two retries there is no incarnation to stop (and so no
      // `child stopped`): the count of retries held back is said now.
      say_held_back(c);
      c.generation = next_generation();  // no restart timer may fire any more
      if (c.state == child_state::restarting) c.state = child_state::stopped;
    }
    order.push_back(c.spec.name);
  }
  run_stop_job(std::move(order), [this] { finish_shutdown(); });
}

void supervisor_state::finish_shutdown() {
  log::info(*log_, "supervisor stopped",
            {{"supervisor", name}, {"reason", describe(quit_reason_)}});
  for (auto& rp : shutdown_waiters_) rp.deliver(caf::ok_atom::value);
  shutdown_waiters_.clear();
  self_->quit(quit_reason_);
}

}  // namespace detail

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_options opts) {
  // Spawned with an argument on purpose: CAF 0.17 dereferences a null tuple
  // pointer when a function actor is spawned without arguments, which UBSan
  // reports as an error.
  return sys.spawn(detail::supervisor_behavior, std::move(opts));
}

}  // namespace wsvisor
