// The supervisor's children at run time, its shutdown, failing factories and
// nested supervisors.

#include "actors/supervision/supervisor.hpp"

#include "tests/actors/supervision/supervisor_fixture.hpp"

namespace wsvisor::supervision_test {
namespace {

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
}  // namespace wsvisor::supervision_test
