#include "actors/registry.hpp"

#include <chrono>

#include <gtest/gtest.h>
#include <caf/actor_registry.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/messages.hpp"
#include "tests/actors/session_fixture.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;

class Registry : public SessionFixture {};

TEST_F(Registry, NamesItselfAndItsBrokerAndErasesBothWhenItEnds) {
  start_registry();
  EXPECT_EQ(sys_.registry().get<caf::actor>(session_registry_name), registry_);
  auto broker = sys_.registry().get<caf::actor>(broker_name);
  ASSERT_TRUE(broker);
  caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
  ASSERT_TRUE(await_down(sys_, registry_));
  EXPECT_FALSE(sys_.registry().get<caf::actor>(session_registry_name));
  EXPECT_FALSE(sys_.registry().get<caf::actor>(broker_name));
  EXPECT_TRUE(await_down(sys_, broker));  // linked: shared fate
}

TEST_F(Registry, EndsWithItsBrokerAndTakesItsSessionsAlong) {
  start_registry();
  auto& c = connect();
  hello(c);
  auto broker = sys_.registry().get<caf::actor>(broker_name);
  caf::anon_send_exit(broker, caf::exit_reason::kill);
  EXPECT_TRUE(await_down(sys_, registry_));
  auto closed = c.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1011);  // the session died abnormally under the connection
}

TEST_F(Registry, ForgetsEndedSessions) {
  session_.resume_window = 50ms;
  start_registry();
  auto& a = connect();
  auto& b = connect();
  hello(a);
  hello(b);
  EXPECT_EQ(live_sessions(), 2u);
  a.drop();
  EXPECT_TRUE(eventually([&] { return live_sessions() == 1; }));
  b.send(R"({"type":"bye"})");
  EXPECT_TRUE(eventually([&] { return live_sessions() == 0; }));
}

TEST_F(Registry, RemembersOnlySoManyExpiredSessions) {
  session_.resume_window = 50ms;
  registry_opts_.expired_capacity = 1;
  start_registry();
  auto& a = connect();
  auto& b = connect();
  auto wa = hello(a);
  auto wb = hello(b);
  a.drop();
  ASSERT_TRUE(eventually([&] { return live_sessions() == 1; }));
  b.drop();
  ASSERT_TRUE(eventually([&] { return live_sessions() == 0; }));
  EXPECT_EQ(resume(connect(), wa, 0).reason, "unknown");  // pushed out by b
  EXPECT_EQ(resume(connect(), wb, 0).reason, "expired");
}

TEST_F(Registry, RemembersExpiredSessionsForABoundedTime) {
  session_.resume_window = 100ms;
  registry_opts_.expired_ttl = 100ms;
  start_registry();
  auto& a = connect();
  auto& b = connect();
  auto wa = hello(a);
  hello(b);
  a.drop();
  ASSERT_TRUE(eventually([&] { return live_sessions() == 1; }));
  // b expires a full resume window after a did: a's memory is older than its ttl.
  b.drop();
  ASSERT_TRUE(eventually([&] { return live_sessions() == 0; }));
  EXPECT_EQ(resume(connect(), wa, 0).reason, "unknown");
}

}  // namespace
}  // namespace wsvisor::test
