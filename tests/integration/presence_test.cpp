// Presence (docs/protocol.md, "Presence") over real sockets against a real
// node: members, their online/away/gone events numbered, replayed and
// acknowledged like messages, the query, the limit and the gauge.

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "client/client.hpp"
#include "client/errors.hpp"
#include "tests/integration/node_fixture.hpp"
#include "tests/integration/wire_client.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/json_fields.hpp"
#include "tests/support/prometheus_text.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

std::uint64_t num(const json::value& v) { return v.to_number<std::uint64_t>(); }

class Presence : public NodeTest {
 protected:
  // Subscribes as a member; waits for `subscribed`.
  static void join(wire_client& c, const std::string& channel) {
    c.send({{"type", "subscribe"}, {"channel", channel}, {"presence", true}});
    auto f = c.expect("subscribed");
    ASSERT_EQ(str(f["channel"]), channel);
  }

  static json::object query(wire_client& c, const std::string& channel) {
    c.send({{"type", "presence"}, {"channel", channel}});
    return c.expect("presence");
  }

  // The next presence_event, checked.
  static json::object expect_event(wire_client& c, std::uint64_t seq, const std::string& member,
                                   std::string_view state) {
    auto e = c.expect("presence_event");
    EXPECT_EQ(num(e["seq"]), seq) << json::serialize(e);
    EXPECT_EQ(e["channel"], "room") << json::serialize(e);
    EXPECT_EQ(str(e["member"]), member) << json::serialize(e);
    EXPECT_EQ(str(e["state"]), state) << json::serialize(e);
    EXPECT_TRUE(e.contains("subject")) << json::serialize(e);
    return e;
  }

  // Each member's state in a presence answer.
  static std::map<std::string, std::string> states(json::object answer) {
    std::map<std::string, std::string> out;
    for (auto& m : answer["members"].as_array()) {
      auto& o = m.as_object();
      EXPECT_TRUE(o.at("subject").is_null());
      out[str(o.at("member"))] = str(o.at("state"));
    }
    return out;
  }

  double gauge() {
    auto r = http_request(port(), "GET", "/metrics");
    return parse_prom_text(r.body).count("wsvisor_presence_members", {});
  }
};

TEST_F(Presence, MembersSeeOthersJoinDropResumeAndLeaveButNeverThemselves) {
  start_node();
  wire_client a{port()}, b{port()}, watcher{port()};
  a.hello();
  auto wb = b.hello();
  watcher.hello();
  join(a, "room");
  watcher.subscribe("room");  // without presence: no events

  join(b, "room");
  auto online = a.expect("presence_event");
  auto member_b = str(online["member"]);
  EXPECT_EQ(num(online["seq"]), 1u);
  EXPECT_EQ(online["state"], "online");
  EXPECT_TRUE(online["subject"].is_null());
  // Opaque, stable, and not the session id (which stays secret).
  EXPECT_EQ(member_b.size(), 24u);
  EXPECT_EQ(member_b.find(str(wb["session"])), std::string::npos);

  // The query from a member and from a plain subscriber: both members online.
  auto answer = query(b, "room");
  EXPECT_EQ(answer["channel"], "room");
  auto listed = states(answer);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[member_b], "online");
  auto from_watcher = states(query(watcher, "room"));
  EXPECT_EQ(from_watcher, listed);

  // B's connection drops: away; it resumes: online, with the same member id.
  b.socket().drop();
  expect_event(a, 2, member_b, "away");
  wire_client b2{port()};
  auto w = b2.resume(str(wb["session"]), str(wb["token"]), 0);
  ASSERT_EQ(w["resumed"], true);
  // B was sent no event of its own: nothing numbered to replay.
  EXPECT_EQ(num(w["replay"]), 0u);
  expect_event(a, 3, member_b, "online");
  EXPECT_EQ(states(query(a, "room"))[member_b], "online");

  // B leaves: gone, and no longer listed.
  b2.send({{"type", "unsubscribe"}, {"channel", "room"}});
  b2.expect("unsubscribed");
  expect_event(a, 4, member_b, "gone");
  EXPECT_EQ(states(query(a, "room")).count(member_b), 0u);

  // The plain subscriber received no event at all: a message comes first.
  wire_client pub{port()};
  pub.hello();
  pub.publish("room", json::object{{"n", 1}}, 1);
  auto m = watcher.expect("message");
  EXPECT_EQ(num(m["seq"]), 1u);
  auto mine = a.expect("message");
  EXPECT_EQ(num(mine["seq"]), 5u);
}

TEST_F(Presence, EventsMissedWhileAwayAreReplayedOnResumeInOrder) {
  start_node();
  wire_client a{port()};
  auto wa = a.hello();
  join(a, "room");
  a.socket().drop();
  // While A is away, B joins and says bye.
  wire_client b{port()};
  b.hello();
  join(b, "room");
  b.send({{"type", "bye"}});
  EXPECT_EQ(b.await_close(), 1000);

  wire_client a2{port()};
  auto w = a2.resume(str(wa["session"]), str(wa["token"]), 0);
  ASSERT_EQ(w["resumed"], true);
  EXPECT_EQ(num(w["replay"]), 2u);
  auto online = a2.expect("presence_event");
  EXPECT_EQ(num(online["seq"]), 1u);
  EXPECT_EQ(online["state"], "online");
  expect_event(a2, 2, str(online["member"]), "gone");
  // Acknowledged like a message: a later resume replays nothing.
  a2.send({{"type", "ack"}, {"seq", 2}});
  a2.socket().drop();
  wire_client a3{port()};
  auto again = a3.resume(str(wa["session"]), str(wa["token"]), 2);
  ASSERT_EQ(again["resumed"], true);
  EXPECT_EQ(num(again["replay"]), 0u);
}

TEST_F(Presence, AMemberWhoseWindowEndsIsGone) {
  cfg_.session.resume_window = 1s;
  start_node();
  wire_client a{port()}, b{port()};
  a.hello();
  b.hello();
  join(a, "room");
  join(b, "room");
  auto member_b = str(a.expect("presence_event")["member"]);
  b.socket().drop();
  expect_event(a, 2, member_b, "away");
  // The detached session parks; its record expires: gone.
  expect_event(a, 3, member_b, "gone");
  EXPECT_TRUE(eventually([&] { return gauge() == 1; }));
}

TEST_F(Presence, TheLimitRefusesAnotherMemberButNotAPlainSubscriber) {
  cfg_.limits.presence_members = 1;
  start_node();
  wire_client a{port()}, b{port()};
  a.hello();
  b.hello();
  join(a, "room");
  b.send({{"type", "subscribe"}, {"channel", "room"}, {"presence", true}});
  auto e = b.expect("error");
  EXPECT_EQ(e["code"], "too_many_members");
  // Not subscribed by the refused subscribe: its query is refused too.
  b.send({{"type", "presence"}, {"channel", "room"}});
  EXPECT_EQ(b.expect("error")["code"], "not_subscribed");
  b.subscribe("room");
  EXPECT_EQ(states(query(b, "room")).size(), 1u);
  EXPECT_EQ(gauge(), 1);
}

TEST_F(Presence, TheQueryNeedsASubscriptionAndAPresenceFlagMustBeABoolean) {
  start_node();
  wire_client c{port()};
  c.hello();
  c.send({{"type", "presence"}, {"channel", "room"}});
  auto e = c.expect("error");
  EXPECT_EQ(e["code"], "not_subscribed");
  c.send({{"type", "subscribe"}, {"channel", "room"}, {"presence", "yes"}});
  EXPECT_EQ(c.expect("error")["code"], "bad_frame");
  // A later subscribe with presence on a channel held without it joins.
  c.subscribe("room");
  EXPECT_EQ(states(query(c, "room")).size(), 0u);
  join(c, "room");
  EXPECT_EQ(states(query(c, "room")).size(), 1u);
  EXPECT_EQ(gauge(), 1);
}

TEST_F(Presence, TheCxxClientJoinsGetsEventsInItsSeqAndAsksForTheMembers) {
  start_node();
  wire_client b{port()};
  auto wb = b.hello();
  join(b, "room");

  caf::actor_system_config caf_cfg;
  add_client_types(caf_cfg);
  caf::actor_system sys{caf_cfg};
  std::mutex mtx;
  std::vector<client_presence_event> events;
  std::vector<client_members> answers;
  std::vector<std::uint64_t> message_seqs;
  client_callbacks callbacks{
      .on_message =
          [&](const client_message& m) {
            std::lock_guard guard{mtx};
            message_seqs.push_back(m.seq);
          },
      .on_presence =
          [&](const client_presence_event& e) {
            std::lock_guard guard{mtx};
            events.push_back(e);
          },
      .on_members =
          [&](const client_members& m) {
            std::lock_guard guard{mtx};
            answers.push_back(m);
          },
  };
  client a{sys, client_options{.url = "ws://127.0.0.1:" + std::to_string(port()) + "/ws"},
           callbacks};
  ASSERT_TRUE(a.subscribe("room", true));
  // Asked before the connection is live: sent after the subscribe, so the
  // answer lists a as a member too.
  ASSERT_TRUE(a.ask_presence("room"));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard guard{mtx};
    return !answers.empty();
  }));
  {
    std::lock_guard guard{mtx};
    ASSERT_EQ(answers[0].channel, "room");
    ASSERT_EQ(answers[0].members.size(), 2u);
    for (auto& m : answers[0].members) EXPECT_EQ(m.state, "online");
  }

  // b drops and comes back, then a message is published: away (1), online
  // (2), message (3), all in the client's one seq.
  b.socket().drop();
  ASSERT_TRUE(a.wait_for([](const client_stats& s) { return s.presence_events == 1; }, 5s));
  wire_client b2{port()};
  ASSERT_EQ(b2.resume(str(wb["session"]), str(wb["token"]), 0)["resumed"], true);
  wire_client pub{port()};
  pub.hello();
  pub.publish("room", json::object{{"n", 1}}, 1);
  ASSERT_TRUE(a.wait_for([](const client_stats& s) { return s.messages == 1; }, 5s));
  auto stats = a.stats();
  EXPECT_EQ(stats.presence_events, 2u);
  EXPECT_EQ(stats.last_seq, 3u);
  EXPECT_EQ(stats.disconnects, 0u);
  std::lock_guard guard{mtx};
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].seq, 1u);
  EXPECT_EQ(events[0].state, "away");
  EXPECT_EQ(events[0].channel, "room");
  EXPECT_EQ(events[0].subject, "");
  EXPECT_EQ(events[1].seq, 2u);
  EXPECT_EQ(events[1].state, "online");
  EXPECT_EQ(events[1].member, events[0].member);
  // b is the member a was told about, listed in the answer.
  bool listed = false;
  for (auto& m : answers[0].members) listed = listed || m.member == events[0].member;
  EXPECT_TRUE(listed);
  EXPECT_EQ(message_seqs, (std::vector<std::uint64_t>{3}));
}

}  // namespace
}  // namespace wsvisor::test
