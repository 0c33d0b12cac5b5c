// Hostile sessions (issue 7), against a real node over real sockets: forged
// resumes, bad JWTs, a token's channels claim, and a subscribe flood. Every
// test ends by checking that a client connected before, and a new one, are
// still served (hostile_fixture.hpp). docs/security.md, "Hostile input",
// lists each case and its answer; malformed frames and floods are in
// hostile_ws_test.cpp.

#include <map>
#include <string>
#include <vector>

#include "actors/ids.hpp"
#include "tests/integration/hostile_fixture.hpp"
#include "tests/support/jwt_tokens.hpp"

namespace wsvisor::test::hostile {
namespace {

TEST_F(Hostile, ForgedResumesAreUnknownAndLeaveTheRealSessionAlone) {
  cfg_.limits.messages_per_second = 0;
  start();
  wire_client owner{port()};
  auto real = owner.hello();
  owner.subscribe("vault");
  const auto id = str(real, "session"), token = str(real, "token");
  raw_client other_client;
  ASSERT_TRUE(other_client.upgrade(port()));
  auto other = other_client.hello();
  ASSERT_TRUE(other);
  auto forge = [&](const std::string& session, const std::string& t, json::value last_seq) {
    return json::serialize(json::object{
        {"type", "resume"}, {"session", session}, {"token", t}, {"last_seq", last_seq}});
  };
  auto flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  std::vector<std::pair<const char*, std::string>> unknown{
      {"a forged token", forge(id, base64url(std::string(32, 'x')), 0)},
      {"the token with its last character changed", forge(id, flipped, 0)},
      {"a truncated token", forge(id, token.substr(0, 20), 0)},
      {"the token with a character more", forge(id, token + "A", 0)},
      {"an empty token", forge(id, "", 0)},
      {"another session's token", forge(id, str(*other, "token"), 0)},
      {"its token for another session", forge(str(*other, "session"), token, 0)},
      {"an absurd last_seq", forge(id, token, 18446744073709551615ull)},
      {"an id of 60,000 characters", forge(std::string(60'000, 'a'), token, 0)},
  };
  // While the owner is attached: a resume that worked would take it over (4409).
  for (const auto& [what, frame] : unknown) {
    SCOPED_TRACE(what);
    raw_client thief;
    ASSERT_TRUE(thief.upgrade(port()));
    thief.send(frame);
    auto w = thief.next();
    ASSERT_TRUE(w) << "close " << thief.close_code;
    EXPECT_EQ(str(*w, "type"), "welcome") << json::serialize(*w);
    EXPECT_EQ(w->at("resumed"), false);
    EXPECT_EQ(str(*w, "reason"), "unknown");
    EXPECT_NE(str(*w, "session"), id);
    EXPECT_NE(str(*w, "session"), str(*other, "session"));
  }
  std::vector<std::pair<const char*, std::string>> malformed{
      {"a negative last_seq", forge(id, token, -1)},
      {"a last_seq over 2^64 - 1", R"({"type":"resume","session":")" + id + R"(","token":")" +
                                       token + R"(","last_seq":18446744073709551616})"},
      {"a fractional last_seq", forge(id, token, 1.5)},
      {"a last_seq in a string", forge(id, token, "0")},
      {"a token that is a number",
       R"({"type":"resume","session":")" + id + R"(","token":12345,"last_seq":0})"},
  };
  for (const auto& [what, frame] : malformed) {
    SCOPED_TRACE(what);
    raw_client thief;
    ASSERT_TRUE(thief.upgrade(port()));
    thief.send(frame);
    EXPECT_EQ(thief.next_error(), "bad_frame");
  }
  // Neither the owner nor the other session was disturbed: still attached, still receiving.
  EXPECT_FALSE(other_client.next(0ms));
  EXPECT_EQ(other_client.close_code, 0);
  before_->c().publish("vault", "one", ++before_->cseq);
  EXPECT_EQ(str(owner.expect("message"), "data"), "one");
  // Detached, the same forgeries still change nothing.
  owner.socket().drop();
  before_->c().publish("vault", "two", ++before_->cseq);
  for (const auto& [what, frame] : unknown) {
    raw_client thief;
    ASSERT_TRUE(thief.upgrade(port()));
    thief.send(frame);
    auto w = thief.next();
    ASSERT_TRUE(w);
    EXPECT_EQ(w->at("resumed"), false) << what;
  }
  // The owner resumes with its token and gets what it missed.
  wire_client back{port()};
  auto w = back.resume(id, token, 1);
  EXPECT_EQ(w["resumed"], true);
  auto m = back.expect("message");
  EXPECT_EQ(m["seq"].to_number<int>(), 2);
  EXPECT_EQ(str(m, "data"), "two");
  expect_still_served();
}

const std::string key = "hostile-suite-hmac-key-0123456789abcdef";

TEST_F(Hostile, BadJwtsAreUnauthorizedThenClosed1008) {
  cfg_.auth.secret = key;
  cfg_.auth.max_failures = 3;
  good_auth_ = make_jwt(key, R"({"sub":"good","channels":["*"]})");
  start();
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  const std::string claims = R"({"sub":"mallory","channels":["*"]})";
  auto valid = make_jwt(key, claims);
  auto tampered = valid;
  {
    auto a = tampered.find('.'), b = tampered.rfind('.');
    tampered.replace(a + 1, b - a - 1, base64url(R"({"sub":"root","channels":["*"]})"));
  }
  const std::vector<std::pair<const char*, std::string>> bad{
      {"alg none", base64url(R"({"alg":"none","typ":"JWT"})") + "." + base64url(claims) + "."},
      {"alg none with a signature", base64url(R"({"alg":"none"})") + "." + base64url(claims) + "." +
                                        valid.substr(valid.rfind('.') + 1)},
      {"signed with another key", make_jwt(key + "-not-the-same", claims)},
      {"HS512 under the node's key", make_jwt(key, claims, JWT_ALG_HS512)},
      {"HS384 under the node's key", make_jwt(key, claims, JWT_ALG_HS384)},
      {"expired",
       make_jwt(key, R"({"sub":"m","channels":["*"],"exp":)" + std::to_string(now - 60) + "}")},
      {"not yet valid",
       make_jwt(key, R"({"sub":"m","channels":["*"],"nbf":)" + std::to_string(now + 3600) + "}")},
      {"a tampered payload", tampered},
      {"truncated", valid.substr(0, valid.size() - 5)},
      {"three dots", "a.b.c"},
      {"empty", ""},
      {"60,000 bytes of base64", std::string(60'000, 'A')},
  };
  // Three to a connection: unauthorized each time, and the third closes it.
  for (std::size_t i = 0; i < bad.size(); i += 3) {
    raw_client c;
    ASSERT_TRUE(c.upgrade(port()));
    for (std::size_t k = i; k < i + 3; ++k) {
      SCOPED_TRACE(bad[k].first);
      c.send(json::object{{"type", "hello"}, {"auth", bad[k].second}});
      EXPECT_EQ(c.next_error(), "unauthorized");
      if (k < i + 2) {
        EXPECT_EQ(c.close_code, 0);
      }
    }
    EXPECT_EQ(c.await_close(), 1008);
  }
  // No token at all, twice, and then a valid one: failures below the limit
  // cost nothing.
  raw_client late;
  ASSERT_TRUE(late.upgrade(port()));
  late.send(R"({"type":"hello"})");
  EXPECT_EQ(late.next_error(), "unauthorized");
  late.send(R"({"type":"hello","auth":null})");
  EXPECT_EQ(late.next_error(), "bad_frame");  // malformed, not a bad token: not counted
  late.send(json::object{{"type", "hello"}, {"auth", valid}});
  auto w = late.next();
  ASSERT_TRUE(w);
  EXPECT_EQ(str(*w, "type"), "welcome") << json::serialize(*w);
  expect_still_served();
}

TEST_F(Hostile, AValidJwtIsServedWithinItsChannelsClaimOnly) {
  cfg_.auth.secret = key;
  good_auth_ = make_jwt(key, R"({"sub":"good","channels":["chat"]})");
  start();
  raw_client alice;
  ASSERT_TRUE(alice.upgrade(port()));
  alice.send(json::object{
      {"type", "hello"},
      {"auth", make_jwt(key, R"({"sub":"alice","channels":["user.alice","room.*"]})")}});
  auto w = alice.next();
  ASSERT_TRUE(w);
  ASSERT_EQ(str(*w, "type"), "welcome");
  for (const auto* channel : {"chat", "user.bob", "room", "user.alice.x", "sys.upstream.x"}) {
    alice.send(json::object{{"type", "subscribe"}, {"channel", channel}});
    EXPECT_EQ(alice.next_error(), "forbidden") << channel;
  }
  alice.send(R"({"type":"publish","channel":"chat","data":"spoof","cseq":1})");
  auto err = alice.next();
  ASSERT_TRUE(err);
  EXPECT_EQ(str(*err, "code"), "forbidden");
  EXPECT_EQ(err->at("cseq").to_number<int>(), 1);
  for (const auto* channel : {"user.alice", "room.1"}) {
    alice.send(json::object{{"type", "subscribe"}, {"channel", channel}});
    auto f = alice.next();
    ASSERT_TRUE(f);
    EXPECT_EQ(str(*f, "type"), "subscribed") << json::serialize(*f);
  }
  // The spoofed publish reached nobody: the next message on chat is seq 1.
  expect_still_served();
}

TEST_F(Hostile, ASubscribeFloodStopsAtTheSessionAndNodeLimits) {
  cfg_.limits.messages_per_second = 0;
  cfg_.limits.subscriptions_per_session = 50;
  cfg_.limits.channels = 80;
  start();  // the client connected before holds channel `chat`
  // Two thousand distinct channels from each of two sessions, in batches.
  auto flood = [&](raw_client& c, const std::string& prefix) {
    std::map<std::string, int> got;
    for (int sent = 0; sent < 2000; sent += 500) {
      std::string bytes;
      for (int i = sent; i < sent + 500; ++i)
        bytes += ws_frame(
            op::text, R"({"type":"subscribe","channel":")" + prefix + std::to_string(i) + "\"}");
      EXPECT_TRUE(c.ws.write(bytes));
      for (int i = 0; i < 500; ++i) {
        auto f = c.next();
        if (!f) {
          ADD_FAILURE() << "no answer; close " << c.close_code;
          return got;
        }
        ++got[str(*f, "type") == "error" ? str(*f, "code") : str(*f, "type")];
      }
    }
    return got;
  };
  raw_client a, b;
  ASSERT_TRUE(a.upgrade(port()));
  ASSERT_TRUE(a.hello());
  ASSERT_TRUE(b.upgrade(port()));
  ASSERT_TRUE(b.hello());
  auto got_a = flood(a, "a.");
  EXPECT_EQ(got_a,
            (std::map<std::string, int>{{"subscribed", 50}, {"too_many_subscriptions", 1950}}));
  // 1 + 50 channels exist; b may add 29 more.
  auto got_b = flood(b, "b.");
  EXPECT_EQ(got_b, (std::map<std::string, int>{{"subscribed", 29}, {"too_many_channels", 1971}}));
  // Existing channels still take subscribers.
  b.send(R"({"type":"subscribe","channel":"a.0"})");
  auto f = b.next();
  ASSERT_TRUE(f);
  EXPECT_EQ(str(*f, "type"), "subscribed") << json::serialize(*f);
  expect_still_served();
}

}  // namespace
}  // namespace wsvisor::test::hostile
