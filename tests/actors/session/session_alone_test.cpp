// The session actor on its own (tests/actors/session/session_test.cpp drives it
// through real connections).

#include "actors/session/session.hpp"

#include <chrono>
#include <memory>
#include <string>

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

// The session on its own, with scoped actors standing in for connections, to
// drive the races a real connection can only make likely.
class SessionAlone : public SessionFixture {
 protected:
  static std::string subscribed_channel(fake_transport& t) {
    auto frame = t.next_frame();
    if (!frame) return "<none>";
    auto obj = parse_frame(*frame);
    EXPECT_EQ(str(obj, "type"), "subscribed");
    return str(obj, "channel");
  }
};

TEST_F(SessionAlone, NothingFromAFormerConnectionDisturbsTheSessionAfterAMove) {
  auto broker = spawn_broker(sys_);
  caf::scoped_actor old_conn{sys_};
  caf::scoped_actor new_conn{sys_};
  auto old_t = std::make_shared<fake_transport>();
  auto new_t = std::make_shared<fake_transport>();
  auto session = spawn_session(
      sys_, session_args{"id1", "tok1", session_, broker, caf::actor{old_conn}, old_t, ""});
  ASSERT_TRUE(old_t->next_frame());  // welcome
  old_conn->send(session, subscribe_atom::value, std::string{"a"}, false);
  EXPECT_EQ(subscribed_channel(*old_t), "a");
  bool resumed = false;
  new_conn
      ->request(session, await_timeout, attach_atom::value, caf::actor{new_conn},
                transport_ptr{new_t}, std::string{"tok1"}, std::uint64_t{0})
      .receive([&](caf::ok_atom) { resumed = true; },
               [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  ASSERT_TRUE(resumed);
  // The old connection is told to close with 4409.
  old_conn->receive(
      [](drop_connection_atom, std::uint16_t code, const std::string&) { EXPECT_EQ(code, 4409); },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "no 4409 order"; });
  EXPECT_EQ(parse_frame(*new_t->next_frame()).at("resumed"), true);
  // A late frame, then a down_msg as if it had been queued before the
  // demonitor (CAF issue 1301): both ignored.
  old_conn->send(session, subscribe_atom::value, std::string{"late"}, false);
  caf::anon_send(session, caf::down_msg{old_conn->address(), caf::exit_reason::normal});
  new_conn->send(session, subscribe_atom::value, std::string{"b"}, false);
  EXPECT_EQ(subscribed_channel(*new_t), "b");
  caf::anon_send(session, deliver_atom::value, std::string{"b"},
                 shared_body{std::make_shared<const std::string>(R"("channel":"b","data":0})")},
                 std::uint64_t{0}, std::uint64_t{1}, std::int64_t{0});
  auto message = parse_frame(*new_t->next_frame());
  EXPECT_EQ(num(message, "seq"), 1);
  EXPECT_EQ(old_t->frames().size(), 2u);  // welcome and subscribed "a", nothing since
  caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(broker, caf::exit_reason::user_shutdown);
}

TEST_F(SessionAlone, TimesADeliveryFromWhenTheBrokerTookIt) {
  auto broker = spawn_broker(sys_);
  caf::scoped_actor conn{sys_};
  auto t = std::make_shared<fake_transport>();
  auto metrics = std::make_shared<node_metrics>();
  session_args args{"id1", "tok1", session_, broker, caf::actor{conn}, t, ""};
  args.metrics = metrics;
  auto session = spawn_session(sys_, std::move(args));
  ASSERT_TRUE(t->next_frame());  // welcome
  conn->send(session, subscribe_atom::value, std::string{"b"}, false);
  EXPECT_EQ(subscribed_channel(*t), "b");
  // Accepted by the broker 3 s before the session gets it: the 3 s count.
  auto accepted = steady_clock_ns() - std::int64_t{3'000'000'000};
  caf::anon_send(session, deliver_atom::value, std::string{"b"},
                 shared_body{std::make_shared<const std::string>(R"("channel":"b","data":0})")},
                 std::uint64_t{0}, std::uint64_t{1}, accepted);
  ASSERT_TRUE(t->next_frame());  // the message, handed to the socket
  // Observed just after the hand-off, on the session's thread.
  ASSERT_TRUE(eventually([&] { return metrics->delivery_latency.read().count == 1; }));
  EXPECT_GE(metrics->delivery_latency.read().sum, 3.0);
  caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(broker, caf::exit_reason::user_shutdown);
}

// A predecessor whose adopt request failed (timed out) keeps the session and
// tells the peer (handoff_abort_atom): a successor made all the same ends,
// so that it never takes over with a stale snapshot once the predecessor ends.
TEST_F(SessionAlone, AnAdoptedSessionEndsWhenItsPredecessorAbortsButNotOnceTheHandoverIsDone) {
  auto broker = spawn_broker(sys_);
  auto adopted = [&](const std::string& id, const caf::actor& predecessor) {
    session_args args{id, "tok", session_, broker, caf::actor{}, nullptr, ""};
    args.adopted = session_handover{.id = id, .token = "tok", .channels = {"c"}};
    args.predecessor = predecessor;
    auto session = spawn_session(sys_, std::move(args));
    caf::scoped_actor self{sys_};
    self->request(session, await_timeout, welcomed_atom::value)
        .receive([](caf::actor&) {}, [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
    return session;
  };
  auto alive = [&](caf::scoped_actor& asker, const caf::actor& session) {
    bool answered = false;
    asker->request(session, await_timeout, session_info_atom::value)
        .receive([&](session_info&) { answered = true; }, [](caf::error&) {});
    return answered;
  };
  caf::scoped_actor predecessor{sys_};
  caf::scoped_actor stranger{sys_};
  auto s1 = adopted("a.1", caf::actor{predecessor});
  stranger->send(s1, handoff_abort_atom::value);  // not its predecessor: ignored
  EXPECT_TRUE(alive(stranger, s1));
  predecessor->send(s1, handoff_abort_atom::value);
  EXPECT_TRUE(await_down(sys_, s1)) << "the successor outlived an aborted handover";

  caf::scoped_actor done{sys_};
  auto s2 = adopted("a.2", caf::actor{done});
  done->send(s2, handoff_done_atom::value, std::uint64_t{0});
  done->send(s2, handoff_abort_atom::value);  // too late: the session is this node's now
  EXPECT_TRUE(alive(done, s2));
  caf::anon_send_exit(s2, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(broker, caf::exit_reason::user_shutdown);
}

TEST_F(SessionAlone,
       AnAdoptedSessionAppendsWhatItsPredecessorForwardedThenOnlyHeldMessagesItLacks) {
  auto broker = spawn_broker(sys_);
  caf::scoped_actor predecessor{sys_};
  auto body = [](int n) { return R"("channel":"c","data":)" + std::to_string(n) + "}"; };
  session_handover h{.id = "a.1",
                     .token = "tok",
                     .seq = 2,
                     .last_cseq = 4,
                     .channels = {"c"},
                     .buffer_seqs = {1, 2},
                     .buffer_bodies = {body(1), body(2)},
                     .through_origins = {7},
                     .through_counters = {8}};
  session_args args{"a.1", "tok", session_, broker, caf::actor{}, nullptr, ""};
  args.adopted = h;
  args.predecessor = caf::actor{predecessor};
  auto session = spawn_session(sys_, std::move(args));
  // Answered once resubscribed here.
  caf::scoped_actor self{sys_};
  bool ready = false;
  self->request(session, await_timeout, welcomed_atom::value)
      .receive([&](caf::actor& who) { ready = who == session; },
               [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  ASSERT_TRUE(ready);
  std::uint64_t subscribers = 0;
  self->request(broker, await_timeout, channel_subscribers_atom::value, std::string{"c"})
      .receive([&](std::uint64_t n) { subscribers = n; },
               [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  EXPECT_EQ(subscribers, 1u);
  // Direct deliveries (origin 7, counters 8 and 10..12) are held; 8 is in the
  // snapshot already (it reached this node late). The predecessor forwards 9
  // and 10, then is done: neither 8 nor 10 may be kept twice.
  caf::anon_send(session, deliver_atom::value, std::string{"c"},
                 shared_body{std::make_shared<const std::string>(body(108))}, std::uint64_t{7},
                 std::uint64_t{8}, std::int64_t{0});
  for (std::uint64_t c = 10; c <= 12; ++c)
    caf::anon_send(session, deliver_atom::value, std::string{"c"},
                   shared_body{std::make_shared<const std::string>(body(100 + int(c)))},
                   std::uint64_t{7}, c, std::int64_t{0});
  predecessor->send(session, handoff_delivery_atom::value, std::string{"c"}, body(109),
                    std::uint64_t{7}, std::uint64_t{9});
  predecessor->send(session, handoff_delivery_atom::value, std::string{"c"}, body(110),
                    std::uint64_t{7}, std::uint64_t{10});
  // A channel its client subscribed to during the handover: confirmed once
  // this node's broker has it.
  bool confirmed = false;
  predecessor
      ->request(session, await_timeout, handoff_subscription_atom::value, std::string{"d"}, true)
      .receive([&](caf::ok_atom) { confirmed = true; },
               [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  EXPECT_TRUE(confirmed);
  self->request(broker, await_timeout, channel_subscribers_atom::value, std::string{"d"})
      .receive([&](std::uint64_t n) { subscribers = n; },
               [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  EXPECT_EQ(subscribers, 1u);
  predecessor->send(session, handoff_done_atom::value, std::uint64_t{6});
  auto t = std::make_shared<fake_transport>();
  bool resumed = false;
  self->request(session, await_timeout, attach_atom::value, caf::actor{self}, transport_ptr{t},
                std::string{"tok"}, std::uint64_t{0})
      .receive([&](caf::ok_atom) { resumed = true; },
               [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  ASSERT_TRUE(resumed);
  auto welcome = parse_frame(*t->next_frame());
  EXPECT_EQ(welcome.at("resumed"), true);
  EXPECT_EQ(num(welcome, "last_cseq"), 6);
  std::vector<std::int64_t> data;
  for (std::int64_t seq = 1; seq <= 6; ++seq) {
    auto frame = t->next_frame();
    ASSERT_TRUE(frame) << "message " << seq << " missing";
    auto message = parse_frame(*frame);
    EXPECT_EQ(num(message, "seq"), seq);
    data.push_back(num(message, "data"));
  }
  EXPECT_EQ(data, (std::vector<std::int64_t>{1, 2, 109, 110, 111, 112}));
  // A copy that reaches this node after the handover is done (its direct path
  // is longer than the predecessor's) is dropped; the next new one follows.
  caf::anon_send(session, deliver_atom::value, std::string{"c"},
                 shared_body{std::make_shared<const std::string>(body(110))}, std::uint64_t{7},
                 std::uint64_t{10}, std::int64_t{0});
  caf::anon_send(session, deliver_atom::value, std::string{"c"},
                 shared_body{std::make_shared<const std::string>(body(113))}, std::uint64_t{7},
                 std::uint64_t{13}, std::int64_t{0});
  auto next = t->next_frame();
  ASSERT_TRUE(next);
  auto message = parse_frame(*next);
  EXPECT_EQ(num(message, "seq"), 7);
  EXPECT_EQ(num(message, "data"), 113) << "a message came twice";
  caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(broker, caf::exit_reason::user_shutdown);
}

TEST_F(SessionAlone, ASubscribeDuringItsHandoverReachesTheSuccessorBeforeItIsDone) {
  auto broker = spawn_broker(sys_);
  caf::scoped_actor conn{sys_};
  auto t = std::make_shared<fake_transport>();
  auto session =
      spawn_session(sys_, session_args{"a.2", "tok", session_, broker, caf::actor{conn}, t, ""});
  ASSERT_TRUE(t->next_frame());  // welcome
  conn->send(session, subscribe_atom::value, std::string{"a"}, false);
  EXPECT_EQ(subscribed_channel(*t), "a");
  caf::scoped_actor registry{sys_};
  caf::scoped_actor target{sys_};
  caf::scoped_actor successor{sys_};
  auto handed = registry->request(session, await_timeout, handover_atom::value, caf::actor{target},
                                  std::string{"ws://b/ws"}, std::uint32_t{0});
  // The target cluster gets the snapshot; while it has not answered, the
  // client subscribes to one more channel.
  caf::response_promise adopt;
  target->receive(
      [&](adopt_session_atom, const session_handover& h) {
        EXPECT_EQ(h.channels, (std::vector<std::string>{"a"}));
        adopt = target->make_response_promise();
      },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "no adopt"; });
  conn->send(session, subscribe_atom::value, std::string{"b"}, false);
  EXPECT_EQ(subscribed_channel(*t), "b");
  adopt.deliver(caf::actor{successor});
  // The successor is told of "b" and confirms it before the session is done.
  bool told = false;
  successor->receive(
      [&](handoff_subscription_atom, const std::string& channel, bool on) {
        told = channel == "b" && on;
        return caf::ok_atom::value;
      },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "the successor never heard of b"; });
  EXPECT_TRUE(told);
  successor->receive([](handoff_done_atom, std::uint64_t) {},
                     caf::after(await_timeout) >> [] { ADD_FAILURE() << "no done"; });
  bool ok = false;
  handed.receive([&](caf::ok_atom) { ok = true; },
                 [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  EXPECT_TRUE(ok);
  auto goaway = parse_frame(*t->next_frame());
  EXPECT_EQ(str(goaway, "type"), "goaway");
  EXPECT_EQ(str(goaway, "url"), "ws://b/ws");
  caf::anon_send_exit(broker, caf::exit_reason::user_shutdown);
}

}  // namespace
}  // namespace wsvisor::test
