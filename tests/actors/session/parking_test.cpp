// Detached sessions as records the registry keeps (actors/session/registry_state.hpp,
// actors/session/parked_session.hpp), through the real registry, broker, sessions
// and connection actors.

#include <gtest/gtest.h>

#include <spdlog/sinks/base_sink.h>
#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <caf/actor_registry.hpp>
#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "actors/session/registry.hpp"
#include "log/log.hpp"
#include "metrics/node_metrics.hpp"
#include "protocol/codec.hpp"
#include "tests/actors/session/session_fixture.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

/// Counts the session logger's lines that start with a given message.
class counting_sink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit counting_sink(std::string message) : message_(std::move(message)) {}
  std::uint64_t count() const { return count_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string_view payload{msg.payload.data(), msg.payload.size()};
    if (payload.substr(0, message_.size()) == message_) ++count_;
  }
  void flush_() override {}

 private:
  std::string message_;
  std::atomic<std::uint64_t> count_{0};
};

class Parking : public SessionFixture {
 protected:
  ~Parking() override {
    if (level_) log::get("session")->set_level(*level_);
  }

  /// Counts the session logger's lines that start with `message`, debug
  /// lines included. Call before start_registry: the sink is added before
  /// any actor logs and left in place (the logger outlives the test's
  /// actors); only the level goes back.
  std::shared_ptr<counting_sink> count_session_lines(std::string message) {
    auto logger = log::get("session");
    if (!level_) level_ = logger->level();
    auto sink = std::make_shared<counting_sink>(std::move(message));
    logger->sinks().push_back(sink);
    logger->set_level(spdlog::level::debug);
    return sink;
  }

  /// Sessions the registry holds as records now.
  std::uint64_t parked() {
    std::uint64_t out = 0;
    caf::scoped_actor self{sys_};
    self->request(registry_, await_timeout, parked_count_atom::value)
        .receive([&](std::uint64_t n) { out = n; },
                 [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
    return out;
  }

  /// Actors running in the system (scoped actors are hidden: not counted).
  std::size_t running() { return sys_.registry().running(); }

  /// Drops `c` and waits until its session is a record.
  void drop_and_park(test_client& c, std::uint64_t parked_after) {
    c.drop();
    ASSERT_TRUE(await_down(sys_, c.actor()));
    ASSERT_TRUE(eventually([&] { return parked() == parked_after; }));
  }

 private:
  std::optional<spdlog::level::level_enum> level_;
};

TEST_F(Parking, ADetachedSessionBecomesARecordAndNoLongerAnActor) {
  start_registry();
  auto [reader, writer, w] = reader_and_writer();
  auto before = running();
  EXPECT_EQ(parked(), 0u);
  reader.drop();
  // Its connection and its session end; the registry keeps the session.
  ASSERT_TRUE(eventually([&] { return running() == before - 2; }));
  EXPECT_EQ(parked(), 1u);
  EXPECT_EQ(live_sessions(), 2u);
  // It still counts as a subscriber: publishes reach it.
  EXPECT_EQ(subscribers("news"), 1u);
  publish(writer, "news", 1, 1);
  auto& back = connect();
  auto r = resume(back, w, 0);
  ASSERT_TRUE(r.resumed);
  EXPECT_EQ(r.replay, 1);
  expect_message(back, 1, 1);
  EXPECT_EQ(parked(), 0u);
}

TEST_F(Parking, AParkedSessionResumesWithExactReplayAndItsPublishesStayExactlyOnce) {
  start_registry();
  auto [reader, writer, w] = reader_and_writer();
  auto& watcher = connect();
  hello(watcher);
  subscribe(watcher, "mine");
  // The reader publishes too: its last_cseq must survive the record.
  publish(reader, "mine", 10, 1);
  publish(reader, "mine", 11, 2);
  expect_message(watcher, 1, 10, "mine");
  expect_message(watcher, 2, 11, "mine");
  publish(writer, "news", 1, 1);
  publish(writer, "news", 2, 2);
  expect_message(reader, 1, 1);
  expect_message(reader, 2, 2);
  reader.send(R"({"type":"ack","seq":1})");
  drop_and_park(reader, 1);
  for (int i = 3; i <= 6; ++i) publish(writer, "news", i, static_cast<std::uint64_t>(i));
  auto& back = connect();
  auto r = resume(back, w, 1);  // it holds 1; 2 was lost with the connection
  ASSERT_TRUE(r.resumed);
  EXPECT_EQ(r.session, w.session);
  EXPECT_EQ(r.last_cseq, 2);
  EXPECT_EQ(r.replay, 5);
  for (int i = 2; i <= 6; ++i) expect_message(back, i, i);
  // A resend of cseq 2 is acknowledged, not published again; 3 is new.
  back.send(json::object{{"type", "publish"}, {"channel", "mine"}, {"data", 12}, {"cseq", 2}});
  EXPECT_EQ(num(back.expect("ack"), "cseq"), 2);
  publish(back, "mine", 13, 3);
  expect_message(watcher, 3, 13, "mine");
  // Live traffic follows, and the subscription is still there.
  publish(writer, "news", 7, 7);
  expect_message(back, 7, 7);
}

// A gap between nodes (channel_gap_atom) reaches a parked session through
// the registry, subscribed in its place: the record spends a seq on it, so
// its resume gets `overflow` rather than a replay that misses it.
TEST_F(Parking, AGapBetweenNodesIsKeptInTheRecordAndItsResumeGetsOverflow) {
  auto metrics = std::make_shared<node_metrics>();
  registry_opts_.metrics = metrics;
  start_registry();
  auto [reader, writer, w] = reader_and_writer();
  publish(writer, "news", 1, 1);
  expect_message(reader, 1, 1);
  drop_and_park(reader, 1);
  send_channel_gap("news");
  publish(writer, "news", 2, 2);
  auto r = resume(connect(), w, 1);
  EXPECT_FALSE(r.resumed);
  EXPECT_EQ(r.reason, "overflow");
  EXPECT_EQ(metrics->cluster_gaps.value(), 1u);  // counted once, by the record
}

TEST_F(Parking, RefusalsAreAnsweredFromTheRecordWithoutAnActor) {
  session_.replay_buffer = 2;
  start_registry();
  auto [reader, writer, w] = reader_and_writer();
  drop_and_park(reader, 1);
  for (int i = 1; i <= 3; ++i) publish(writer, "news", i, static_cast<std::uint64_t>(i));
  auto before = running();
  auto forged = w;
  forged.token.back() = forged.token.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(resume(connect(), forged, 0).reason, "unknown");
  EXPECT_EQ(resume(connect(), w, 4).reason, "unknown");   // last_seq above its seq
  EXPECT_EQ(resume(connect(), w, 0).reason, "overflow");  // 1 was evicted
  // Each refused client got a new session (and a connection): 2 actors
  // each, none for the record, which is still parked.
  EXPECT_EQ(running(), before + 6);
  EXPECT_EQ(parked(), 1u);
  auto& ok = connect();
  ASSERT_TRUE(resume(ok, w, 1).resumed);
  expect_message(ok, 2, 2);
  expect_message(ok, 3, 3);
}

// The broker orders every move: publishes made while the reader's session
// parks, is resumed (from a record, from an actor still parking or not yet
// parked) and parks again must reach it once each, in order, with seq
// following seq.
TEST_F(Parking, PublishesRacingParkingAndResumesAreNeitherLostNorDuplicated) {
  start_registry();
  auto [reader, writer, w] = reader_and_writer();
  constexpr std::int64_t total = 400;
  constexpr std::int64_t ahead = 16;  // publishes the writer may be ahead of the reader
  std::atomic<std::int64_t> held{0};  // the reader holds every message up to here
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::condition_variable progressed;
  // The writer keeps a few publishes in flight, just ahead of the reader, so
  // that they meet the reader's session in every state of its moves.
  std::thread publisher{[&] {
    for (std::int64_t i = 1; i <= total; ++i) {
      {
        std::unique_lock lock{mutex};
        progressed.wait(lock, [&] { return stop || i - held <= ahead; });
      }
      if (stop) return;
      writer.send(json::object{{"type", "publish"}, {"channel", "news"}, {"data", i}, {"cseq", i}});
    }
    for (std::int64_t i = 1; i <= total && !stop; ++i) writer.expect("ack");
  }};
  test_client* client = &reader;
  int cycles = 0;
  auto take = [&](test_client& c, int n) {
    for (int k = 0; k < n && held < total; ++k) {
      auto m = c.expect("message");
      ASSERT_EQ(num(m, "seq"), held + 1) << json::serialize(m) << " in cycle " << cycles;
      ASSERT_EQ(num(m, "data"), held + 1) << json::serialize(m) << " in cycle " << cycles;
      {
        std::lock_guard lock{mutex};
        ++held;
      }
      progressed.notify_all();
    }
  };
  while (held < total) {
    // Read a little (0 to 3 messages), then the connection drops and the
    // client resumes at once: the resume meets the session attached,
    // detached, parking, parked or being unparked.
    take(*client, cycles % 4);
    if (::testing::Test::HasFatalFailure()) break;
    client->drop();
    client = &connect();
    auto r = resume(*client, w, static_cast<std::uint64_t>(held));
    if (!r.resumed) {
      ADD_FAILURE() << "cycle " << cycles << ": resume refused: " << r.reason;
      break;
    }
    ++cycles;
  }
  {
    std::lock_guard lock{mutex};
    stop = ::testing::Test::HasFailure();
  }
  progressed.notify_all();
  publisher.join();
  ASSERT_FALSE(::testing::Test::HasFailure());
  // Nothing more than the `total`: the next publish is the next seq.
  publish(writer, "news", total + 1, total + 1);
  expect_message(*client, total + 1, total + 1);
  EXPECT_GT(cycles, 100);
}

// A resume of a record is sent to the unparked actor right after its record:
// the actor must not park again before it (it once did when its own "park
// again" message overtook the resume, which then waited for a second round).
TEST_F(Parking, AResumeOfARecordUnparksItOnce) {
  auto unparked = count_session_lines("session unparked");
  start_registry();
  auto& first = connect();
  auto w = hello(first);
  test_client* c = &first;
  constexpr std::uint64_t rounds = 50;
  for (std::uint64_t i = 1; i <= rounds; ++i) {
    drop_and_park(*c, 1);
    c = &connect();
    ASSERT_TRUE(resume(*c, w, 0).resumed);
    ASSERT_EQ(unparked->count(), i);
  }
}

TEST_F(Parking, AParkedRecordExpiresAndALaterResumeIsAnsweredExpired) {
  session_.resume_window = 1'500ms;
  start_registry();
  auto& c = connect();
  auto w = hello(c);
  drop_and_park(c, 1);
  ASSERT_TRUE(eventually([&] { return live_sessions() == 0; }));
  EXPECT_EQ(parked(), 0u);
  auto r = resume(connect(), w, 0);
  EXPECT_FALSE(r.resumed);
  EXPECT_EQ(r.reason, "expired");
}

TEST_F(Parking, ARecordKeepsTheResumeWindowOfItsSessionAcrossAReload) {
  session_.resume_window = 60'000ms;
  start_registry();
  auto& a = connect();
  auto wa = hello(a);
  drop_and_park(a, 1);
  // A reload shortens the window for sessions made from now on.
  auto shorter = session_;
  shorter.resume_window = 1'000ms;
  caf::scoped_actor self{sys_};
  self->request(registry_, await_timeout, registry_settings_atom::value,
                registry_settings{.session = shorter})
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  auto& b = connect();
  auto wb = hello(b);
  drop_and_park(b, 2);
  // b, parked after a but due first, expires first; a stays.
  ASSERT_TRUE(eventually([&] { return live_sessions() == 1; }));
  EXPECT_EQ(parked(), 1u);
  EXPECT_EQ(resume(connect(), wb, 0).reason, "expired");
  auto& back = connect();
  auto r = resume(back, wa, 0);
  EXPECT_TRUE(r.resumed);
}

TEST_F(Parking, TheDetachedGaugeCountsParkedSessionsExactly) {
  auto metrics = std::make_shared<node_metrics>();
  registry_opts_.metrics = metrics;
  session_.resume_window = 60'000ms;
  start_registry();
  auto& a = connect();
  auto& b = connect();
  auto wa = hello(a);
  hello(b);
  EXPECT_EQ(metrics->sessions_attached.value(), 2);
  EXPECT_EQ(metrics->sessions_detached.value(), 0);
  drop_and_park(a, 1);
  EXPECT_EQ(metrics->sessions_attached.value(), 1);
  EXPECT_EQ(metrics->sessions_detached.value(), 1);
  auto& back = connect();
  ASSERT_TRUE(resume(back, wa, 0).resumed);
  EXPECT_EQ(metrics->sessions_attached.value(), 2);
  EXPECT_EQ(metrics->sessions_detached.value(), 0);
  drop_and_park(back, 1);
  drop_and_park(b, 2);
  EXPECT_EQ(metrics->sessions_attached.value(), 0);
  EXPECT_EQ(metrics->sessions_detached.value(), 2);
  // Ended by an operator from its record: the gauge follows.
  caf::scoped_actor self{sys_};
  self->request(registry_, await_timeout, admin_end_atom::value, wa.session)
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  EXPECT_EQ(metrics->sessions_detached.value(), 1);
  EXPECT_EQ(live_sessions(), 1u);
}

// A peer's registry looks the session up (cluster_lookup_atom) and attaches a
// connection of its own node (remote_attach_atom): the record is moved into an
// actor for it; one that nobody attaches parks again.
TEST_F(Parking, ALookupFromAnotherNodeUnparksTheSessionForItsAttach) {
  registry_opts_.peer_timeout = 1'000ms;  // an unparked session waits twice that for its attach
  start_registry();
  auto [reader, writer, w] = reader_and_writer();
  drop_and_park(reader, 1);
  publish(writer, "news", 1, 1);
  caf::scoped_actor peer{sys_};
  auto lookup = [&](const std::string& token) {
    caf::expected<caf::actor> out = caf::actor{};
    peer->request(registry_, await_timeout, cluster_lookup_atom::value, w.session, token)
        .receive([&](caf::actor& s) { out = std::move(s); },
                 [&](caf::error& err) { out = std::move(err); });
    return out;
  };
  auto wrong = lookup(w.token.substr(1) + "x");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), errc::resume_unknown);
  EXPECT_EQ(parked(), 1u);
  // Unparked for a lookup that nobody follows: it parks again.
  ASSERT_TRUE(lookup(w.token));
  EXPECT_EQ(parked(), 0u);
  ASSERT_TRUE(eventually([&] { return parked() == 1; }));
  auto session = lookup(w.token);
  ASSERT_TRUE(session);
  bool attached = false;
  peer->request(*session, await_timeout, remote_attach_atom::value, caf::actor{peer},
                std::string{"10.0.0.1:4242"}, w.token, std::uint64_t{0})
      .receive([&](caf::ok_atom) { attached = true; },
               [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  ASSERT_TRUE(attached);
  std::vector<std::string> frames;
  for (int i = 0; i < 2; ++i)
    peer->receive(
        [&](connection_write_atom, std::string& frame) { frames.push_back(std::move(frame)); },
        caf::after(await_timeout) >> [] { ADD_FAILURE() << "no frame"; });
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_NE(frames[0].find(R"("resumed":true)"), std::string::npos) << frames[0];
  EXPECT_NE(frames[1].find(R"("seq":1)"), std::string::npos) << frames[1];
}

// An adopted session parks once nothing is pending: here its resubscribe,
// held up at the cluster, is the last thing to finish (its predecessor ended
// first).
TEST_F(Parking, AnAdoptedSessionParksOnceItsResubscribeIsConfirmedAfterItsPredecessorEnded) {
  auto predecessor_gone = count_session_lines("predecessor ended before its handover was done");
  start_registry();
  caf::scoped_actor cluster{sys_};
  sys_.registry().put(cluster_name, caf::actor{cluster});
  session_handover h{.id = "peer.adopted", .token = "t", .seq = 3, .channels = {"news"}};
  std::optional<caf::scoped_actor> predecessor{std::in_place, sys_};
  (*predecessor)->send(registry_, adopt_session_atom::value, h);
  // The first local subscriber of "news" waits for the cluster's peers.
  caf::response_promise interest;
  cluster->receive(
      [&](local_interest_atom, const std::string& channel, bool on) {
        EXPECT_EQ(channel, "news");
        EXPECT_TRUE(on);
        interest = cluster->make_response_promise();
      },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "the cluster was not asked"; });
  // The interest is held back until the session has seen its predecessor end.
  predecessor.reset();
  ASSERT_TRUE(eventually([&] { return predecessor_gone->count() == 1; }));
  EXPECT_EQ(parked(), 0u);
  interest.deliver(caf::ok_atom::value);
  EXPECT_TRUE(eventually([&] { return parked() == 1; }));
  EXPECT_EQ(subscribers("news"), 1u);
  sys_.registry().erase(cluster_name);
}

// A drain hands every session to a peer, parked ones too: the record becomes
// an actor again, which runs the handover.
TEST_F(Parking, ADrainHandsAParkedSessionOverWithItsRecord) {
  start_registry();
  auto [reader, writer, w] = reader_and_writer();
  publish(writer, "news", 1, 1);
  expect_message(reader, 1, 1);
  drop_and_park(reader, 1);
  publish(writer, "news", 2, 2);
  // The writer's session and the reader's record: a fake cluster with one
  // peer takes them.
  caf::scoped_actor cluster{sys_};
  caf::scoped_actor target{sys_};
  caf::scoped_actor successor{sys_};
  sys_.registry().put(cluster_name, caf::actor{cluster});
  caf::scoped_actor node{sys_};
  auto drained = node->request(registry_, await_timeout, drain_atom::value, duration{10'000});
  cluster->receive(
      [&](handover_targets_atom) {
        return caf::make_message(std::vector<caf::actor>{caf::actor{target}},
                                 std::vector<std::string>{"ws://peer/ws"});
      },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "no targets asked"; });
  // Two adopts (in either order); the reader's carries its record.
  std::vector<caf::response_promise> adopts;
  bool saw_record = false;
  for (int i = 0; i < 2; ++i)
    target->receive(
        [&](adopt_session_atom, const session_handover& h) {
          if (h.id == w.session) {
            saw_record = true;
            EXPECT_EQ(h.token, w.token);
            EXPECT_EQ(h.seq, 2u);
            EXPECT_EQ(h.channels, (std::vector<std::string>{"news"}));
            EXPECT_EQ(h.buffer_seqs, (std::vector<std::uint64_t>{1, 2}));
          }
          adopts.push_back(target->make_response_promise());
        },
        caf::after(await_timeout) >> [] { ADD_FAILURE() << "no adopt"; });
  EXPECT_TRUE(saw_record);
  for (auto& rp : adopts) rp.deliver(caf::actor{successor});
  // Each handover waits for a broker barrier, which asks the cluster.
  for (int i = 0; i < 2; ++i)
    cluster->receive([](local_barrier_atom) { return caf::ok_atom::value; },
                     caf::after(await_timeout) >> [] { ADD_FAILURE() << "no barrier"; });
  for (int i = 0; i < 2; ++i)
    successor->receive([](handoff_done_atom, std::uint64_t) {},
                       caf::after(await_timeout) >> [] { ADD_FAILURE() << "no done"; });
  drained.receive(
      [](std::uint64_t handed, std::uint64_t failed) {
        EXPECT_EQ(handed, 2u);
        EXPECT_EQ(failed, 0u);
      },
      [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  EXPECT_TRUE(eventually([&] { return live_sessions() == 0; }));
  sys_.registry().erase(cluster_name);
}

}  // namespace
}  // namespace wsvisor::test
