#include "actors/session/registry.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_registry.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "tests/actors/session/session_fixture.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;

class Registry : public SessionFixture {};

// A session on another node, found but silent when asked to attach (its
// node froze right after the find): it may have welcomed the client already.
caf::behavior silent_session(caf::event_based_actor* self,
                             std::shared_ptr<std::vector<caf::response_promise>> kept) {
  return {
      [self, kept](remote_attach_atom, const caf::actor&, const std::string&, const std::string&,
                   std::uint64_t) {
        kept->push_back(self->make_response_promise());  // never delivered
        return kept->back();
      },
  };
}

// This node's cluster actor: finds every session on that silent peer.
caf::behavior finding_cluster(caf::event_based_actor*, caf::actor session) {
  return {
      [session](cluster_find_atom, const std::string&, const std::string&) { return session; },
      [](local_interest_atom, const std::string&, bool) { return caf::ok_atom::value; },
      [](broker_joined_atom) {},
  };
}

TEST_F(Registry, AResumeWhoseSessionElsewhereNeverAnswersClosesWith4503NotANewSession) {
  auto kept = std::make_shared<std::vector<caf::response_promise>>();
  auto session = sys_.spawn(silent_session, kept);
  auto cluster = sys_.spawn(finding_cluster, session);
  sys_.registry().put(cluster_name, cluster);
  registry_opts_.node = "a";
  registry_opts_.peer_timeout = 200ms;
  start_registry();
  auto& c = connect();
  c.send(
      R"({"type":"resume","session":"b.0123456789abcdef0123456789abcdef","token":"t","last_seq":0})");
  auto closed = c.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 4503);
  EXPECT_FALSE(c.transport().next_frame(0ms)) << "a frame (a second welcome?) before the close";
  EXPECT_EQ(live_sessions(), 0u);  // no new session was made for it
  sys_.registry().erase(cluster_name);
  caf::anon_send_exit(cluster, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
}

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

// A session taken over from a draining peer holds its direct deliveries
// until its predecessor says it is done; a predecessor that ends first (its
// node died) is done too. The adopt's sender is that predecessor.
TEST_F(Registry, AnAdoptedSessionStopsHoldingDeliveriesWhenItsPredecessorEnds) {
  start_registry();
  auto& writer = connect();
  hello(writer);
  session_handover h{.id = "peer.adopted", .token = "t0ken", .channels = {"news"}};
  std::optional<caf::scoped_actor> predecessor{std::in_place, sys_};
  (*predecessor)
      ->request(registry_, await_timeout, adopt_session_atom::value, h)
      .receive([](caf::actor&) {}, [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  publish(writer, "news", 1, 1);  // held: the predecessor might forward it too
  predecessor.reset();
  auto& back = connect();
  auto r = resume(back, welcome_info{.session = h.id, .token = h.token}, 0);
  ASSERT_TRUE(r.resumed) << r.reason;
  EXPECT_EQ(r.replay, 1);
  expect_message(back, 1, 1);
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
