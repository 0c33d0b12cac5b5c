#include "actors/session/session.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <caf/after.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "actors/messages.hpp"
#include "actors/session/broker.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "metrics/node_metrics.hpp"
#include "tests/actors/session/session_fixture.hpp"
#include "tests/support/eventually.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

class Session : public SessionFixture {};

TEST_F(Session, HelloIsAnsweredByAWelcomeWithEveryField) {
  start_registry();
  auto& c = connect();
  c.send(R"({"type":"hello","auth":"ignored for now"})");
  auto w = c.expect("welcome");
  EXPECT_EQ(str(w, "session").size(), 32u) << json::serialize(w);
  EXPECT_EQ(str(w, "token").size(), 43u);
  EXPECT_EQ(w.at("resumed"), false);
  EXPECT_FALSE(w.contains("reason"));
  EXPECT_EQ(num(w, "last_cseq"), 0);
  EXPECT_EQ(num(w, "heartbeat_ms"), session_.heartbeat_interval.count());
  EXPECT_EQ(num(w, "resume_window_ms"), session_.resume_window.count());
  auto other = hello(connect());
  EXPECT_NE(other.session, str(w, "session"));
  EXPECT_NE(other.token, str(w, "token"));
  EXPECT_EQ(live_sessions(), 2u);
}

TEST_F(Session, PublishesReachSubscribersWithConsecutiveSeq) {
  start_registry();
  auto [reader, writer, welcome] = reader_and_writer();
  for (int i = 1; i <= 3; ++i) publish(writer, "news", 100 + i, i);
  for (int i = 1; i <= 3; ++i) expect_message(reader, i, 100 + i);
  // Another channel's traffic takes the next seq of the same session.
  subscribe(reader, "sport");
  publish(writer, "sport", 7, 4);
  expect_message(reader, 4, 7, "sport");
}

TEST_F(Session, ResumeReplaysExactlyTheMissedMessagesInOrderThenLive) {
  start_registry();
  auto [first, writer, w] = reader_and_writer();
  publish(writer, "news", 1, 1);
  publish(writer, "news", 2, 2);
  expect_message(first, 1, 1);
  expect_message(first, 2, 2);
  first.drop();
  ASSERT_TRUE(await_down(sys_, first.actor()));
  for (int i = 3; i <= 5; ++i) publish(writer, "news", i, i);
  auto& second = connect();
  // The client holds 1 only (2 was lost in flight): 2..5 come back.
  auto r = resume(second, w, 1);
  EXPECT_TRUE(r.resumed);
  EXPECT_EQ(r.session, w.session);
  EXPECT_EQ(r.token, w.token);
  EXPECT_TRUE(r.reason.empty());
  EXPECT_EQ(r.last_cseq, 0);
  EXPECT_EQ(r.replay, 4);  // the welcome says how many follow
  for (int i = 2; i <= 5; ++i) expect_message(second, i, i);
  publish(writer, "news", 6, 6);
  expect_message(second, 6, 6);  // the subscription survived the resume
}

TEST_F(Session, FiveDropsInARowLoseNothingAndReplayNothingAcknowledged) {
  start_registry();
  auto& writer = connect();
  hello(writer);
  auto* client = &connect();
  auto w = hello(*client);
  subscribe(*client, "news");
  std::uint64_t cseq = 0;
  std::int64_t held = 0;  // highest seq the client holds
  for (int round = 0; round < 5; ++round) {
    // Live traffic, all received; the first half acknowledged.
    for (int i = 0; i < 4; ++i) {
      ++cseq;
      publish(writer, "news", static_cast<std::int64_t>(cseq), cseq);
    }
    for (int i = 0; i < 4; ++i) expect_message(*client, held + 1 + i, held + 1 + i);
    client->send(json::object{{"type", "ack"}, {"seq", held + 2}});
    held += 4;
    client->drop();
    ASSERT_TRUE(await_down(sys_, client->actor()));
    // Traffic while detached.
    for (int i = 0; i < 3; ++i) {
      ++cseq;
      publish(writer, "news", static_cast<std::int64_t>(cseq), cseq);
    }
    client = &connect();
    auto r = resume(*client, w, static_cast<std::uint64_t>(held));
    ASSERT_TRUE(r.resumed) << "round " << round << ": " << r.reason;
    EXPECT_EQ(r.replay, 3) << "round " << round;  // the acknowledged half is not replayed
    for (int i = 1; i <= 3; ++i) expect_message(*client, held + i, held + i);
    held += 3;
  }
  // A sixth connection resuming from 0 gets only what was never acknowledged
  // (resumes acknowledge implicitly up to their last_seq): nothing.
  client->drop();
  ASSERT_TRUE(await_down(sys_, client->actor()));
  ++cseq;
  publish(writer, "news", 999, cseq);
  client = &connect();
  auto r = resume(*client, w, static_cast<std::uint64_t>(held));
  ASSERT_TRUE(r.resumed);
  expect_message(*client, held + 1, 999);
}

TEST_F(Session, AWrongTokenGetsUnknownAndLeavesTheSessionAlone) {
  start_registry();
  auto [first, writer, w] = reader_and_writer();
  first.drop();
  ASSERT_TRUE(await_down(sys_, first.actor()));
  publish(writer, "news", 1, 1);
  auto forged = w;
  forged.token.back() = forged.token.back() == 'A' ? 'B' : 'A';
  auto& thief = connect();
  auto refused = resume(thief, forged, 0);
  EXPECT_FALSE(refused.resumed);
  EXPECT_EQ(refused.reason, "unknown");
  EXPECT_NE(refused.session, w.session);
  EXPECT_EQ(refused.last_cseq, 0);
  // Same answer as for an id that never existed.
  auto nobody = w;
  nobody.session = "0123456789abcdef0123456789abcdef";
  EXPECT_EQ(resume(connect(), nobody, 0).reason, "unknown");
  auto& owner = connect();
  auto r = resume(owner, w, 0);
  EXPECT_TRUE(r.resumed);
  expect_message(owner, 1, 1);
}

TEST_F(Session, LastSeqAboveTheSessionsSeqIsUnknown) {
  start_registry();
  auto& first = connect();
  auto w = hello(first);
  first.drop();
  auto r = resume(connect(), w, 5);
  EXPECT_FALSE(r.resumed);
  EXPECT_EQ(r.reason, "unknown");
}

TEST_F(Session, ResumeWhileAttachedMovesTheSessionAndClosesTheOldWith4409) {
  start_registry();
  auto& old_conn = connect();
  auto& writer = connect();
  auto w = hello(old_conn);
  hello(writer);
  subscribe(old_conn, "news");
  publish(writer, "news", 1, 1);
  expect_message(old_conn, 1, 1);
  auto& new_conn = connect();
  auto r = resume(new_conn, w, 1);
  EXPECT_TRUE(r.resumed);
  auto closed = old_conn.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 4409);
  ASSERT_TRUE(await_down(sys_, old_conn.actor()));
  // Whatever the old connection does or suffers afterwards reaches nothing.
  old_conn.drop();
  old_conn.send(R"({"type":"bye"})");
  publish(writer, "news", 2, 2);
  expect_message(new_conn, 2, 2);
  subscribe(new_conn, "more");
  EXPECT_FALSE(new_conn.transport().await_close(0ms));
}

TEST_F(Session, ASessionExpiresWhenItsResumeWindowRunsOut) {
  session_.resume_window = 100ms;
  start_registry();
  auto& first = connect();
  auto w = hello(first);
  first.drop();
  ASSERT_TRUE(eventually([&] { return live_sessions() == 0; }));
  auto forged = w;
  forged.token.front() = forged.token.front() == 'A' ? 'B' : 'A';
  EXPECT_EQ(resume(connect(), forged, 0).reason, "unknown");
  auto r = resume(connect(), w, 0);
  EXPECT_FALSE(r.resumed);
  EXPECT_EQ(r.reason, "expired");
  EXPECT_NE(r.session, w.session);
}

TEST_F(Session, AnExpiryTimerArmedBeforeAResumeIsIgnored) {
  session_.resume_window = 150ms;
  start_registry();
  auto& a = connect();
  auto& b = connect();
  auto wa = hello(a);
  auto wb = hello(b);
  auto forged = [](welcome_info w) {
    w.token.back() = w.token.back() == 'A' ? 'B' : 'A';
    return w;
  };
  // A detaches first, then B (a refused resume is a round trip through the
  // session, so each has handled its connection's end before the next step).
  a.drop();
  ASSERT_TRUE(await_down(sys_, a.actor()));
  EXPECT_EQ(resume(connect(), forged(wa), 0).reason, "unknown");
  b.drop();
  ASSERT_TRUE(await_down(sys_, b.actor()));
  EXPECT_EQ(resume(connect(), forged(wb), 0).reason, "unknown");
  auto& again = connect();
  ASSERT_TRUE(resume(again, wa, 0).resumed);
  // B's timer, armed after A's, ends B: A's has fired by then and was stale.
  ASSERT_TRUE(eventually([&] { return live_sessions() == 3; }));  // A and the two refused
  subscribe(again, "still.here");
  EXPECT_EQ(live_sessions(), 3u);
  EXPECT_FALSE(again.transport().await_close(std::chrono::milliseconds{0}));
}

TEST_F(Session, OverflowByCountGetsOverflow) {
  session_.replay_buffer = 3;
  start_registry();
  auto [first, writer, w] = reader_and_writer();
  auto& probe = connect();
  hello(probe);
  subscribe(probe, "news");
  first.drop();
  ASSERT_TRUE(await_down(sys_, first.actor()));
  for (int i = 1; i <= 5; ++i) publish(writer, "news", i, i);
  // The broker hands a publish to all its subscribers in one go: once the
  // probe has all five, the detached session has them queued too (the resume
  // below takes several hops more to reach it).
  for (int i = 1; i <= 5; ++i) expect_message(probe, i, i);
  auto r = resume(connect(), w, 1);  // lacks 2..5; 2 was evicted
  EXPECT_FALSE(r.resumed);
  EXPECT_EQ(r.reason, "overflow");
  EXPECT_NE(r.session, w.session);
  // The buffer still holds 3..5: a client holding 2 can resume.
  auto& ok = connect();
  ASSERT_TRUE(resume(ok, w, 2).resumed);
  for (int i = 3; i <= 5; ++i) expect_message(ok, i, i);
}

TEST_F(Session, OverflowByBytesGetsOverflow) {
  session_.replay_buffer_bytes = 100;
  start_registry();
  auto [first, writer, w] = reader_and_writer();
  auto& probe = connect();
  hello(probe);
  subscribe(probe, "news");
  first.drop();
  ASSERT_TRUE(await_down(sys_, first.actor()));
  // Each body is `"channel":"news","data":"xxx…"}`, over 40 bytes: three do not fit in 100.
  std::string payload(30, 'x');
  for (int i = 1; i <= 3; ++i) {
    writer.send(
        json::object{{"type", "publish"}, {"channel", "news"}, {"data", payload}, {"cseq", i}});
    writer.expect("ack");
  }
  for (int i = 1; i <= 3; ++i) probe.expect("message");
  auto r = resume(connect(), w, 0);
  EXPECT_FALSE(r.resumed);
  EXPECT_EQ(r.reason, "overflow");
}

// Publishes lost between nodes (docs/cluster.md, "A lost link"): the broker
// tells each subscriber of the channel. No resume from before the gap is
// complete, so none is taken as such: the attached client is closed with
// 4412 and its resume gets `overflow` (a parked one: parking_test.cpp).
TEST_F(Session, AGapBetweenNodesClosesTheClientWith4412AndItsResumeGetsOverflow) {
  auto metrics = std::make_shared<node_metrics>();
  registry_opts_.metrics = metrics;
  start_registry();
  auto [reader, writer, w] = reader_and_writer();
  publish(writer, "news", 1, 1);
  expect_message(reader, 1, 1);
  send_channel_gap("news");
  auto closed = reader.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 4412);
  auto r = resume(connect(), w, 1);  // it holds everything before the gap
  EXPECT_FALSE(r.resumed);
  EXPECT_EQ(r.reason, "overflow");
  EXPECT_EQ(metrics->cluster_gaps.value(),
            1u);  // the reader's session; the writer holds no channel
}

TEST_F(Session, AGapOnAnotherChannelLeavesTheSessionAlone) {
  start_registry();
  auto [reader, writer, w] = reader_and_writer();
  send_channel_gap("sport");
  publish(writer, "news", 1, 1);
  expect_message(reader, 1, 1);  // seq 1: no seq was spent
  EXPECT_FALSE(reader.transport().await_close(50ms));
}

TEST_F(Session, ByeClosesWith1000AndEndsTheSessionForGood) {
  start_registry();
  auto& c = connect();
  auto w = hello(c);
  subscribe(c, "news");
  EXPECT_EQ(subscribers("news"), 1u);
  c.send(R"({"type":"bye"})");
  auto closed = c.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1000);
  ASSERT_TRUE(await_down(sys_, c.actor()));
  ASSERT_TRUE(eventually([&] { return live_sessions() == 0; }));
  EXPECT_EQ(subscribers("news"), 0u);
  auto r = resume(connect(), w, 0);
  EXPECT_FALSE(r.resumed);
  EXPECT_EQ(r.reason, "unknown");
}

}  // namespace
}  // namespace wsvisor::test
