// [limits] and [auth] where the actors enforce them: the per-connection rate
// limit, resume-storm admission, sessions, subscriptions and channels per
// node, and JWT authentication with channel permissions. Real connection,
// registry, session and broker actors over fake transports.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/serialize.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/messages.hpp"
#include "actors/session/admission.hpp"
#include "actors/session/jwt_auth.hpp"
#include "actors/session/messages.hpp"
#include "tests/actors/session/session_fixture.hpp"
#include "tests/support/jwt_tokens.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

const std::string key = "0123456789abcdef0123456789abcdef";

class Limits : public SessionFixture {
 protected:
  void expect_error(test_client& c, const std::string& code) {
    auto err = c.expect("error");
    EXPECT_EQ(str(err, "code"), code) << json::serialize(err);
  }

  void enable_auth() {
    conn_opts_.auth = std::make_shared<const jwt_verifier>(key, "");
    conn_opts_.max_auth_failures = 3;
    registry_opts_.auth_required = true;
  }

  static std::string token_for(const std::string& sub, const std::string& channels_json) {
    return make_jwt(key, R"({"sub":")" + sub + R"(","channels":)" + channels_json + "}");
  }

  welcome_info hello_with(test_client& c, const std::string& token) {
    c.send(json::object{{"type", "hello"}, {"auth", token}});
    auto w = c.expect("welcome");
    return {str(w, "session"), str(w, "token")};
  }
};

TEST_F(Limits, FramesOverTheRateAreDroppedWithRateLimitedNamingThePublish) {
  conn_opts_.messages_per_second = 1;  // effectively no refill during the test
  conn_opts_.message_burst = 4;
  conn_opts_.rate_limit_strikes = 100;
  start_registry();
  auto& c = connect();
  hello(c);                  // 1
  subscribe(c, "news");      // 2
  publish(c, "news", 1, 1);  // 3
  expect_message(c, 1, 1);
  publish(c, "news", 2, 2);  // 4: the last token
  expect_message(c, 2, 2);
  c.send(R"({"type":"publish","channel":"news","data":3,"cseq":3})");
  auto err = c.expect("error");
  EXPECT_EQ(str(err, "code"), "rate_limited");
  EXPECT_EQ(num(err, "cseq"), 3) << json::serialize(err);
  c.send(R"({"type":"subscribe","channel":"other"})");
  expect_error(c, "rate_limited");
  // Nothing was published or subscribed: the channel has one subscriber.
  EXPECT_EQ(subscribers("other"), 0u);
  EXPECT_FALSE(c.transport().await_close(0ms));
}

TEST_F(Limits, PersistentAbuseIsClosedWith1008AndOthersAreServed) {
  conn_opts_.messages_per_second = 1;
  conn_opts_.message_burst = 2;
  conn_opts_.rate_limit_strikes = 5;
  start_registry();
  auto [reader, writer, w] = reader_and_writer();
  auto& abuser = connect();
  hello(abuser);
  for (int i = 0; i < 50; ++i) abuser.send(R"({"type":"pong"})");
  auto closed = abuser.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1008);
  // Five strikes, five rate_limited answers, then the close.
  int answers = 0;
  for (const auto& f : abuser.transport().frames())
    if (f.head.find("rate_limited") != std::string::npos) ++answers;
  EXPECT_EQ(answers, 5);
  publish(writer, "news", 9, 1);
  expect_message(reader, 1, 9);
}

// The flood of the issue: accepted publishes whose acks are still owed (the
// channel's owner, an upstream in production, holds its answer) when the
// client is struck out. Every ack, then every rate_limited answer, is
// written before the 1008; nothing is read after the last strike.
TEST_F(Limits, AClientStruckOutForItsRateGetsEveryOwedAckInOrderBeforeThe1008) {
  conn_opts_.messages_per_second = 1;  // effectively no refill during the test
  conn_opts_.message_burst = 5;
  conn_opts_.rate_limit_strikes = 3;
  start_registry();
  // Holds every forwarded publish until told to answer them.
  struct held_state {
    std::vector<caf::typed_response_promise<std::uint64_t, std::string>> held;
    std::uint64_t forwarded = 0;
  };
  auto owner = sys_.spawn([](caf::stateful_actor<held_state>* self) -> caf::behavior {
    return {
        [self](owner_publish_atom, const std::string&,
               const shared_body&) -> caf::result<std::uint64_t, std::string> {
          auto rp = self->make_response_promise<std::uint64_t, std::string>();
          self->state.held.push_back(rp);
          ++self->state.forwarded;
          return rp;
        },
        [self](registry_stats_atom) { return self->state.forwarded; },
        [self](caf::ok_atom) {
          for (auto& rp : self->state.held) rp.deliver(std::uint64_t{0}, std::string{"held"});
          self->state.held.clear();
        },
    };
  });
  auto broker = sys_.registry().get<caf::actor>(broker_name);
  ASSERT_TRUE(broker);
  caf::anon_send(broker, own_channel_atom::value, std::string{"held"}, owner);
  auto& c = connect();
  hello(c);                              // frame 1 of the burst
  for (int cseq = 1; cseq <= 4; ++cseq)  // frames 2 to 5: accepted, their acks owed
    c.send(json::object{{"type", "publish"}, {"channel", "held"}, {"data", cseq}, {"cseq", cseq}});
  caf::scoped_actor self{sys_};
  ASSERT_TRUE(eventually([&] {
    std::uint64_t n = 0;
    self->request(owner, await_timeout, registry_stats_atom::value)
        .receive([&](std::uint64_t forwarded) { n = forwarded; }, [](caf::error&) {});
    return n == 4;
  }));
  for (int i = 0; i < 4; ++i) c.send(R"({"type":"pong"})");  // three strikes, then out
  c.send(json::object{{"type", "publish"}, {"channel", "held"}, {"data", 5}, {"cseq", 5}});
  settle(c.actor());
  // Struck out, but the acks are owed: no close, and nothing written yet.
  EXPECT_FALSE(c.transport().await_close(std::chrono::milliseconds{0}));
  self->send(owner, caf::ok_atom::value);
  for (int cseq = 1; cseq <= 4; ++cseq) {
    auto ack = c.expect("ack");
    EXPECT_EQ(num(ack, "cseq"), cseq) << json::serialize(ack);
  }
  for (int i = 0; i < 3; ++i) expect_error(c, "rate_limited");
  auto closed = c.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1008);
  // The publish after the last strike was not read: cseq 5 was never forwarded.
  EXPECT_EQ(c.transport().frames().size(), 1u + 4u + 3u);
  self->request(owner, await_timeout, registry_stats_atom::value)
      .receive([](std::uint64_t forwarded) { EXPECT_EQ(forwarded, 4u); },
               [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  caf::anon_send_exit(owner, caf::exit_reason::user_shutdown);
}

TEST_F(Limits, RefusedHandshakesGetGoawayOverloadWithRetryMsAndClose1001) {
  conn_opts_.gate = std::make_shared<handshake_gate>(1, 2, std::chrono::steady_clock::now());
  start_registry();
  auto& a = connect();
  hello(a);
  auto& b = connect();
  hello(b);
  auto& c = connect();
  c.send(R"({"type":"hello"})");
  auto goaway = c.expect("goaway");
  EXPECT_EQ(str(goaway, "reason"), "overload");
  EXPECT_GE(num(goaway, "retry_ms"), 10);
  auto closed = c.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1001);
  // A resume is a handshake too.
  auto& d = connect();
  d.send(json::object{{"type", "resume"}, {"session", "x"}, {"token", "y"}, {"last_seq", 0}});
  EXPECT_EQ(str(d.expect("goaway"), "reason"), "overload");
  EXPECT_EQ(conn_opts_.gate->refused(), 2u);
  // The admitted ones are served.
  subscribe(a, "news");
  EXPECT_EQ(live_sessions(), 2u);
}

TEST_F(Limits, SessionsOverTheLimitGetServerFullAndClose4429ResumesStillWork) {
  registry_opts_.max_sessions = 2;
  start_registry();
  auto& a = connect();
  auto wa = hello(a);
  hello(connect());
  auto& c = connect();
  c.send(R"({"type":"hello"})");
  expect_error(c, "server_full");
  auto closed = c.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 4429);
  // A resume of an existing session takes no new one: always allowed.
  a.drop();
  EXPECT_TRUE(resume(connect(), wa, 0).resumed);
  // A failed resume would start a new session: refused the same way.
  auto& d = connect();
  d.send(json::object{{"type", "resume"}, {"session", "nope"}, {"token", "t"}, {"last_seq", 0}});
  expect_error(d, "server_full");
  EXPECT_EQ(live_sessions(), 2u);
}

TEST_F(Limits, SubscriptionsPerSessionAreBounded) {
  registry_opts_.max_subscriptions = 2;
  start_registry();
  auto& c = connect();
  hello(c);
  subscribe(c, "a");
  subscribe(c, "b");
  subscribe(c, "b");  // already held: not a new one
  c.send(R"({"type":"subscribe","channel":"c"})");
  expect_error(c, "too_many_subscriptions");
  c.send(R"({"type":"unsubscribe","channel":"a"})");
  c.expect("unsubscribed");
  subscribe(c, "c");
  EXPECT_EQ(subscribers("c"), 1u);
}

TEST_F(Limits, ChannelsPerNodeAreBounded) {
  registry_opts_.max_channels = 2;
  start_registry();
  auto& c = connect();
  hello(c);
  subscribe(c, "a");
  subscribe(c, "b");
  c.send(R"({"type":"subscribe","channel":"c"})");
  expect_error(c, "too_many_channels");
  // The refused subscribe left nothing behind; an existing channel still takes subscribers.
  auto& other = connect();
  hello(other);
  subscribe(other, "a");
  EXPECT_EQ(subscribers("a"), 2u);
  c.send(R"({"type":"unsubscribe","channel":"b"})");
  c.expect("unsubscribed");
  ASSERT_TRUE(eventually([&] { return subscribers("b") == 0; }));
  subscribe(c, "c");
}

TEST_F(Limits, PipelinedSubscribesAreRefusedForTheLimitThatApplies) {
  // Subscribes sent without waiting for their answers: those still at the
  // broker may yet be refused, so they must not count against the session's
  // own limit, nor a repeated one be answered `subscribed` before the
  // broker took it (found by Hostile.ASubscribeFloodStopsAtTheSessionAndNodeLimits).
  registry_opts_.max_subscriptions = 3;
  registry_opts_.max_channels = 2;
  start_registry();
  auto& c = connect();
  hello(c);
  for (const auto* channel : {"a", "b", "c", "d", "e", "e", "a"})
    c.send(json::object{{"type", "subscribe"}, {"channel", channel}});
  EXPECT_EQ(str(c.expect("subscribed"), "channel"), "a");
  EXPECT_EQ(str(c.expect("subscribed"), "channel"), "b");
  for (int i = 0; i < 4; ++i) expect_error(c, "too_many_channels");  // c, d, e, e
  EXPECT_EQ(str(c.expect("subscribed"), "channel"), "a");
  EXPECT_EQ(subscribers("a"), 1u);
  EXPECT_EQ(subscribers("c"), 0u);
}

TEST_F(Limits, HelloWithoutAValidTokenIsUnauthorizedThenClosed1008) {
  enable_auth();
  start_registry();
  auto& c = connect();
  c.send(R"({"type":"hello"})");
  expect_error(c, "unauthorized");
  c.send(json::object{{"type", "hello"}, {"auth", make_jwt("x" + key, R"({"sub":"m"})")}});
  expect_error(c, "unauthorized");
  EXPECT_FALSE(c.transport().await_close(0ms));
  c.send(json::object{{"type", "hello"}, {"auth", "a.b.c"}});
  expect_error(c, "unauthorized");
  auto closed = c.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1008);
  EXPECT_EQ(live_sessions(), 0u);
}

TEST_F(Limits, TheTokensChannelsClaimGovernsSubscribeAndPublish) {
  enable_auth();
  start_registry();
  auto& c = connect();
  hello_with(c, token_for("alice", R"(["chat.*","user.alice"])"));
  subscribe(c, "chat.lobby");
  subscribe(c, "user.alice");
  c.send(R"({"type":"subscribe","channel":"user.bob"})");
  expect_error(c, "forbidden");
  publish(c, "chat.lobby", 1, 1);
  expect_message(c, 1, 1, "chat.lobby");
  c.send(R"({"type":"publish","channel":"user.bob","data":2,"cseq":2})");
  auto err = c.expect("error");
  EXPECT_EQ(str(err, "code"), "forbidden");
  EXPECT_EQ(num(err, "cseq"), 2);
  // The forbidden publish used its cseq; the next one follows it.
  publish(c, "chat.lobby", 3, 3);
  expect_message(c, 2, 3, "chat.lobby");
}

TEST_F(Limits, AResumeNeedsOnlyTheSessionTokenButAFailedOneNeedsAuth) {
  enable_auth();
  start_registry();
  auto& c = connect();
  auto w = hello_with(c, token_for("alice", R"(["news"])"));
  subscribe(c, "news");
  c.drop();
  // Resumed without a JWT: the session keeps its identity and permissions.
  auto& r = connect();
  EXPECT_TRUE(resume(r, w, 0).resumed);
  r.send(R"({"type":"subscribe","channel":"other"})");
  expect_error(r, "forbidden");
  // A resume that fails, without auth: no anonymous session; hello may follow.
  auto& f = connect();
  f.send(json::object{{"type", "resume"}, {"session", "nope"}, {"token", "t"}, {"last_seq", 0}});
  expect_error(f, "unauthorized");
  EXPECT_FALSE(f.transport().await_close(0ms));
  hello_with(f, token_for("bob", "[]"));
  // With auth, the failed resume starts a session for that token.
  auto& g = connect();
  g.send(json::object{{"type", "resume"},
                      {"session", "nope"},
                      {"token", "t"},
                      {"last_seq", 0},
                      {"auth", token_for("carol", R"(["*"])")}});
  auto welcome = g.expect("welcome");
  EXPECT_FALSE(welcome.at("resumed").as_bool());
  EXPECT_EQ(str(welcome, "reason"), "unknown");
  subscribe(g, "anything");
}

}  // namespace
}  // namespace wsvisor::test
