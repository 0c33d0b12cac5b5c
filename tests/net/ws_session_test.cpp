#include "net/ws_session.hpp"

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
  // More frames than the queue holds went out: the kernel buffers filled first.
  EXPECT_GT(o.flood_queued, static_cast<int>(bound / 65536));
  // The socket is gone: whatever the client still reads, it ends closed.
  ws_event e;
  auto deadline = steady::now() + 10s;
  do e = c.receive(1s);
  while (e.type == kind::text && steady::now() < deadline);
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
    EXPECT_TRUE(eventually([&] { return rec_->read([](const observed& o) { return o.transports.size(); }) == 1; }));
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
