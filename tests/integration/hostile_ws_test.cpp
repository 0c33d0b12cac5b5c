// Hostile input after the upgrade (issue 7), against a real node over real
// sockets: malformed and oversized WebSocket frames, floods of fragments and
// of junk frames, forged resumes, bad JWTs and a subscribe flood. Every test
// ends by checking that a client connected before, and a new one, are still
// served (hostile_fixture.hpp). docs/security.md, "Hostile input", lists
// each case and its answer.

#include <map>
#include <string>
#include <vector>

#include "actors/ids.hpp"
#include "tests/integration/hostile_fixture.hpp"
#include "tests/support/jwt_tokens.hpp"

namespace wsvisor::test::hostile {
namespace {

struct bad_frames {
  const char* what;
  std::string bytes;  // written after hello
};

// Each case on its own connection, after hello: the close code it gets.
void expect_close_for_each(std::uint16_t port, const std::vector<bad_frames>& cases,
                           std::uint16_t code) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    raw_client client;
    ASSERT_TRUE(client.upgrade(port));
    ASSERT_TRUE(client.hello());
    client.ws.write(c.bytes);
    EXPECT_EQ(client.await_close(), code);
  }
}

TEST_F(Hostile, InvalidUtf8InATextFrameClosesWith1007) {
  start();
  auto text = [](std::string_view payload, frame_bits bits = {}) {
    return ws_frame(op::text, payload, bits);
  };
  expect_close_for_each(
      port(),
      {
          {"a byte that is never UTF-8", text("{\"type\":\"pong\",\"x\":\"\xff\"}")},
          {"an overlong encoding of '/'", text("\xc0\xaf")},
          {"a UTF-16 surrogate encoded as UTF-8", text("\xed\xa0\x80")},
          {"a code point above U+10FFFF", text("\xf4\x90\x80\x80")},
          {"a sequence cut short by the end of the message", text("abc\xe2\x82")},
          {"a sequence broken across two fragments",
           text("\xe2\x82", {.fin = false}) + ws_frame(op::continuation, "(")},
      },
      1007);
  expect_still_served();
}

TEST_F(Hostile, ProtocolViolationsCloseWith1002) {
  start();
  auto text = ws_frame(op::text, R"({"type":"pong"})");
  expect_close_for_each(
      port(),
      {
          {"an unmasked frame", ws_frame(op::text, R"({"type":"pong"})", {.masked = false})},
          {"a reserved bit without an extension", ws_frame(op::text, "{}", {.rsv = 0x40})},
          {"reserved opcode 3", ws_frame(0x3, "x")},
          {"reserved control opcode 0xB", ws_frame(0xB, "x")},
          {"a continuation with no message begun", ws_frame(op::continuation, "x")},
          {"a new message inside a fragmented one",
           ws_frame(op::text, "a", {.fin = false}) + ws_frame(op::text, "b")},
          {"a fragmented ping", ws_frame(op::ping, "x", {.fin = false})},
          {"a ping over 125 bytes", ws_frame(op::ping, std::string(126, 'p'))},
          {"a length in 2 bytes that fits in 7", ws_frame(op::text, "{}", {.length_bytes = 2})},
          {"a length in 8 bytes that fits in 2", ws_frame(op::text, "{}", {.length_bytes = 8})},
          {"close code 999", ws_close_frame(999)},
          {"close code 1005 (never sent)", ws_close_frame(1005)},
          {"close code 1006 (never sent)", ws_close_frame(1006)},
          {"close code 2999 (reserved)", ws_close_frame(2999)},
          {"a close payload of one byte", ws_frame(op::close, "\x03")},
          {"invalid UTF-8 in a close reason", ws_close_frame(1000, "\xff")},
      },
      1002);
  // A text frame after those on a fresh connection is fine.
  raw_client fine;
  ASSERT_TRUE(fine.upgrade(port()));
  ASSERT_TRUE(fine.hello());
  fine.ws.write(text);
  EXPECT_FALSE(fine.next(200ms));  // pong: no answer, no close
  EXPECT_EQ(fine.close_code, 0);
  expect_still_served();
}

TEST_F(Hostile, MessagesOverMaxMessageBytesCloseWith1009) {
  cfg_.server.max_message_bytes = 4096;
  start();
  std::string fragments = ws_frame(op::text, "[", {.fin = false});
  for (int i = 0; i < 5000; ++i) fragments += ws_frame(op::continuation, "1", {.fin = false});
  fragments += ws_frame(op::continuation, "]");
  expect_close_for_each(
      port(),
      {
          {"a text frame one byte over", ws_frame(op::text, std::string(4097, ' '))},
          {"a binary frame one byte over", ws_frame(op::binary, std::string(4097, 'b'))},
          // Refused from the header: the server does not wait for the bytes.
          {"a frame announcing 2^62 bytes", ws_frame(op::text, "", {.length = 1ull << 62})},
          {"a frame announcing 2^64 - 1 bytes", ws_frame(op::text, "", {.length = ~0ull})},
          {"5002 one-byte fragments", fragments},
      },
      1009);
  // At the limit is fine.
  raw_client fine;
  ASSERT_TRUE(fine.upgrade(port()));
  ASSERT_TRUE(fine.hello());
  auto pad = std::string(4096 - std::string_view{R"({"type":"pong","x":""})"}.size(), 'x');
  fine.send(R"({"type":"pong","x":")" + pad + "\"}");
  EXPECT_FALSE(fine.next(200ms));
  EXPECT_EQ(fine.close_code, 0);
  expect_still_served();
}

TEST_F(Hostile, AHundredThousandTinyFragmentsMakeOneMessageAnsweredNormally) {
  cfg_.server.max_message_bytes = 128 * 1024;
  start();
  raw_client flood;
  ASSERT_TRUE(flood.upgrade(port()));
  ASSERT_TRUE(flood.hello());
  // A publish of 100,000 bytes in 100,000 frames of one byte, with a ping
  // after every thousandth (control frames may come between fragments).
  const std::string head = R"({"type":"publish","channel":"chat","cseq":1,"data":")";
  const std::string data(100'000 - head.size() - 2, 'f');
  const std::string message = head + data + "\"}";
  std::string bytes;
  bytes.reserve(message.size() * 7 + 1000);
  for (std::size_t i = 0; i < message.size(); ++i) {
    bytes += ws_frame(i == 0 ? op::text : op::continuation, message.substr(i, 1),
                      {.fin = i + 1 == message.size()});
    if ((i + 1) % 1000 == 0 && i + 1 < message.size())
      bytes += ws_frame(op::ping, std::to_string(i + 1));
  }
  ASSERT_TRUE(flood.ws.write(bytes, 30s));
  // Every ping answered with its pong, then the ack.
  int pongs = 0;
  std::optional<json::object> ack;
  while (!ack) {
    auto f = flood.ws.read_frame(10s);
    ASSERT_TRUE(f) << "after " << pongs << " pongs";
    if (f->opcode == op::pong) {
      EXPECT_EQ(f->payload, std::to_string(++pongs * 1000));
      continue;
    }
    ASSERT_EQ(f->opcode, op::text);
    ack = json::parse(f->payload).as_object();
  }
  EXPECT_EQ(pongs, 99);  // after frames 1000 .. 99,000
  EXPECT_EQ(str(*ack, "type"), "ack") << json::serialize(*ack);
  // The subscriber gets the whole message.
  auto m = before_->c().expect("message");
  ++before_->seq;
  EXPECT_EQ(str(m, "data"), data);
  expect_still_served();
}

// Ten junk frames of every kind, each with the error code it must get
// (after hello; a binary frame is written as such).
struct junk {
  std::string text;
  bool binary = false;
  std::string code;
};

std::vector<junk> junk_kinds() {
  return {
      {"not json", false, "bad_json"},
      {"[1,2,3]", false, "bad_json"},
      {std::string(100, '['), false, "bad_json"},  // deeper than any frame may nest
      {R"({"type":"publish","channel":"chat","data":"\ud800","cseq":1})", false, "bad_json"},
      {R"({"type":"nope"})", false, "unknown_type"},
      {R"({"type":42})", false, "bad_frame"},
      {R"({"type":"publish","channel":"chat"})", false, "bad_frame"},
      {R"({"type":"ack","seq":-1})", false, "bad_frame"},
      {R"({"type":"hello"})", false, "bad_frame"},  // this connection has a session
      {R"({"type":"subscribe","channel":"no spaces"})", false, "bad_channel"},
      {R"({"type":"publish","channel":"sys.x","data":1,"cseq":1})", false, "bad_channel"},
      {R"({"type":"publish","channel":"chat","data":1,"cseq":1000000})", false, "bad_cseq"},
      {std::string{"\x00\x01\x02", 3}, true, "binary_unsupported"},
  };
}

std::string frame_of(const junk& j) { return ws_frame(j.binary ? op::binary : op::text, j.text); }

TEST_F(Hostile, TenThousandJunkFramesAreEachAnsweredWithTheirError) {
  // A rate the flood stays under: every frame gets its own answer.
  cfg_.limits.messages_per_second = 20'000;
  cfg_.limits.message_burst = 20'000;
  start();
  raw_client junky;
  ASSERT_TRUE(junky.upgrade(port()));
  ASSERT_TRUE(junky.hello());
  // One frame nested as deep as a frame may be long, first.
  junky.send(std::string(4000, '['));
  EXPECT_EQ(junky.next_error(), "bad_json");
  auto kinds = junk_kinds();
  constexpr int total = 10'000, batch = 500;
  for (int sent = 0; sent < total; sent += batch) {
    // Answers come from the connection and (bad_cseq) from the session, so
    // their order may differ: each batch is compared as counts.
    std::string bytes;
    std::map<std::string, int> expected, got;
    for (int i = sent; i < sent + batch; ++i) {
      const auto& j = kinds[static_cast<std::size_t>(i) % kinds.size()];
      bytes += frame_of(j);
      ++expected[j.code];
    }
    ASSERT_TRUE(junky.ws.write(bytes));
    for (int i = 0; i < batch; ++i) ++got[junky.next_error()];
    ASSERT_EQ(got, expected) << "in the batch from frame " << sent;
  }
  EXPECT_EQ(junky.close_code, 0);
  // Still a working connection.
  junky.send(R"({"type":"subscribe","channel":"chat"})");
  auto f = junky.next();
  ASSERT_TRUE(f);
  EXPECT_EQ(str(*f, "type"), "subscribed");
  expect_still_served();
}

TEST_F(Hostile, AJunkFloodOverTheRateIsRateLimitedThenClosed1008) {
  cfg_.limits.messages_per_second = 1;
  cfg_.limits.message_burst = 100;
  cfg_.limits.rate_limit_strikes = 5;
  start();
  raw_client junky;
  ASSERT_TRUE(junky.upgrade(port()));
  ASSERT_TRUE(junky.hello());  // one token of the hundred
  // Only junk the connection answers itself: the session's answers (bad_cseq)
  // race with the close, after which nothing more is written.
  auto kinds = junk_kinds();
  std::erase_if(kinds, [](const junk& j) { return j.code == "bad_cseq"; });
  std::string bytes;
  for (std::size_t i = 0; i < 10'000; ++i) bytes += frame_of(kinds[i % kinds.size()]);
  // Written in slices until the server has closed; everything it said is read on the way.
  std::map<std::string, int> got;
  for (std::size_t at = 0; at < bytes.size() && junky.close_code == 0 && !junky.ws.ended();
       at += 16 * 1024) {
    junky.ws.write(std::string_view{bytes}.substr(at, 16 * 1024));
    while (auto f = junky.next(10ms)) ++got[str(*f, "code")];
  }
  while (junky.close_code == 0)
    if (auto f = junky.next()) {
      ++got[str(*f, "code")];
    } else {
      break;
    }
  EXPECT_EQ(junky.close_code, 1008);
  // The 99 tokens left, each frame answered with its own error; then five
  // strikes, each `rate_limited`; then the close. (A token or a strike that
  // came back during the flood's first second adds at most one each.)
  int rate_limited = got["rate_limited"];
  got.erase("rate_limited");
  int own = 0;
  for (auto& [code, n] : got) own += n;
  EXPECT_GE(own, 99);
  EXPECT_LE(own, 101);
  EXPECT_GE(rate_limited, 5);
  EXPECT_LE(rate_limited, 7);
  expect_still_served();
}

// A flood closed for its rate still gets every answer to the frames before
// the close, in the order of the frames: each publish that reached the
// subscribers is acked (a client that starts over resends only what it has
// no ack for), and the `rate_limited` errors come in their frames' places,
// not ahead of the acks the broker has yet to confirm.
TEST_F(Hostile, AFloodClosedForItsRateGetsEveryAnswerInOrderBeforeTheClose) {
  cfg_.limits.messages_per_second = 1;
  cfg_.limits.message_burst = 5;
  cfg_.limits.rate_limit_strikes = 3;
  start();
  wire_client listener{port()};
  listener.hello();
  listener.subscribe("flood");
  raw_client flooder;
  ASSERT_TRUE(flooder.upgrade(port()));
  ASSERT_TRUE(flooder.hello());  // one token of the five
  std::string bytes;
  for (int cseq = 1; cseq <= 20; ++cseq)
    bytes +=
        ws_frame(op::text, R"({"type":"publish","channel":"flood","data":)" + std::to_string(cseq) +
                               R"(,"cseq":)" + std::to_string(cseq) + "}");
  ASSERT_TRUE(flooder.ws.write(bytes));
  std::vector<std::uint64_t> answered, acked;
  while (auto f = flooder.next()) {
    auto type = str(*f, "type");
    ASSERT_TRUE(type == "ack" || (type == "error" && str(*f, "code") == "rate_limited"))
        << json::serialize(*f);
    auto cseq = f->at("cseq").to_number<std::uint64_t>();
    answered.push_back(cseq);
    if (type == "ack") acked.push_back(cseq);
  }
  EXPECT_EQ(flooder.close_code, 1008);
  // Four tokens and three strikes: at least seven answers, one per frame in
  // order (a token or strike back during the flood adds one more each).
  ASSERT_GE(answered.size(), 7u);
  for (std::size_t i = 0; i < answered.size(); ++i) EXPECT_EQ(answered[i], i + 1) << i;
  EXPECT_GE(acked.size(), 4u);
  // What reached the listener is exactly what was acked: a marker published
  // after the close arrives behind every delivery of the flood.
  wire_client marker{port()};
  marker.hello();
  marker.publish("flood", "end", 1);
  std::vector<std::uint64_t> delivered;
  for (;;) {
    auto m = listener.expect("message");
    if (m.empty() || m.at("data").is_string()) break;
    delivered.push_back(m.at("data").to_number<std::uint64_t>());
  }
  EXPECT_EQ(delivered, acked);
  expect_still_served();
}

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
