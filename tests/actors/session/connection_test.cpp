#include "actors/session/connection.hpp"

#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <caf/actor_registry.hpp>
#include <caf/after.hpp>
#include <caf/exit_reason.hpp>
#include <caf/group_manager.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/messages.hpp"
#include "actors/session/messages.hpp"
#include "actors/supervision/messages.hpp"
#include "tests/actors/session/session_fixture.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

class Connection : public SessionFixture {
 protected:
  void expect_error(test_client& c, const std::string& code) {
    auto err = c.expect("error");
    EXPECT_EQ(str(err, "code"), code) << json::serialize(err);
    EXPECT_FALSE(str(err, "message").empty());
  }
};

TEST_F(Connection, EveryErrorLeavesTheConnectionUsable) {
  start_registry();
  auto& c = connect();
  c.send(R"({"type":"subscribe","channel":"news"})");
  expect_error(c, "no_session");
  c.send(R"({"type":"pong"})");
  expect_error(c, "no_session");
  hello(c);
  c.send("not json");
  expect_error(c, "bad_json");
  c.send(R"(["type","hello"])");
  expect_error(c, "bad_json");
  c.send(R"({"type":"subscribe"})");
  expect_error(c, "bad_frame");
  c.send(R"({"type":"hello"})");
  expect_error(c, "bad_frame");  // this connection already has a session
  c.send(R"({"type":"teleport"})");
  expect_error(c, "unknown_type");
  c.send(R"({"type":"subscribe","channel":"no spaces"})");
  expect_error(c, "bad_channel");
  c.send(R"({"type":"publish","channel":"news","data":1,"cseq":2})");
  expect_error(c, "bad_cseq");
  c.send_binary();
  expect_error(c, "binary_unsupported");
  subscribe(c, "news");
  publish(c, "news", 5, 1);
  expect_message(c, 1, 5);
  EXPECT_FALSE(c.transport().await_close(0ms));
}

// The node looks the connections' group up once and hands it to every
// connection (actors/session/connection.hpp: a lookup racing on two I/O threads hung
// one of them); a drain's shutdown sent to that group reaches the connection.
TEST_F(Connection, JoinsTheGroupItIsGivenWhereADrainsShutdownReachesIt) {
  auto group = sys_.groups().get_local("test.connections.given");
  conn_opts_.connections = group;
  start_registry();
  auto& c = connect();
  hello(c);
  group.get()->enqueue(nullptr, caf::make_message_id(),
                       caf::make_message(drain_goaway_atom::value, std::uint32_t{0}), nullptr);
  auto goaway = c.expect("goaway");
  EXPECT_EQ(str(goaway, "reason"), "shutdown");
  auto closed = c.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1001);
}

TEST_F(Connection, FramesSentBeforeTheWelcomeAreKeptAndForwardedInOrder) {
  start_registry();
  auto& c = connect();
  c.send(R"({"type":"hello"})");
  c.send(R"({"type":"subscribe","channel":"news"})");
  c.send(R"({"type":"publish","channel":"news","data":7,"cseq":1})");
  c.send(R"({"type":"bye"})");
  c.expect("welcome");
  c.expect("subscribed");
  EXPECT_EQ(num(c.expect("ack"), "cseq"), 1);
  // The message may or may not beat bye; either way bye closes with 1000.
  auto closed = c.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1000);
}

TEST_F(Connection, NoHelloWithinTheHandshakeTimeoutCloses4408) {
  handshake_timeout_ = 100ms;
  start_registry();
  auto& greeted = connect();
  hello(greeted);
  auto& silent = connect();           // spawned later: its timer fires after greeted's
  silent.send(R"({"type":"pong"})");  // not a handshake
  expect_error(silent, "no_session");
  auto closed = silent.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 4408);
  EXPECT_TRUE(await_down(sys_, silent.actor()));
  // The connection that said hello in time is still served.
  subscribe(greeted, "news");
  EXPECT_FALSE(greeted.transport().await_close(0ms));
}

TEST_F(Connection, PingsEveryIntervalAndClosesASilentConnectionWith4408) {
  session_.heartbeat_interval = 30ms;
  session_.heartbeat_timeout = 200ms;
  start_registry();
  auto& c = connect();
  auto w = hello(c);
  EXPECT_EQ(str(c.next(true), "type"), "ping");
  EXPECT_EQ(str(c.next(true), "type"), "ping");
  auto closed = c.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 4408);
  ASSERT_TRUE(await_down(sys_, c.actor()));
  // The session only detached: the client resumes it.
  EXPECT_TRUE(resume(connect(), w, 0).resumed);
}

TEST_F(Connection, PongsKeepAConnectionAlivePastTheHeartbeatTimeout) {
  session_.heartbeat_interval = 30ms;
  session_.heartbeat_timeout = 250ms;
  start_registry();
  auto& c = connect();
  hello(c);
  auto start = std::chrono::steady_clock::now();
  // Answering every ping for well over two timeouts.
  while (std::chrono::steady_clock::now() - start < 600ms) {
    auto frame = c.next(true);
    ASSERT_EQ(str(frame, "type"), "ping") << json::serialize(frame);
    c.send(R"({"type":"pong"})");
  }
  EXPECT_FALSE(c.transport().await_close(0ms));
  subscribe(c, "alive");
}

TEST_F(Connection, WithoutARegistryHelloClosesWith1013) {
  auto& c = connect();
  c.send(R"({"type":"hello"})");
  auto closed = c.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1013);
  EXPECT_TRUE(await_down(sys_, c.actor()));
}

TEST_F(Connection, ARestartedRegistryIsFoundByNewConnections) {
  start_registry();
  auto& before = connect();
  hello(before);
  caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
  ASSERT_TRUE(await_down(sys_, registry_));
  // Its sessions ended with it: their connections are told the server is going away.
  auto closed = before.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1001);
  auto& between = connect();
  between.send(R"({"type":"hello"})");
  ASSERT_TRUE(between.await_close());
  EXPECT_EQ(between.await_close()->code, 1013);
  start_registry();
  auto& after = connect();
  hello(after);
  subscribe(after, "news");
}

TEST_F(Connection, TheSocketClosingEndsTheConnectionAndDetachesTheSession) {
  start_registry();
  auto& c = connect();
  auto w = hello(c);
  c.drop(1001);
  ASSERT_TRUE(await_down(sys_, c.actor()));
  EXPECT_FALSE(c.transport().await_close(0ms));  // nothing to close: the socket is gone
  auto& again = connect();
  EXPECT_TRUE(resume(again, w, 0).resumed);
}

TEST_F(Connection, KeepsABoundedNumberOfFramesUntilTheSessionAnswers) {
  // A stand-in registry that answers only when the test lets it, and a
  // stand-in session that shows what the connection forwards.
  caf::scoped_actor registry{sys_};
  caf::scoped_actor session{sys_};
  sys_.registry().put(session_registry_name, registry);
  auto& c = connect();
  c.send(R"({"type":"hello"})");
  for (int i = 0; i < 65; ++i)
    c.send(json::object{{"type", "subscribe"}, {"channel", "ch" + std::to_string(i)}});
  registry->receive(
      [&](hello_atom, caf::actor&, transport_ptr&, client_identity&) {
        // All 65 frames arrived while the request was pending: 64 are kept.
        expect_error(c, "rate_limited");
        return caf::actor{session};
      },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "no hello request"; });
  for (int i = 0; i < 64; ++i) {
    session->receive([&](subscribe_atom, const std::string& channel,
                         bool) { EXPECT_EQ(channel, "ch" + std::to_string(i)); },
                     caf::after(await_timeout) >> [] { ADD_FAILURE() << "frame not forwarded"; });
  }
  c.send(R"({"type":"subscribe","channel":"live"})");
  session->receive(
      [&](subscribe_atom, const std::string& channel, bool) { EXPECT_EQ(channel, "live"); },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "frame not forwarded"; });
  c.drop();
  EXPECT_TRUE(await_down(sys_, c.actor()));
  sys_.registry().erase(session_registry_name);
}

}  // namespace
}  // namespace wsvisor::test
