#pragma once

/// The supervisor tests' fixture (tests/actors/supervision/): scripted worker
/// children that report to a probe, policies and specs made short, and a
/// fixture that spawns supervisors and awaits their events.

#include "actors/supervision/supervisor.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/errors.hpp"
#include "actors/supervision/messages.hpp"

namespace wsvisor::supervision_test {

using namespace std::chrono_literals;
using kind = supervisor_event_kind;
using steady = std::chrono::steady_clock;

// Test-only messages (not part of wsvisor's interface).
using crash_atom = caf::atom_constant<caf::atom("t_crash")>;    // worker: quit with an error
using finish_atom = caf::atom_constant<caf::atom("t_finish")>;  // worker: quit normally
using gone_atom = caf::atom_constant<caf::atom("t_gone")>;      // (gone_atom, name): a worker ended
using wedge_atom = caf::atom_constant<caf::atom("t_wedge")>;    // worker: block (see script::wedge)

// Generous: awaiting is not timing, and a loaded two-core machine under ASan
// can be slow. A passing test never waits this long.
inline constexpr auto await_timeout = 20s;

/// What one incarnation of a test worker does.
struct script {
  enum mode_kind { run, crash_at_start, crash_after, stubborn };
  mode_kind mode = run;
  std::chrono::milliseconds after{0};  // crash_after: uptime before crashing
  std::shared_future<void> wedge;      // if valid: wedge_atom blocks until it is ready
};

inline script make_script(script::mode_kind mode, std::chrono::milliseconds after = {}) {
  script s;
  s.mode = mode;
  s.after = after;
  return s;
}

/// Counts incarnations per child name and tells the test when a worker ends.
/// Shared by the factories, which run on CAF's threads.
class probe {
 public:
  explicit probe(caf::actor listener) : listener_(std::move(listener)) {}

  int spawned(const std::string& name) {
    std::lock_guard guard{mtx_};
    return ++spawns_[name];
  }

  int spawns(const std::string& name) {
    std::lock_guard guard{mtx_};
    return spawns_[name];
  }

  const caf::actor& listener() const { return listener_; }

 private:
  caf::actor listener_;
  std::mutex mtx_;
  std::map<std::string, int> spawns_;
};

struct worker_state {
  // Runs in the worker's cleanup before its monitors are notified, so a
  // supervisor stopping children one by one makes these arrive in stop order.
  ~worker_state() {
    if (listener) caf::anon_send(listener, gone_atom::value, name);
  }
  caf::actor listener;
  std::string name;
};

inline caf::behavior worker(caf::stateful_actor<worker_state>* self, std::string name,
                            caf::actor listener, script s) {
  self->state.name = std::move(name);
  self->state.listener = std::move(listener);
  switch (s.mode) {
    case script::crash_at_start:
      self->quit(caf::sec::runtime_error);
      return {};
    case script::crash_after:
      self->delayed_send(self, s.after, crash_atom::value);
      break;
    case script::stubborn:
      self->set_exit_handler([](caf::exit_msg&) {});
      break;
    case script::run:
      break;
  }
  return {
      [self](crash_atom) { self->quit(caf::sec::runtime_error); },
      [self](finish_atom) { self->quit(); },
      // Simulates a wedged actor, which no exit message can interrupt. Only
      // used with detached workers, so CAF's scheduler threads stay free.
      [wedge = s.wedge](wedge_atom) {
        if (wedge.valid()) wedge.wait();
      },
  };
}

/// A child whose n-th incarnation (1-based) follows `plan(n)`.
inline child_spec worker_spec(const std::string& name, std::shared_ptr<probe> p,
                              std::function<script(int)> plan = {},
                              restart_kind restart = restart_kind::permanent,
                              const std::string& policy = "fast") {
  child_spec spec;
  spec.name = name;
  spec.restart = restart;
  spec.policy = policy;
  spec.factory = [name, p, plan](caf::actor_system& sys) {
    auto n = p->spawned(name);
    return sys.spawn(worker, name, p->listener(), plan ? plan(n) : script{});
  };
  return spec;
}

inline policy make_policy(std::chrono::milliseconds min, std::uint32_t max_restarts = 0,
                          give_up_action on_give_up = give_up_action::stop) {
  policy p;
  p.backoff_min = min;
  p.backoff_max = 10 * min;
  p.backoff_multiplier = 2.0;
  p.jitter = jitter_kind::none;  // delays are exact, so tests can assert them
  p.reset_after = 60s;
  p.max_restarts = max_restarts;
  p.restart_window = 60s;
  p.on_give_up = on_give_up;
  return p;
}

inline std::function<bool(const supervisor_event&)> is(kind k, const std::string& child,
                                                       const std::string& sup = {}) {
  return [=](const supervisor_event& e) {
    return e.kind == k && e.child == child && (sup.empty() || e.supervisor == sup);
  };
}

inline const child_info& info(const supervision_tree& t, const std::string& name) {
  auto it = std::find_if(t.children.begin(), t.children.end(),
                         [&](const child_info& c) { return c.name == name; });
  if (it == t.children.end()) throw std::runtime_error("no child " + name + " in the tree");
  return *it;
}

class Supervisor : public ::testing::Test {
 protected:
  Supervisor() : sys_(configure(cfg_)), self_(sys_), probe_(std::make_shared<probe>(me())) {}

  // Every supervisor a test spawned is brought down before the actor system
  // is destroyed (its destructor waits for all actors), even after a failed
  // assertion.
  void TearDown() override {
    for (auto& sup : sups_) {
      caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
      if (!await_down(sup)) {
        caf::anon_send_exit(sup, caf::exit_reason::kill);
        await_down(sup);
      }
    }
  }

  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    add_supervision_message_types(cfg);
    return cfg;
  }

  caf::actor me() { return caf::actor_cast<caf::actor>(self_); }

  supervisor_options options(const std::string& name, strategy_kind strategy,
                             std::vector<child_spec> children) {
    supervisor_options o;
    o.name = name;
    o.strategy = strategy;
    o.policies = {{"fast", make_policy(10ms)}};
    o.children = std::move(children);
    o.observer = me();
    o.seed = 1;
    return o;
  }

  caf::actor spawn(supervisor_options o) {
    auto sup = spawn_supervisor(sys_, std::move(o));
    self_->monitor(sup);
    sups_.push_back(sup);
    return sup;
  }

  // Handles one message of any kind the tests expect; false on timeout.
  bool receive_one(steady::time_point deadline) {
    auto now = steady::now();
    if (now >= deadline) return false;
    bool timed_out = false;
    self_->receive(
        [&](supervisor_event& e) {
          history_.push_back(e);
          pending_.push_back(std::move(e));
        },
        [&](caf::down_msg& d) { downs_.push_back(std::move(d)); },
        [&](gone_atom, std::string& name) { gone_.push_back(std::move(name)); },
        caf::after(deadline - now) >> [&] { timed_out = true; });
    return !timed_out;
  }

  /// The first not yet awaited event matching `pred`, in arrival order.
  std::optional<supervisor_event> await(const std::function<bool(const supervisor_event&)>& pred) {
    auto deadline = steady::now() + await_timeout;
    for (;;) {
      auto it = std::find_if(pending_.begin(), pending_.end(), pred);
      if (it != pending_.end()) {
        auto e = std::move(*it);
        pending_.erase(it);
        return e;
      }
      if (!receive_one(deadline)) return std::nullopt;
    }
  }

  /// The exit reason of `whom` (which the test monitors).
  std::optional<caf::error> await_down(const caf::actor& whom) {
    auto deadline = steady::now() + await_timeout;
    for (;;) {
      auto it = std::find_if(downs_.begin(), downs_.end(),
                             [&](const caf::down_msg& d) { return d.source == whom.address(); });
      if (it != downs_.end()) return it->reason;
      if (!receive_one(deadline)) return std::nullopt;
    }
  }

  /// Waits until `n` workers have ended; returns their names in that order.
  std::vector<std::string> await_gone(std::size_t n) {
    auto deadline = steady::now() + await_timeout;
    while (gone_.size() < n && receive_one(deadline)) continue;
    return gone_;
  }

  std::vector<std::string> history_of(kind k) const {
    std::vector<std::string> out;
    for (auto& e : history_)
      if (e.kind == k) out.push_back(e.child);
    return out;
  }

  std::size_t count(kind k, const std::string& child) const {
    return static_cast<std::size_t>(
        std::count_if(history_.begin(), history_.end(),
                      [&](const supervisor_event& e) { return e.kind == k && e.child == child; }));
  }

  template <class... Ts>
  caf::error ask_ok(const caf::actor& sup, Ts&&... xs) {
    caf::error result = caf::sec::request_timeout;
    self_->request(sup, await_timeout, std::forward<Ts>(xs)...)
        .receive([&](caf::ok_atom) { result = caf::none; },
                 [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  supervision_tree tree(const caf::actor& sup) {
    supervision_tree result;
    self_->request(sup, await_timeout, get_tree_atom::value)
        .receive([&](supervision_tree& t) { result = std::move(t); },
                 [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
    return result;
  }

  static void crash(const caf::actor_addr& child) {
    caf::anon_send(caf::actor_cast<caf::actor>(child), crash_atom::value);
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::scoped_actor self_;
  std::shared_ptr<probe> probe_;
  std::vector<caf::actor> sups_;
  std::deque<supervisor_event> pending_;
  std::vector<supervisor_event> history_;
  std::vector<caf::down_msg> downs_;
  std::vector<std::string> gone_;
};

}  // namespace wsvisor::supervision_test
