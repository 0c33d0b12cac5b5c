// The supervisor restarts: strategies, restart kinds, intensity and give-up,
// backoff and its reset, stale timers.

#include "actors/supervision/supervisor.hpp"

#include "tests/actors/supervision/supervisor_fixture.hpp"

namespace wsvisor::supervision_test {
namespace {

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

}  // namespace
}  // namespace wsvisor::supervision_test
