#include "net/ws_session.hpp"

#include <vector>

#include <gtest/gtest.h>

#include "tests/net/ws_fixture.hpp"
#include "tests/support/ws_client.hpp"

// One WebSocket between a real client and a probe actor: messages both ways,
// every way of ending, the send-queue bound and the close deadlines.

namespace wsvisor::net {
namespace {

using namespace ws_testing;
using namespace std::chrono_literals;

// The same fixture under the suite's own name.
class WsSession : public WsServer {};

TEST_F(WsSession, OversizedMessageClosesWith1009AndTellsTheActor) {
  start({.max_message_bytes = 1024});
  ws_client c;
  ASSERT_TRUE(c.connect(port()).ok);
  ASSERT_EQ(c.send_text(std::string(1024, 'a')), "");  // at the limit: fine
  EXPECT_EQ(c.receive().text, "echo:" + std::string(1024, 'a'));
  c.send_text(std::string(1025, 'b'));
  auto e = c.receive();
  EXPECT_EQ(e.type, kind::closed);
  EXPECT_EQ(e.close_code, 1009);
  ASSERT_TRUE(await_closed(1));
  EXPECT_EQ(closed()[0].code, 1009);
}

TEST_F(WsSession, BinaryMessageReachesTheActorAsWsBinary) {
  start();
  ws_client c;
  ASSERT_TRUE(c.connect(port()).ok);
  ASSERT_EQ(c.send_binary(std::string{"\x01\x02\x03", 3}), "");
  EXPECT_TRUE(rec_->await([](const observed& o) { return o.binaries == 1; }));
  ASSERT_EQ(c.send_text("still open"), "");
  EXPECT_EQ(c.receive().text, "echo:still open");
}

TEST_F(WsSession, ActorCloseReachesTheClientWithItsCode) {
  start();
  ws_client c;
  ASSERT_TRUE(c.connect(port()).ok);
  ASSERT_EQ(c.send_text("close:4408"), "");
  auto e = c.receive();
  EXPECT_EQ(e.type, kind::closed);
  EXPECT_EQ(e.close_code, 4408);
  EXPECT_EQ(e.text, "asked");
  ASSERT_TRUE(await_closed(1));
  EXPECT_EQ(closed()[0].code, 4408);
}

TEST_F(WsSession, ActorExitClosesTheSocketWith1011) {
  start();
  ws_client c;
  ASSERT_TRUE(c.connect(port()).ok);
  ASSERT_EQ(c.send_text("quit"), "");
  auto e = c.receive();
  EXPECT_EQ(e.type, kind::closed);
  EXPECT_EQ(e.close_code, 1011);
  EXPECT_EQ(e.text, "internal error");
  // The actor is gone; its session still ends, returns its slot and is freed.
  auto weak = rec_->read([](const observed& o) { return o.transports.front(); });
  EXPECT_TRUE(eventually([&] { return weak.expired(); }));
  EXPECT_EQ(server_->open_websockets(), 0u);
}

TEST_F(WsSession, AbruptDropReportsWsClosed1006ExactlyOnce) {
  start({}, {.stay = true});
  ws_client c;
  ASSERT_TRUE(c.connect(port()).ok);
  c.drop(/*reset=*/true);
  ASSERT_TRUE(await_closed(1));
  EXPECT_EQ(closed()[0].code, 1006);
  // Once the session object is gone nothing can follow; a round trip with
  // the actor then flushes whatever the session sent before it died.
  auto weak = rec_->read([](const observed& o) { return o.transports.front(); });
  ASSERT_TRUE(eventually([&] { return weak.expired(); }));
  caf::scoped_actor self{system_};
  auto actor = rec_->read([](const observed& o) { return o.actors.front(); });
  self->request(actor, 5s, sync_atom::value).receive([](sync_atom) {}, [](caf::error&) {});
  EXPECT_EQ(closed().size(), 1u);
}

TEST_F(WsSession, SlowReaderIsDroppedWithoutPassingTheQueueBound) {
  constexpr std::uint64_t bound = 256 * 1024;
  start({.send_queue_bytes = bound});
  ws_client c;
  c.set_receive_buffer(16 * 1024);
  ASSERT_TRUE(c.connect(port()).ok);
  // 64 KiB frames, one per millisecond, to a client that never reads: once
  // the kernel buffers are full the queue fills, and the next send drops.
  ASSERT_EQ(c.send_text("flood:100000:65536"), "");
  ASSERT_TRUE(await_closed(1, 30s));
  auto note = closed()[0];
  EXPECT_EQ(note.code, 1006);
  EXPECT_EQ(note.reason, "send queue overflow");
  EXPECT_LE(note.peak_queued, bound);
  EXPECT_GT(note.peak_queued, 0u);
  ASSERT_TRUE(rec_->await([](const observed& o) { return o.flood_end.has_value(); }));
  auto o = rec_->read([](const observed& o) { return o; });
  EXPECT_TRUE(o.flood_end == send_result::dropped);
  EXPECT_TRUE(o.after_drop == send_result::closed);
  // Every frame the queue holds was taken before the drop; usually more, as
  // the writes drained some into the kernel's buffers meanwhile, but a busy
  // machine may not run the writes before the queue is full (then exactly
  // these four: this was the test's flake under load).
  EXPECT_GE(o.flood_queued, static_cast<int>(bound / 65536));
  // The socket is gone: whatever the client still reads, it ends closed.
  // (A busy machine may keep the client's reads apart by more than a
  // second: a quiet read is not the end, only the deadline is.)
  ws_event e;
  auto deadline = steady::now() + 20s;
  do e = c.receive(1s);
  while ((e.type == kind::text || e.type == kind::timeout) && steady::now() < deadline);
  EXPECT_EQ(e.type, kind::closed);
}

TEST_F(WsSession, ReadingClientKeepsUpWithAPacedFlood) {
  // The same pacing as above; the bound leaves room for a few milliseconds
  // of a busy machine, not for a client that stopped reading.
  start({.send_queue_bytes = 1024 * 1024});
  ws_client c;
  ASSERT_TRUE(c.connect(port()).ok);
  ASSERT_EQ(c.send_text("flood:50:65536"), "");
  for (int i = 0; i < 50; ++i) {
    auto e = c.receive();
    ASSERT_EQ(e.type, kind::text) << i << ": " << e.text;
    ASSERT_EQ(e.text.size(), 65536u);
  }
  // The probe records each `queued` after send() returns, which may be after
  // the frame has already reached the client: await the count.
  EXPECT_TRUE(rec_->await([](const observed& o) { return o.flood_queued == 50; }))
      << rec_->read([](const observed& o) { return o.flood_queued; });
}

TEST_F(WsSession, SharedBodyFramesArriveIntact) {
  std::string pattern;
  for (int i = 0; pattern.size() < 200'000; ++i) pattern += std::to_string(i) + ",";
  auto body = std::make_shared<const std::string>(pattern);
  start({}, {.shared_body = body});
  ws_client a, b;
  ASSERT_TRUE(a.connect(port()).ok);
  ASSERT_TRUE(b.connect(port()).ok);
  ASSERT_EQ(a.send_text("shared:3"), "");
  ASSERT_EQ(b.send_text("shared:2"), "");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a.receive().text, "h" + std::to_string(i) + ":" + pattern);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(b.receive().text, "h" + std::to_string(i) + ":" + pattern);
}

TEST_F(WsSession, CloseIsBoundedWhenTheClientNeverAnswers) {
  start({.handshake_timeout = 300ms});
  ws_client c;
  ASSERT_TRUE(c.connect(port()).ok);
  auto asked = steady::now();
  ASSERT_EQ(c.send_text("close:4408"), "");
  // The client reads nothing, so it never answers the close frame.
  ASSERT_TRUE(await_closed(1));
  EXPECT_GE(steady::now() - asked, 250ms);
  EXPECT_EQ(closed()[0].code, 4408);
  EXPECT_EQ(server_->open_websockets(), 0u);
}

TEST_F(WsSession, PeerCloseFollowedBySilenceIsCutAfterTheHandshakeTimeout) {
  start({.handshake_timeout = 300ms});
  raw_ws c;
  ASSERT_TRUE(c.upgrade(port()));
  auto sent = steady::now();
  // A close frame with code 1000; then the client neither reads nor
  // closes: Beast's teardown would wait for its FIN forever.
  c.write(test::ws_close_frame(1000));
  ASSERT_TRUE(await_closed(1));
  EXPECT_GE(steady::now() - sent, 250ms);
  EXPECT_EQ(closed()[0].code, 1000);
}

TEST_F(WsSession, OversizedFrameFollowedBySilenceStillReports1009) {
  start({.max_message_bytes = 1024, .handshake_timeout = 300ms});
  raw_ws c;
  ASSERT_TRUE(c.upgrade(port()));
  // A text frame header announcing 1 MiB, and no payload.
  c.write(test::ws_frame(test::op::text, "", {.length = 1u << 20}));
  ASSERT_TRUE(await_closed(1));
  EXPECT_EQ(closed()[0].code, 1009);
}

std::shared_ptr<const std::string> patterned_body(std::size_t size) {
  std::string b(size, 'b');
  for (std::size_t i = 0; i < b.size(); i += 7) b[i] = static_cast<char>('0' + i % 10);
  return std::make_shared<const std::string>(std::move(b));
}

// Frames are written in batches of our own framing (net/frame_stream.hpp)
// while Beast answers the client's pings on the same socket: every frame must
// arrive whole, in order, and every pong with its ping's payload.
// `frames` frames of `body_size` bytes stay within the default send queue
// (1 MiB): the probe sends them without flow control.
void expect_frames_and_pongs_intact(std::uint16_t port, std::size_t body_size, int frames) {
  raw_ws c;
  ASSERT_TRUE(c.upgrade(port));
  constexpr int pings = 20;
  ASSERT_TRUE(c.write(test::ws_frame(test::op::text, "shared:" + std::to_string(frames))));
  for (int i = 0; i < pings; ++i)
    ASSERT_TRUE(c.write(test::ws_frame(test::op::ping, "ping-" + std::to_string(i))));
  auto body = *patterned_body(body_size);
  int texts = 0, pongs = 0;
  while (texts < frames || pongs < pings) {
    auto f = c.read_frame();
    ASSERT_TRUE(f) << "after " << texts << " frames and " << pongs << " pongs";
    ASSERT_TRUE(f->fin);
    if (f->opcode == test::op::pong) {
      EXPECT_EQ(f->payload, "ping-" + std::to_string(pongs));
      ++pongs;
      continue;
    }
    ASSERT_EQ(f->opcode, test::op::text);
    ASSERT_EQ(f->payload, "h" + std::to_string(texts) + ":" + body) << "frame " << texts;
    ++texts;
  }
  c.write(test::ws_close_frame(1000));
  EXPECT_EQ(c.await_close(), 1000);
}

// A read takes the head of a message into a small buffer of the session and
// the rest, if any, in a second step (ws_session::read): messages of every
// size around that buffer's, fragmented ones with a ping between their
// frames, empty ones, several in one write and one written a few bytes at a
// time all reach the actor whole and in order.
TEST_F(WsSession, MessagesOfEverySizeAndShapeReachTheActorWhole) {
  start();
  raw_ws c;
  ASSERT_TRUE(c.upgrade(port()));
  std::vector<std::string> sent;
  auto expect_echoes = [&] {
    for (const auto& m : sent) {
      auto f = c.read_frame();
      ASSERT_TRUE(f) << "no echo of a message of " << m.size() << " bytes";
      ASSERT_EQ(f->opcode, test::op::text);
      ASSERT_EQ(f->payload, "echo:" + m) << "a message of " << m.size() << " bytes";
    }
    sent.clear();
  };
  for (std::size_t size : {0, 1, 255, 256, 257, 1000, 5000, 65000}) {
    sent.push_back(*patterned_body(size));
    ASSERT_TRUE(c.write(test::ws_frame(test::op::text, sent.back())));
  }
  expect_echoes();

  // Fragmented: 300 + 0 + 200 bytes, a ping between two fragments.
  auto whole = *patterned_body(500);
  sent.push_back(whole);
  ASSERT_TRUE(c.write(test::ws_frame(test::op::text, whole.substr(0, 300), {.fin = false}) +
                      test::ws_frame(test::op::continuation, "", {.fin = false}) +
                      test::ws_frame(test::op::ping, "between")));
  auto pong = c.read_frame();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->opcode, test::op::pong);
  ASSERT_TRUE(c.write(test::ws_frame(test::op::continuation, whole.substr(300))));
  expect_echoes();

  // Three messages in one write, then one in pieces of 7 bytes.
  std::string burst;
  for (std::size_t size : {300, 3, 600}) {
    sent.push_back(*patterned_body(size));
    burst += test::ws_frame(test::op::text, sent.back());
  }
  sent.push_back(*patterned_body(700));
  auto pieces = test::ws_frame(test::op::text, sent.back());
  ASSERT_TRUE(c.write(burst));
  for (std::size_t i = 0; i < pieces.size(); i += 7) ASSERT_TRUE(c.write(pieces.substr(i, 7)));
  expect_echoes();
  EXPECT_EQ(rec_->read([](const observed& o) { return o.binaries; }), 0);
}

TEST_F(WsSession, SmallFramesOfABatchAndPongsArriveWholeAndInOrder) {
  // Bodies this small are copied into the batch's one buffer.
  start({}, {.shared_body = patterned_body(100)});
  expect_frames_and_pongs_intact(port(), 100, 300);
}

TEST_F(WsSession, LargeSharedBodiesOfABatchAndPongsArriveWholeAndInOrder) {
  // Bodies this large are written from where they are, between copied heads.
  start({}, {.shared_body = patterned_body(5000)});
  expect_frames_and_pongs_intact(port(), 5000, 150);
}

TEST_F(WsSession, BodiesPastTheTwoByteLengthAndPongsArriveWholeAndInOrder) {
  // 70,000 bytes take the 8-byte length form.
  start({}, {.shared_body = patterned_body(70000)});
  expect_frames_and_pongs_intact(port(), 70000, 12);
}

TEST_F(WsSession, NoFrameFollowsTheEchoOfTheClientsClose) {
  // This client never closes TCP: the server's close deadline ends it.
  start({.handshake_timeout = 500ms}, {.shared_body = patterned_body(3000)});
  raw_ws c;
  ASSERT_TRUE(c.upgrade(port()));
  // A burst is being written when the close arrives: Beast's echo must wait
  // for the batch on the wire, and no batch may follow the echo.
  ASSERT_TRUE(c.write(test::ws_frame(test::op::text, "shared:300")));  // 900 kB: in the queue bound
  ASSERT_TRUE(c.write(test::ws_close_frame(1000, "bye")));
  int texts = 0;
  for (;;) {
    auto f = c.read_frame();
    ASSERT_TRUE(f) << "no close frame after " << texts << " frames";
    if (f->opcode == test::op::close) {
      EXPECT_EQ(f->close_code(), 1000);
      break;
    }
    ASSERT_EQ(f->opcode, test::op::text);
    ASSERT_EQ(f->payload.substr(0, f->payload.find(':')), "h" + std::to_string(texts));
    ++texts;
  }
  auto after = c.read_frame(3s);
  EXPECT_FALSE(after) << "a frame (opcode " << int{after->opcode} << ") after the close frame";
  EXPECT_TRUE(c.ended());
}

TEST(TextFrameHeader, UsesTheShortestLengthFormForEachSize) {
  auto bytes = [](std::uint64_t n) {
    auto h = data_frame_header::of(n);
    return std::vector<int>(h.bytes.begin(), h.bytes.begin() + h.size);
  };
  EXPECT_EQ(bytes(0), (std::vector<int>{0x81, 0}));
  EXPECT_EQ(bytes(125), (std::vector<int>{0x81, 125}));
  EXPECT_EQ(bytes(126), (std::vector<int>{0x81, 126, 0, 126}));
  EXPECT_EQ(bytes(65535), (std::vector<int>{0x81, 126, 0xFF, 0xFF}));
  EXPECT_EQ(bytes(65536), (std::vector<int>{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(bytes(0x0102030405060708ULL), (std::vector<int>{0x81, 127, 1, 2, 3, 4, 5, 6, 7, 8}));
}

}  // namespace
}  // namespace wsvisor::net

namespace wsvisor::net {
namespace {

using namespace ws_testing;
using namespace std::chrono_literals;

class WsSessionTimer : public WsServer {
 protected:
  /// Connects `c` and returns the server side of its WebSocket.
  transport_ptr connect(ws_client& c) {
    start({}, {.stay = true});
    EXPECT_TRUE(c.connect(port()).ok);
    EXPECT_TRUE(eventually(
        [&] { return rec_->read([](const observed& o) { return o.transports.size(); }) == 1; }));
    return rec_->read([](const observed& o) { return o.transports.front(); }).lock();
  }
};

TEST_F(WsSessionTimer, FiresOnceAfterItsDelayAndALaterCallReplacesIt) {
  ws_client c;
  auto t = connect(c);
  ASSERT_TRUE(t);
  std::atomic<int> replaced{0}, fired{0};
  t->set_timer(1h, [&] { ++replaced; });
  t->set_timer(20ms, [&] { ++fired; });
  ASSERT_TRUE(eventually([&] { return fired.load() == 1; }));
  EXPECT_EQ(replaced.load(), 0);
  t->set_timer(0ms, [&] { ++fired; });  // re-armable after firing
  ASSERT_TRUE(eventually([&] { return fired.load() == 2; }));
}

TEST_F(WsSessionTimer, ItsCallbackIsReleasedWhenTheSocketEnds) {
  // The callback holds the connection actor; a socket that is gone must not
  // keep it (and its memory) until the timer would have fired.
  ws_client c;
  auto t = connect(c);
  ASSERT_TRUE(t);
  auto held = std::make_shared<int>(0);
  std::weak_ptr<int> watch = held;
  bool called = false;
  t->set_timer(1h, [held = std::move(held), &called] { called = true; });
  c.drop(/*reset=*/true);
  ASSERT_TRUE(await_closed(1));
  EXPECT_TRUE(eventually([&] { return watch.expired(); }));
  EXPECT_FALSE(called);
  t->set_timer(0ms, [&called] { called = true; });  // after the end: never called
  t.reset();
}

}  // namespace
}  // namespace wsvisor::net
