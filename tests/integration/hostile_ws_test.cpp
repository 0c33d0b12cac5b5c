// Hostile input after the upgrade (issue 7), against a real node over real
// sockets: malformed and oversized WebSocket frames, floods of fragments and
// of junk frames (forged resumes, bad JWTs and a subscribe flood are in
// hostile_session_test.cpp). Every test
// ends by checking that a client connected before, and a new one, are still
// served (hostile_fixture.hpp). docs/security.md, "Hostile input", lists
// each case and its answer.

#include <map>
#include <string>
#include <vector>

#include "tests/integration/hostile_fixture.hpp"

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

}  // namespace
}  // namespace wsvisor::test::hostile
