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

namespace wsvisor {
namespace {

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
constexpr auto await_timeout = 20s;

/// What one incarnation of a test worker does.
struct script {
  enum mode_kind { run, crash_at_start, crash_after, stubborn };
  mode_kind mode = run;
  std::chrono::milliseconds after{0};  // crash_after: uptime before crashing
  std::shared_future<void> wedge;      // if valid: wedge_atom blocks until it is ready
};

script make_script(script::mode_kind mode, std::chrono::milliseconds after = {}) {
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

caf::behavior worker(caf::stateful_actor<worker_state>* self, std::string name, caf::actor listener,
                     script s) {
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
child_spec worker_spec(const std::string& name, std::shared_ptr<probe> p,
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

policy make_policy(std::chrono::milliseconds min, std::uint32_t max_restarts = 0,
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

std::function<bool(const supervisor_event&)> is(kind k, const std::string& child,
                                                const std::string& sup = {}) {
  return [=](const supervisor_event& e) {
    return e.kind == k && e.child == child && (sup.empty() || e.supervisor == sup);
  };
}

const child_info& info(const supervision_tree& t, const std::string& name) {
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

TEST_F(Supervisor, OneForOneRestartsOnlyTheFailedChildAfterItsBackoffDelay) {
  auto p = probe_;
  auto sup = spawn(options("s", strategy_kind::one_for_one,
                           {worker_spec("a", p), worker_spec("b", p), worker_spec("c", p)}));
  auto a = await(is(kind::started, "a"));
  auto b = await(is(kind::started, "b"));
  auto c = await(is(kind::started, "c"));
  ASSERT_TRUE(a && b && c);

  auto crashed_at = steady::now();
  crash(b->actor);
  auto exited = await(is(kind::exited, "b"));
  ASSERT_TRUE(exited);
  EXPECT_EQ(exited->reason, "system_error(runtime_error)");
  EXPECT_EQ(exited->actor, b->actor);
  auto scheduled = await(is(kind::restart_scheduled, "b"));
  ASSERT_TRUE(scheduled);
  EXPECT_EQ(scheduled->delay, 10ms);
  EXPECT_EQ(scheduled->attempt, 1u);
  auto restarted = await(is(kind::restarted, "b"));
  ASSERT_TRUE(restarted);
  EXPECT_GE(steady::now() - crashed_at, 10ms);
  EXPECT_NE(restarted->actor, b->actor);

  auto t = tree(sup);
  EXPECT_EQ(t.name, "s");
  ASSERT_EQ(t.children.size(), 3u);
  EXPECT_EQ(info(t, "a").actor, a->actor);
  EXPECT_EQ(info(t, "c").actor, c->actor);
  EXPECT_EQ(info(t, "a").restarts, 0u);
  EXPECT_EQ(info(t, "b").restarts, 1u);
  EXPECT_EQ(info(t, "b").state, child_state::running);
  EXPECT_EQ(info(t, "b").actor, restarted->actor);
  EXPECT_EQ(info(t, "b").last_exit_reason, "system_error(runtime_error)");
  EXPECT_EQ(info(t, "b").policy, "fast");
  EXPECT_FALSE(info(t, "b").restart_at.has_value());
  EXPECT_EQ(probe_->spawns("a"), 1);
  EXPECT_EQ(probe_->spawns("b"), 2);
  EXPECT_EQ(probe_->spawns("c"), 1);
  EXPECT_EQ(history_of(kind::stopped), std::vector<std::string>{});
}

TEST_F(Supervisor, OneForAllStopsTheOthersInReverseOrderAndRestartsAllInStartOrder) {
  auto p = probe_;
  auto sup = spawn(options("s", strategy_kind::one_for_all,
                           {worker_spec("a", p), worker_spec("b", p), worker_spec("c", p)}));
  auto a = await(is(kind::started, "a"));
  auto b = await(is(kind::started, "b"));
  auto c = await(is(kind::started, "c"));
  ASSERT_TRUE(a && b && c);

  crash(b->actor);
  ASSERT_TRUE(await(is(kind::restarted, "a")));
  ASSERT_TRUE(await(is(kind::restarted, "b")));
  ASSERT_TRUE(await(is(kind::restarted, "c")));
  EXPECT_EQ(history_of(kind::exited), std::vector<std::string>{"b"});
  EXPECT_EQ(history_of(kind::stopped), (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(history_of(kind::restart_scheduled), std::vector<std::string>{"b"});
  EXPECT_EQ(history_of(kind::restarted), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(await_gone(3), (std::vector<std::string>{"b", "c", "a"}));

  auto t = tree(sup);
  std::vector<std::pair<std::string, caf::actor_addr>> before{
      {"a", a->actor}, {"b", b->actor}, {"c", c->actor}};
  for (auto& [name, old] : before) {
    EXPECT_EQ(info(t, name).state, child_state::running) << name;
    EXPECT_EQ(info(t, name).restarts, 1u) << name;
    EXPECT_NE(info(t, name).actor, old) << name;
    EXPECT_EQ(probe_->spawns(name), 2) << name;
  }
}

TEST_F(Supervisor, GroupRestartStopsTemporarySiblingsWithoutRestartingThem) {
  auto p = probe_;
  auto sup =
      spawn(options("s", strategy_kind::one_for_all,
                    {worker_spec("a", p), worker_spec("temp", p, {}, restart_kind::temporary),
                     worker_spec("c", p)}));
  auto a = await(is(kind::started, "a"));
  ASSERT_TRUE(a && await(is(kind::started, "temp")) && await(is(kind::started, "c")));

  crash(a->actor);
  ASSERT_TRUE(await(is(kind::restarted, "c")));
  EXPECT_EQ(history_of(kind::stopped), (std::vector<std::string>{"c", "temp"}));
  EXPECT_EQ(history_of(kind::restarted), (std::vector<std::string>{"a", "c"}));
  auto t = tree(sup);
  EXPECT_EQ(info(t, "temp").state, child_state::stopped);
  EXPECT_EQ(probe_->spawns("temp"), 1);
}

TEST_F(Supervisor, RestForOneRestartsTheFailedChildAndThoseStartedAfterIt) {
  auto p = probe_;
  auto sup = spawn(options(
      "s", strategy_kind::rest_for_one,
      {worker_spec("a", p), worker_spec("b", p), worker_spec("c", p), worker_spec("d", p)}));
  auto a = await(is(kind::started, "a"));
  auto b = await(is(kind::started, "b"));
  ASSERT_TRUE(a && b && await(is(kind::started, "c")) && await(is(kind::started, "d")));

  crash(b->actor);
  ASSERT_TRUE(await(is(kind::restarted, "d")));
  EXPECT_EQ(history_of(kind::stopped), (std::vector<std::string>{"d", "c"}));
  EXPECT_EQ(history_of(kind::restarted), (std::vector<std::string>{"b", "c", "d"}));
  auto t = tree(sup);
  EXPECT_EQ(info(t, "a").actor, a->actor);
  EXPECT_EQ(info(t, "a").restarts, 0u);
  EXPECT_EQ(info(t, "b").restarts, 1u);
  EXPECT_EQ(info(t, "c").restarts, 1u);
  EXPECT_EQ(info(t, "d").restarts, 1u);
  EXPECT_EQ(probe_->spawns("a"), 1);
}

TEST_F(Supervisor, TransientChildRestartsOnlyAfterAnAbnormalExit) {
  auto p = probe_;
  auto sup = spawn(options("s", strategy_kind::one_for_one,
                           {worker_spec("normal", p, {}, restart_kind::transient),
                            worker_spec("shutdown", p, {}, restart_kind::transient),
                            worker_spec("crash", p, {}, restart_kind::transient)}));
  auto n = await(is(kind::started, "normal"));
  auto s = await(is(kind::started, "shutdown"));
  auto c = await(is(kind::started, "crash"));
  ASSERT_TRUE(n && s && c);

  caf::anon_send(caf::actor_cast<caf::actor>(n->actor), finish_atom::value);
  caf::anon_send_exit(s->actor, caf::exit_reason::user_shutdown);
  crash(c->actor);
  auto n_stopped = await(is(kind::stopped, "normal"));
  auto s_stopped = await(is(kind::stopped, "shutdown"));
  ASSERT_TRUE(n_stopped && s_stopped);
  EXPECT_EQ(n_stopped->reason, "normal");
  EXPECT_EQ(s_stopped->reason, "exit_reason(user_shutdown)");
  ASSERT_TRUE(await(is(kind::restarted, "crash")));
  // The decision is taken in the same step that reports `stopped`.
  EXPECT_EQ(count(kind::restart_scheduled, "normal"), 0u);
  EXPECT_EQ(count(kind::restart_scheduled, "shutdown"), 0u);
  auto t = tree(sup);
  EXPECT_EQ(info(t, "normal").state, child_state::stopped);
  EXPECT_EQ(info(t, "normal").last_exit_reason, "normal");
  EXPECT_EQ(info(t, "shutdown").state, child_state::stopped);
  EXPECT_EQ(info(t, "crash").state, child_state::running);
  EXPECT_EQ(info(t, "crash").restart, restart_kind::transient);
}

TEST_F(Supervisor, PermanentChildRestartsEvenAfterANormalExitAndTemporaryNever) {
  auto p = probe_;
  auto sup =
      spawn(options("s", strategy_kind::one_for_one,
                    {worker_spec("perm", p), worker_spec("temp", p, {}, restart_kind::temporary)}));
  auto perm = await(is(kind::started, "perm"));
  auto temp = await(is(kind::started, "temp"));
  ASSERT_TRUE(perm && temp);

  caf::anon_send(caf::actor_cast<caf::actor>(perm->actor), finish_atom::value);
  crash(temp->actor);
  ASSERT_TRUE(await(is(kind::restarted, "perm")));
  auto temp_stopped = await(is(kind::stopped, "temp"));
  ASSERT_TRUE(temp_stopped);
  EXPECT_EQ(temp_stopped->reason, "system_error(runtime_error)");
  EXPECT_EQ(count(kind::restart_scheduled, "temp"), 0u);
  auto t = tree(sup);
  EXPECT_EQ(info(t, "temp").state, child_state::stopped);
  EXPECT_FALSE(info(t, "temp").actor);
  EXPECT_EQ(probe_->spawns("temp"), 1);
}

TEST_F(Supervisor, GiveUpWithEscalateStopsSiblingsAndQuitsWithSupervisorGaveUp) {
  auto p = probe_;
  auto o = options("s", strategy_kind::one_for_one,
                   {worker_spec("steady", p),
                    worker_spec(
                        "loop", p, [](int) { return make_script(script::crash_at_start); },
                        restart_kind::permanent, "fragile")});
  o.policies["fragile"] = make_policy(5ms, 2, give_up_action::escalate);
  auto sup = spawn(std::move(o));

  auto gave_up = await(is(kind::given_up, "loop"));
  ASSERT_TRUE(gave_up);
  EXPECT_EQ(gave_up->reason, "system_error(runtime_error)");
  auto reason = await_down(sup);
  ASSERT_TRUE(reason);
  EXPECT_TRUE(*reason == errc::supervisor_gave_up) << sys_.render(*reason);
  EXPECT_EQ(sys_.render(*reason), "wsvisor: supervisor_gave_up (loop)");
  EXPECT_EQ(count(kind::restart_scheduled, "loop"), 2u);
  EXPECT_EQ(count(kind::exited, "loop"), 3u);
  EXPECT_EQ(probe_->spawns("loop"), 3);
  EXPECT_EQ(count(kind::stopped, "steady"), 1u);
  auto gone = await_gone(4);
  EXPECT_EQ(std::count(gone.begin(), gone.end(), "steady"), 1);
}

TEST_F(Supervisor, GiveUpWithStopLeavesTheChildDownAndTheOthersRunning) {
  auto p = probe_;
  auto o = options("s", strategy_kind::one_for_all,
                   {worker_spec("steady", p),
                    worker_spec(
                        "loop", p, [](int) { return make_script(script::crash_at_start); },
                        restart_kind::permanent, "fragile")});
  o.policies["fragile"] = make_policy(5ms, 1, give_up_action::stop);
  o.policies["fast"] = make_policy(5ms);
  auto sup = spawn(std::move(o));
  auto steady_child = await(is(kind::started, "steady"));
  ASSERT_TRUE(steady_child);
  ASSERT_TRUE(await(is(kind::given_up, "loop")));

  auto t = tree(sup);
  EXPECT_EQ(info(t, "loop").state, child_state::given_up);
  EXPECT_FALSE(info(t, "loop").actor);
  EXPECT_EQ(info(t, "steady").state, child_state::running);
  EXPECT_EQ(probe_->spawns("loop"), 2);
  // one_for_all: the single allowed restart took the sibling along; the
  // give-up did not.
  EXPECT_EQ(probe_->spawns("steady"), 2);
  EXPECT_EQ(info(t, "steady").restarts, 1u);
  EXPECT_EQ(ask_ok(sup, shutdown_atom::value), caf::none);
  auto reason = await_down(sup);
  ASSERT_TRUE(reason);
  EXPECT_FALSE(*reason);
}

TEST_F(Supervisor, ResetAfterAStableRunStartsTheBackoffAgainFromTheMinimum) {
  auto p = probe_;
  auto plan = [](int n) {
    if (n <= 3) return make_script(script::crash_at_start);
    if (n == 4) return make_script(script::crash_after, 1100ms);  // longer than reset_after
    return script{};
  };
  auto o = options("s", strategy_kind::one_for_one,
                   {worker_spec("r", p, plan, restart_kind::permanent, "reset")});
  auto pol = make_policy(20ms);
  pol.reset_after = 1000ms;
  o.policies["reset"] = pol;
  spawn(std::move(o));

  std::vector<std::chrono::milliseconds> delays;
  std::vector<std::uint32_t> attempts;
  for (int i = 0; i < 4; ++i) {
    auto e = await(is(kind::restart_scheduled, "r"));
    ASSERT_TRUE(e) << i;
    delays.push_back(e->delay);
    attempts.push_back(e->attempt);
  }
  EXPECT_EQ(delays, (std::vector<std::chrono::milliseconds>{20ms, 40ms, 80ms, 20ms}));
  EXPECT_EQ(attempts, (std::vector<std::uint32_t>{1, 2, 3, 1}));
}

TEST_F(Supervisor, SupersededRestartTimerIsIgnoredWhenItFires) {
  auto p = probe_;
  // rest_for_one over [a, b, z]: b's own restart (300 ms) is superseded by
  // a's group restart (10 ms); z later gets a 600 ms timer, which the clock
  // delivers after b's stale one, so once z is back b's timer has been seen.
  auto o = options("s", strategy_kind::rest_for_one,
                   {worker_spec("a", p), worker_spec("b", p, {}, restart_kind::permanent, "slow"),
                    worker_spec("z", p, {}, restart_kind::permanent, "slower")});
  o.policies["slow"] = make_policy(300ms);
  o.policies["slower"] = make_policy(600ms);
  auto sup = spawn(std::move(o));
  auto a = await(is(kind::started, "a"));
  auto b = await(is(kind::started, "b"));
  ASSERT_TRUE(a && b && await(is(kind::started, "z")));

  crash(b->actor);
  auto b_timer = await(is(kind::restart_scheduled, "b"));
  ASSERT_TRUE(b_timer);
  auto t = tree(sup);
  EXPECT_EQ(info(t, "b").state, child_state::restarting);
  EXPECT_TRUE(info(t, "b").restart_at.has_value());
  EXPECT_EQ(info(t, "z").state, child_state::restarting);  // waits for b's group

  crash(a->actor);
  auto a_timer = await(is(kind::restart_scheduled, "a"));
  ASSERT_TRUE(a_timer);
  ASSERT_TRUE(await(is(kind::restarted, "a")));
  auto b_new = await(is(kind::restarted, "b"));
  auto z_new = await(is(kind::restarted, "z"));
  ASSERT_TRUE(b_new && z_new);

  // A stale timer delivered early, and a replay of the consumed one: ignored.
  self_->send(sup, respawn_atom::value, std::string{"b"}, b_timer->generation);
  self_->send(sup, respawn_atom::value, std::string{"a"}, a_timer->generation);
  t = tree(sup);
  EXPECT_EQ(info(t, "b").actor, b_new->actor);
  EXPECT_EQ(info(t, "b").restarts, 1u);
  EXPECT_EQ(info(t, "a").restarts, 1u);

  crash(z_new->actor);
  auto z_timer = await(is(kind::restart_scheduled, "z"));
  ASSERT_TRUE(z_timer);
  EXPECT_EQ(z_timer->delay, 600ms);
  ASSERT_TRUE(await(is(kind::restarted, "z")));
  EXPECT_EQ(count(kind::restarted, "b"), 1u);
  EXPECT_EQ(probe_->spawns("b"), 2);
  t = tree(sup);
  EXPECT_EQ(info(t, "b").actor, b_new->actor);
}

TEST_F(Supervisor, RemovingAGroupLeaderStartsTheSiblingsWaitingForIt) {
  auto p = probe_;
  auto o =
      options("s", strategy_kind::rest_for_one,
              {worker_spec("lead", p, {}, restart_kind::permanent, "slow"), worker_spec("b", p)});
  o.policies["slow"] = make_policy(60s);  // never fires during the test
  auto sup = spawn(std::move(o));
  auto lead = await(is(kind::started, "lead"));
  ASSERT_TRUE(lead && await(is(kind::started, "b")));

  crash(lead->actor);
  ASSERT_TRUE(await(is(kind::restart_scheduled, "lead")));
  EXPECT_EQ(info(tree(sup), "b").state, child_state::restarting);
  EXPECT_EQ(ask_ok(sup, remove_child_atom::value, std::string{"lead"}), caf::none);
  auto b = await(is(kind::restarted, "b"));
  ASSERT_TRUE(b);
  auto t = tree(sup);
  ASSERT_EQ(t.children.size(), 1u);
  EXPECT_EQ(info(t, "b").state, child_state::running);
  EXPECT_EQ(info(t, "b").actor, b->actor);
}

TEST_F(Supervisor, SimultaneousFailuresInOneForAllRestartEveryChildOnce) {
  auto p = probe_;
  auto sup = spawn(options("s", strategy_kind::one_for_all,
                           {worker_spec("a", p), worker_spec("b", p), worker_spec("c", p)}));
  auto a = await(is(kind::started, "a"));
  ASSERT_TRUE(a && await(is(kind::started, "b")));
  auto c = await(is(kind::started, "c"));
  ASSERT_TRUE(c);

  crash(a->actor);
  crash(c->actor);
  ASSERT_TRUE(await(is(kind::restarted, "a")));
  ASSERT_TRUE(await(is(kind::restarted, "b")));
  ASSERT_TRUE(await(is(kind::restarted, "c")));
  auto t = tree(sup);  // every down had been handled before the group restarted
  EXPECT_EQ(history_of(kind::restart_scheduled).size(), 1u);
  for (auto name : {"a", "b", "c"}) {
    EXPECT_EQ(info(t, name).restarts, 1u) << name;
    EXPECT_EQ(info(t, name).state, child_state::running) << name;
    EXPECT_EQ(probe_->spawns(name), 2) << name;
  }
}

TEST_F(Supervisor, RemovedChildsPendingRestartTimerDoesNotRestartItsSuccessor) {
  auto p = probe_;
  auto o = options("s", strategy_kind::one_for_one,
                   {worker_spec("x", p, {}, restart_kind::permanent, "slow"),
                    worker_spec("clock", p, {}, restart_kind::permanent, "slower")});
  o.policies["slow"] = make_policy(300ms);
  o.policies["slower"] = make_policy(600ms);
  auto sup = spawn(std::move(o));
  auto x = await(is(kind::started, "x"));
  auto clock = await(is(kind::started, "clock"));
  ASSERT_TRUE(x && clock);

  crash(x->actor);
  ASSERT_TRUE(await(is(kind::restart_scheduled, "x")));
  EXPECT_EQ(ask_ok(sup, remove_child_atom::value, std::string{"x"}), caf::none);
  EXPECT_EQ(ask_ok(sup, add_child_atom::value, worker_spec("x", p)), caf::none);
  auto successor = await(is(kind::started, "x"));
  ASSERT_TRUE(successor);

  crash(clock->actor);  // its 600 ms timer is delivered after x's stale 300 ms one
  ASSERT_TRUE(await(is(kind::restarted, "clock")));
  EXPECT_EQ(count(kind::restarted, "x"), 0u);
  EXPECT_EQ(probe_->spawns("x"), 2);
  auto t = tree(sup);
  EXPECT_EQ(info(t, "x").actor, successor->actor);
  EXPECT_EQ(info(t, "x").restarts, 0u);
}

TEST_F(Supervisor, ChildrenAreAddedAndRemovedAtRunTime) {
  auto p = probe_;
  auto sup = spawn(options("s", strategy_kind::one_for_one, {worker_spec("a", p)}));
  auto a = await(is(kind::started, "a"));
  ASSERT_TRUE(a);

  EXPECT_EQ(ask_ok(sup, add_child_atom::value, worker_spec("x", p)), caf::none);
  auto x = await(is(kind::started, "x"));
  ASSERT_TRUE(x);
  EXPECT_EQ(ask_ok(sup, add_child_atom::value, worker_spec("x", p)), errc::duplicate_child);
  EXPECT_EQ(
      ask_ok(sup, add_child_atom::value, worker_spec("y", p, {}, restart_kind::permanent, "nope")),
      errc::unknown_policy);
  EXPECT_EQ(
      ask_ok(sup, add_child_atom::value, child_spec{"z", {}, restart_kind::permanent, "fast"}),
      errc::invalid_child_spec);
  child_spec throwing{"t", [](caf::actor_system&) -> caf::actor { throw std::runtime_error("no"); },
                      restart_kind::permanent, "fast"};
  EXPECT_EQ(ask_ok(sup, add_child_atom::value, throwing), errc::child_start_failed);

  caf::actor found;
  self_->request(sup, await_timeout, get_child_atom::value, std::string{"x"})
      .receive([&](caf::actor& h) { found = h; },
               [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  EXPECT_EQ(found.address(), x->actor);

  EXPECT_EQ(ask_ok(sup, remove_child_atom::value, std::string{"x"}), caf::none);
  EXPECT_EQ(await_gone(1), std::vector<std::string>{"x"});
  EXPECT_EQ(ask_ok(sup, remove_child_atom::value, std::string{"x"}), errc::unknown_child);
  auto t = tree(sup);
  ASSERT_EQ(t.children.size(), 1u);
  EXPECT_EQ(t.children[0].name, "a");
  EXPECT_EQ(t.children[0].actor, a->actor);
  EXPECT_EQ(count(kind::restart_scheduled, "x"), 0u);
}

TEST_F(Supervisor, UnexpectedRequestIsAnsweredWithAnErrorAndChangesNothing) {
  auto p = probe_;
  auto sup = spawn(options("s", strategy_kind::one_for_one, {worker_spec("a", p)}));
  auto a = await(is(kind::started, "a"));
  ASSERT_TRUE(a);
  EXPECT_EQ(ask_ok(sup, std::string{"hello"}), caf::sec::unexpected_message);
  auto t = tree(sup);
  EXPECT_EQ(info(t, "a").actor, a->actor);
}

TEST_F(Supervisor, ExitSignalStopsChildrenInReverseStartOrderThenQuitsWithItsReason) {
  auto p = probe_;
  auto sup = spawn(options("s", strategy_kind::one_for_one,
                           {worker_spec("a", p), worker_spec("b", p), worker_spec("c", p)}));
  ASSERT_TRUE(await(is(kind::started, "c")));

  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  auto reason = await_down(sup);
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, caf::exit_reason::user_shutdown);
  EXPECT_EQ(await_gone(3), (std::vector<std::string>{"c", "b", "a"}));
  EXPECT_EQ(history_of(kind::stopped), (std::vector<std::string>{"c", "b", "a"}));
  EXPECT_EQ(history_of(kind::restart_scheduled), std::vector<std::string>{});
}

TEST_F(Supervisor, ShutdownRequestRepliesOnceAllChildrenHaveStopped) {
  auto p = probe_;
  auto sup = spawn(options("s", strategy_kind::rest_for_one,
                           {worker_spec("a", p), worker_spec("b", p), worker_spec("c", p)}));
  ASSERT_TRUE(await(is(kind::started, "c")));

  EXPECT_EQ(ask_ok(sup, shutdown_atom::value), caf::none);
  EXPECT_EQ(await_gone(3), (std::vector<std::string>{"c", "b", "a"}));
  auto reason = await_down(sup);
  ASSERT_TRUE(reason);
  EXPECT_FALSE(*reason);
  EXPECT_EQ(history_of(kind::stopped), (std::vector<std::string>{"c", "b", "a"}));
}

TEST_F(Supervisor, ChildIgnoringShutdownIsKilledAfterTheTimeout) {
  auto p = probe_;
  auto o = options("s", strategy_kind::one_for_one,
                   {worker_spec("a", p),
                    worker_spec("stubborn", p, [](int) { return make_script(script::stubborn); }),
                    worker_spec("c", p)});
  o.shutdown_timeout = 100ms;
  auto sup = spawn(std::move(o));
  ASSERT_TRUE(await(is(kind::started, "c")));

  auto asked_at = steady::now();
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  auto reason = await_down(sup);
  ASSERT_TRUE(reason);
  EXPECT_GE(steady::now() - asked_at, 100ms);
  EXPECT_EQ(*reason, caf::exit_reason::user_shutdown);
  EXPECT_EQ(await_gone(3), (std::vector<std::string>{"c", "stubborn", "a"}));
  auto killed = await(is(kind::stopped, "stubborn"));
  ASSERT_TRUE(killed);
  EXPECT_EQ(killed->reason, "exit_reason(kill)");
}

TEST_F(Supervisor, ChildThatCannotBeKilledIsAbandonedAfterASecondTimeout) {
  auto p = probe_;
  std::promise<void> release;
  script wedged_script;
  wedged_script.wedge = release.get_future().share();
  child_spec wedged{"wedged",
                    [p, wedged_script](caf::actor_system& sys) {
                      p->spawned("wedged");
                      return sys.spawn<caf::detached>(worker, std::string{"wedged"}, p->listener(),
                                                      wedged_script);
                    },
                    restart_kind::permanent, "fast"};
  auto o = options("s", strategy_kind::one_for_one, {worker_spec("a", p), wedged});
  o.shutdown_timeout = 100ms;
  auto sup = spawn(std::move(o));
  auto w = await(is(kind::started, "wedged"));
  ASSERT_TRUE(w && await(is(kind::started, "a")));

  caf::anon_send(caf::actor_cast<caf::actor>(w->actor), wedge_atom::value);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  auto reason = await_down(sup);
  release.set_value();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, caf::exit_reason::user_shutdown);
  auto abandoned = await(is(kind::stopped, "wedged"));
  ASSERT_TRUE(abandoned);
  EXPECT_EQ(abandoned->reason, "abandoned: still alive after kill");
  // `a` was stopped after giving up on `wedged`, which died only when released.
  EXPECT_EQ(await_gone(2), (std::vector<std::string>{"a", "wedged"}));
}

TEST_F(Supervisor, ShutdownCancelsPendingRestartsAndRefusesNewChildren) {
  auto p = probe_;
  auto o = options("s", strategy_kind::one_for_one,
                   {worker_spec("a", p),
                    worker_spec("stubborn", p, [](int) { return make_script(script::stubborn); }),
                    worker_spec("x", p, {}, restart_kind::permanent, "slow")});
  o.policies["slow"] = make_policy(300ms);
  o.shutdown_timeout = 200ms;  // keeps the supervisor busy shutting down for a while
  auto sup = spawn(std::move(o));
  auto x = await(is(kind::started, "x"));
  ASSERT_TRUE(x);
  crash(x->actor);
  ASSERT_TRUE(await(is(kind::restart_scheduled, "x")));

  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  EXPECT_EQ(ask_ok(sup, add_child_atom::value, worker_spec("late", p)), errc::shutting_down);
  auto reason = await_down(sup);
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, caf::exit_reason::user_shutdown);
  EXPECT_EQ(probe_->spawns("x"), 1);
  EXPECT_EQ(probe_->spawns("late"), 0);
  EXPECT_EQ(count(kind::restarted, "x"), 0u);
}

TEST_F(Supervisor, FactoryFailureCountsAsAnExitAndIsRetried) {
  auto p = probe_;
  auto attempts = std::make_shared<int>(0);
  child_spec flaky{"flaky",
                   [attempts, p](caf::actor_system& sys) -> caf::actor {
                     if (++*attempts == 1) throw std::runtime_error("not yet");
                     return sys.spawn(worker, std::string{"flaky"}, p->listener(), script{});
                   },
                   restart_kind::permanent, "fast"};
  auto sup = spawn(options("s", strategy_kind::one_for_one, {flaky}));
  auto exited = await(is(kind::exited, "flaky"));
  ASSERT_TRUE(exited);
  EXPECT_EQ(exited->reason, "wsvisor: child_start_failed (not yet)");
  ASSERT_TRUE(await(is(kind::restarted, "flaky")));
  EXPECT_EQ(info(tree(sup), "flaky").state, child_state::running);
}

TEST_F(Supervisor, InvalidInitialChildSpecMakesTheSupervisorQuitWithTheError) {
  auto p = probe_;
  auto sup = spawn(
      options("s", strategy_kind::one_for_one,
              {worker_spec("a", p), worker_spec("b", p, {}, restart_kind::permanent, "nope")}));
  auto reason = await_down(sup);
  ASSERT_TRUE(reason);
  EXPECT_TRUE(*reason == errc::unknown_policy) << sys_.render(*reason);
  EXPECT_EQ(probe_->spawns("a"), 0);
}

TEST_F(Supervisor, KilledSupervisorLeavesNoOrphans) {
  auto p = probe_;
  auto sup =
      spawn(options("s", strategy_kind::one_for_one, {worker_spec("a", p), worker_spec("b", p)}));
  ASSERT_TRUE(await(is(kind::started, "b")));
  caf::anon_send_exit(sup, caf::exit_reason::kill);
  auto reason = await_down(sup);
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, caf::exit_reason::kill);
  auto gone = await_gone(2);
  std::sort(gone.begin(), gone.end());
  EXPECT_EQ(gone, (std::vector<std::string>{"a", "b"}));
}

TEST_F(Supervisor, EscalatingInnerSupervisorIsRestartedByTheOuterOne) {
  auto p = probe_;
  // The inner supervisor's `crasher` fails at once in its first two
  // incarnations: more than max_restarts = 1, so the first inner supervisor
  // gives up and escalates; the second one finds it stable.
  auto crasher_plan = [](int n) { return n <= 2 ? make_script(script::crash_at_start) : script{}; };
  auto inner = options("inner", strategy_kind::one_for_one,
                       {worker_spec("steady", p), worker_spec("crasher", p, crasher_plan,
                                                              restart_kind::permanent, "fragile")});
  inner.policies["fragile"] = make_policy(5ms, 1, give_up_action::escalate);
  inner.shutdown_timeout = 1s;
  child_spec inner_spec{"inner",
                        [inner](caf::actor_system& sys) { return spawn_supervisor(sys, inner); },
                        restart_kind::permanent, "fast"};
  auto outer =
      spawn(options("outer", strategy_kind::one_for_one, {worker_spec("peer", p), inner_spec}));

  auto first = await(is(kind::started, "inner", "outer"));
  ASSERT_TRUE(first);
  ASSERT_TRUE(await(is(kind::given_up, "crasher", "inner")));
  auto exited = await(is(kind::exited, "inner", "outer"));
  ASSERT_TRUE(exited);
  EXPECT_EQ(exited->reason, "wsvisor: supervisor_gave_up (crasher)");
  auto second = await(is(kind::restarted, "inner", "outer"));
  ASSERT_TRUE(second);
  EXPECT_NE(second->actor, first->actor);
  // The first inner supervisor reported `started` for crasher too.
  ASSERT_TRUE(await(is(kind::started, "crasher", "inner")));
  ASSERT_TRUE(await(is(kind::started, "crasher", "inner")));
  EXPECT_EQ(probe_->spawns("crasher"), 3);
  EXPECT_EQ(probe_->spawns("steady"), 2);
  EXPECT_EQ(probe_->spawns("peer"), 1);

  auto t = tree(outer);
  EXPECT_EQ(info(t, "inner").state, child_state::running);
  EXPECT_EQ(info(t, "inner").restarts, 1u);
  auto inner_tree = tree(caf::actor_cast<caf::actor>(second->actor));
  EXPECT_EQ(inner_tree.name, "inner");
  EXPECT_EQ(info(inner_tree, "crasher").state, child_state::running);

  // Ordered shutdown cascades: outer stops inner (which stops its children
  // in reverse order) and then peer.
  caf::anon_send_exit(outer, caf::exit_reason::user_shutdown);
  auto reason = await_down(outer);
  ASSERT_TRUE(reason);
  auto gone = await_gone(6);  // steady and crasher of the first inner, then these
  ASSERT_GE(gone.size(), 6u);
  EXPECT_EQ(std::vector<std::string>(gone.end() - 3, gone.end()),
            (std::vector<std::string>{"crasher", "steady", "peer"}));
}

}  // namespace
}  // namespace wsvisor
