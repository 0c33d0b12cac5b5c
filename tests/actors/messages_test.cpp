#include "actors/supervision/messages.hpp"

#include <chrono>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>

#include "actors/errors.hpp"

namespace wsvisor {
namespace {

using namespace std::chrono_literals;

class SupervisorMessages : public ::testing::Test {
 protected:
  SupervisorMessages() : sys_(configure(cfg_)) {}

  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    add_supervision_message_types(cfg);
    return cfg;
  }

  template <class T>
  T round_trip(T x) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys_, buf};
    auto err = sink(x);
    EXPECT_FALSE(err) << sys_.render(err);
    T copy;
    caf::binary_deserializer source{sys_, buf};
    err = source(copy);
    EXPECT_FALSE(err) << sys_.render(err);
    return copy;
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_;
};

TEST_F(SupervisorMessages, WsvisorErrorsCompareByCodeAndRenderByName) {
  caf::error gave_up = make_error(errc::supervisor_gave_up, "feed");
  EXPECT_TRUE(gave_up == errc::supervisor_gave_up);
  EXPECT_FALSE(gave_up == errc::unknown_child);
  EXPECT_EQ(gave_up.category(), error_category);
  EXPECT_EQ(sys_.render(gave_up), "wsvisor: supervisor_gave_up (feed)");
  EXPECT_EQ(sys_.render(make_error(errc::duplicate_child)), "wsvisor: duplicate_child");
  caf::error implicit = errc::unknown_policy;
  EXPECT_EQ(implicit, make_error(errc::unknown_policy));
  EXPECT_EQ(to_string(errc::child_start_failed), "child_start_failed");
}

TEST_F(SupervisorMessages, DescribeSaysNormalForNoErrorAndRendersTheRest) {
  EXPECT_EQ(describe(sys_, caf::error{}), "normal");
  EXPECT_EQ(describe(sys_, caf::exit_reason::normal), "normal");
  EXPECT_EQ(describe(sys_, caf::exit_reason::user_shutdown), "exit_reason(user_shutdown)");
  EXPECT_EQ(describe(sys_, caf::sec::runtime_error), "system_error(runtime_error)");
  EXPECT_EQ(describe(sys_, make_error(errc::shutting_down)), "wsvisor: shutting_down");
}

TEST_F(SupervisorMessages, SupervisionTreeSurvivesSerialization) {
  caf::scoped_actor someone{sys_};
  auto at = std::chrono::system_clock::time_point{std::chrono::milliseconds{1'700'000'000'123}};
  supervision_tree tree{"root",
                        strategy_kind::rest_for_one,
                        {child_info{"feed",
                                    child_state::restarting,
                                    at,
                                    3,
                                    "boom",
                                    "upstream",
                                    restart_kind::transient,
                                    {},
                                    7,
                                    duration{9000},
                                    true},
                         child_info{"broker", child_state::running, std::nullopt, 0, "", "default",
                                    restart_kind::temporary, someone->address()}}};
  auto copy = round_trip(tree);
  EXPECT_EQ(copy.name, "root");
  EXPECT_EQ(copy.strategy, strategy_kind::rest_for_one);
  ASSERT_EQ(copy.children.size(), 2u);
  auto& feed = copy.children[0];
  EXPECT_EQ(feed.name, "feed");
  EXPECT_EQ(feed.state, child_state::restarting);
  ASSERT_TRUE(feed.restart_at.has_value());
  EXPECT_EQ(*feed.restart_at, at);
  EXPECT_EQ(feed.restarts, 3u);
  EXPECT_EQ(feed.last_exit_reason, "boom");
  EXPECT_EQ(feed.policy, "upstream");
  EXPECT_EQ(feed.restart, restart_kind::transient);
  EXPECT_FALSE(feed.actor);
  EXPECT_EQ(feed.max_restarts, 7u);
  EXPECT_EQ(feed.restart_window, duration{9000});
  EXPECT_TRUE(feed.supervisor);
  auto& broker = copy.children[1];
  EXPECT_FALSE(broker.restart_at.has_value());
  EXPECT_EQ(broker.restart, restart_kind::temporary);
  EXPECT_EQ(broker.actor, someone->address());
}

TEST_F(SupervisorMessages, SupervisorEventSurvivesSerializationAndPrints) {
  supervisor_event e{
      supervisor_event_kind::restart_scheduled, "root", "feed", 2, 400ms, "boom", 17, {}};
  auto copy = round_trip(e);
  EXPECT_EQ(copy.kind, supervisor_event_kind::restart_scheduled);
  EXPECT_EQ(copy.supervisor, "root");
  EXPECT_EQ(copy.child, "feed");
  EXPECT_EQ(copy.attempt, 2u);
  EXPECT_EQ(copy.delay, 400ms);
  EXPECT_EQ(copy.reason, "boom");
  EXPECT_EQ(copy.generation, 17u);
  auto text = caf::deep_to_string(e);
  EXPECT_NE(text.find("restart_scheduled"), std::string::npos) << text;
  EXPECT_NE(text.find("feed"), std::string::npos) << text;
}

}  // namespace
}  // namespace wsvisor
