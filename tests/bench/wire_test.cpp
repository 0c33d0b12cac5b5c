// The load generator's wire codecs: what it sends and how it reads what the
// three kinds of server answer.

#include <gtest/gtest.h>

#include "tools/bench/wire.hpp"

namespace wsbench {
namespace {

TEST(BenchWire, PayloadCarriesSenderNumberAndTimeAndHasTheAskedSize) {
  auto p = make_payload({.src = 7, .k = 12345, .t_ns = 987654321}, 64);
  EXPECT_EQ(p.size(), 64u);
  auto s = parse_payload(p);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->src, 7u);
  EXPECT_EQ(s->k, 12345u);
  EXPECT_EQ(s->t_ns, 987654321);
  // Smaller than its numbers: the numbers win, nothing is cut.
  auto tiny = make_payload({.src = 1, .k = 2, .t_ns = 3}, 2);
  EXPECT_EQ(tiny, "1:2:3:");
}

TEST(BenchWire, TicksFillerIsMarketTextOfTheAskedSizeDifferentPerMessage) {
  EXPECT_EQ(parse_filler("ticks"), filler::ticks);
  EXPECT_EQ(parse_filler("x"), filler::x);
  EXPECT_FALSE(parse_filler("zeros"));
  auto a = make_payload({.src = 1, .k = 1, .t_ns = 5}, 280, filler::ticks);
  auto b = make_payload({.src = 1, .k = 2, .t_ns = 5}, 280, filler::ticks);
  EXPECT_EQ(a.size(), 280u);
  EXPECT_EQ(b.size(), 280u);
  EXPECT_NE(a.substr(6), b.substr(6));  // past the stamps, the ticks differ
  EXPECT_NE(a.find("symbol="), std::string::npos) << a;
  EXPECT_EQ(a.find_first_of("\"\\"), std::string::npos) << a;  // no JSON escaping needed
  auto s = parse_payload(b);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->k, 2u);
  EXPECT_EQ(make_payload({.src = 1, .k = 1, .t_ns = 5}, 280, filler::ticks), a);  // deterministic
}

TEST(BenchWire, PayloadParserRejectsForeignText) {
  EXPECT_FALSE(parse_payload(""));
  EXPECT_FALSE(parse_payload("hello"));
  EXPECT_FALSE(parse_payload("1:2"));
  EXPECT_FALSE(parse_payload("1:x:3:"));
}

TEST(BenchWire, WsvisorFramesFollowTheProtocol) {
  EXPECT_EQ(wsv_hello(), R"({"type":"hello"})");
  EXPECT_EQ(wsv_subscribe("fan"), R"({"type":"subscribe","channel":"fan"})");
  EXPECT_EQ(wsv_publish("rt.1", "1:2:3:", 9),
            R"({"type":"publish","channel":"rt.1","data":"1:2:3:","cseq":9})");
  EXPECT_EQ(wsv_ack(64), R"({"type":"ack","seq":64})");
  EXPECT_EQ(wsv_resume("s1", "t1", 5),
            R"({"type":"resume","session":"s1","token":"t1","last_seq":5})");
}

TEST(BenchWire, WsvisorFramesInMessagePackRoundTrip) {
  // What the generator sends on wsvisor.v1.msgpack reads back as the server's
  // frames would: the same fields, as a MessagePack map.
  auto publish = wsv_msgpack(wsv_publish("rt.1", "1:2:3:", 9));
  ASSERT_FALSE(publish.empty());
  EXPECT_EQ(static_cast<unsigned char>(publish[0]), 0x84u);  // a map of 4
  auto m = parse_wsv_msgpack(
      wsv_msgpack(R"({"type":"message","seq":42,"channel":"fan","data":"1:2:3:xx"})"));
  EXPECT_EQ(m.type, wsv_frame::message);
  EXPECT_EQ(m.seq, 42u);
  EXPECT_EQ(m.data, "1:2:3:xx");
  auto w = parse_wsv_msgpack(
      wsv_msgpack(R"({"type":"welcome","session":"S","token":"T","resumed":true})"));
  EXPECT_EQ(w.type, wsv_frame::welcome);
  EXPECT_TRUE(w.resumed);
  EXPECT_EQ(parse_wsv_msgpack("not msgpack").type, wsv_frame::malformed);
}

TEST(BenchWire, WsvisorParserReadsWhatTheServerSends) {
  auto m = parse_wsv(R"({"type":"message","seq":42,"channel":"fan","data":"1:2:3:xx"})");
  EXPECT_EQ(m.type, wsv_frame::message);
  EXPECT_EQ(m.seq, 42u);
  EXPECT_EQ(m.data, "1:2:3:xx");
  auto w = parse_wsv(
      R"({"type":"welcome","session":"S","token":"T","resumed":false,"reason":"expired","last_cseq":0,)"
      R"("heartbeat_ms":25000,"resume_window_ms":30000})");
  EXPECT_EQ(w.type, wsv_frame::welcome);
  EXPECT_EQ(w.session, "S");
  EXPECT_EQ(w.token, "T");
  EXPECT_FALSE(w.resumed);
  EXPECT_EQ(w.reason, "expired");
  EXPECT_TRUE(parse_wsv(R"({"type":"welcome","session":"S","token":"T","resumed":true})").resumed);
  EXPECT_EQ(parse_wsv(R"({"type":"ping"})").type, wsv_frame::ping);
  EXPECT_EQ(parse_wsv(R"({"type":"ack","cseq":3})").cseq, 3u);
  auto e = parse_wsv(R"({"type":"error","code":"bad_cseq","message":"..."})");
  EXPECT_EQ(e.type, wsv_frame::error);
  EXPECT_EQ(e.reason, "bad_cseq");
  EXPECT_EQ(parse_wsv("not json").type, wsv_frame::malformed);
  EXPECT_EQ(parse_wsv("[1]").type, wsv_frame::malformed);
  EXPECT_EQ(parse_wsv(R"({"type":"from_the_future"})").type, wsv_frame::other);
}

TEST(BenchWire, SocketIoFramesFollowEngineIo4AndSocketIo5) {
  EXPECT_EQ(sio_connect(), "40");
  EXPECT_EQ(sio_connect("P", "O-1"), R"(40{"pid":"P","offset":"O-1"})");
  EXPECT_EQ(sio_event("echo", "1:2:3:"), R"(42["echo","1:2:3:"])");
  EXPECT_EQ(sio_pong(), "3");
  EXPECT_EQ(sio_disconnect(), "41");
}

TEST(BenchWire, SocketIoParserReadsOpenConnectEventsAndRecoveryOffsets) {
  auto open = parse_sio(
      R"(0{"sid":"E1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000})");
  EXPECT_EQ(open.type, sio_frame::open);
  EXPECT_EQ(open.sid, "E1");
  auto c = parse_sio(R"(40{"sid":"S1","pid":"P1"})");
  EXPECT_EQ(c.type, sio_frame::connected);
  EXPECT_EQ(c.sid, "S1");
  EXPECT_EQ(c.pid, "P1");
  EXPECT_EQ(parse_sio("2").type, sio_frame::ping);
  // A broadcast with recovery on carries its offset as a last argument.
  auto b = parse_sio(R"(42["msg","1:2:3:","1234-5"])");
  EXPECT_EQ(b.type, sio_frame::emitted);
  EXPECT_EQ(b.event, "msg");
  EXPECT_EQ(b.payload, "1:2:3:");
  EXPECT_EQ(b.offset, "1234-5");
  auto echo = parse_sio(R"(42["echo","x"])");
  EXPECT_EQ(echo.payload, "x");
  EXPECT_EQ(echo.offset, "");
  EXPECT_EQ(parse_sio(R"(44{"message":"nope"})").type, sio_frame::connect_error);
  EXPECT_EQ(parse_sio("").type, sio_frame::malformed);
  EXPECT_EQ(parse_sio("42not json").type, sio_frame::malformed);
  EXPECT_EQ(parse_sio("6").type, sio_frame::other);
}

TEST(BenchWire, DialectNamesRoundTrip) {
  for (auto d : {dialect::wsvisor, dialect::raw, dialect::socketio})
    EXPECT_EQ(parse_dialect(to_string(d)), d);
  EXPECT_FALSE(parse_dialect("mqtt"));
}

}  // namespace
}  // namespace wsbench
