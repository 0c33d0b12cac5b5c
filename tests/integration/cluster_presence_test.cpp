// Presence across a cluster of real wsvisor processes (docs/protocol.md,
// "Presence"; docs/cluster.md): members on every node listed by a query on
// any of them, including members that joined before the asking node received
// the channel; events crossing nodes; a lost node's members away on the
// others, then gone when its sessions' window ends.

#include "tests/integration/cluster_scenarios.hpp"
#include "tests/support/eventually.hpp"

namespace wsvisor::test::cluster_scenarios {
namespace {

void join(wire_client& c, const std::string& channel) {
  c.send({{"type", "subscribe"}, {"channel", channel}, {"presence", true}});
  auto f = c.expect("subscribed");
  ASSERT_EQ(str(f["channel"]), channel);
}

// Member id -> state, from a presence query.
std::map<std::string, std::string> members(wire_client& c, const std::string& channel) {
  c.send({{"type", "presence"}, {"channel", channel}});
  auto answer = c.expect("presence");
  std::map<std::string, std::string> out;
  for (auto& m : answer["members"].as_array())
    out[str(m.as_object().at("member"))] = str(m.as_object().at("state"));
  return out;
}

json::object expect_event(wire_client& c, const std::string& member, std::string_view state,
                          ms timeout = ms{5000}) {
  auto e = c.expect("presence_event", timeout);
  EXPECT_EQ(str(e["member"]), member) << json::serialize(e);
  EXPECT_EQ(str(e["state"]), state) << json::serialize(e);
  return e;
}

TEST_F(Cluster, PresenceSpansTheNodesAndALostNodesMembersGoAwayThenGone) {
  auto& cl = make({"a", "b", "c"});
  for (auto& n : cl.nodes()) {
    n->settings().replicas = 0;  // no adoption: the lost node's sessions end with their window
    n->settings().resume_window = ms{2000};
  }
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");
  auto& c = cl.node("c");

  // x joins on a before b or c receive the channel at all.
  wire_client x{a.http_port()};
  x.hello();
  join(x, "room");
  wire_client y{b.http_port()};
  auto wy = y.hello();
  join(y, "room");
  auto first = x.expect("presence_event");
  EXPECT_EQ(str(first["state"]), "online");
  auto member_y = str(first["member"]);
  auto on_b = members(y, "room");
  ASSERT_EQ(on_b.size(), 2u);
  std::string member_x;
  for (auto& [m, state] : on_b) {
    EXPECT_EQ(state, "online");
    if (m != member_y) member_x = m;
  }
  ASSERT_FALSE(member_x.empty());

  // A plain subscriber on c sees both and gets no events.
  wire_client z{c.http_port()};
  z.hello();
  z.subscribe("room");
  EXPECT_EQ(members(z, "room"), on_b);

  // y's connection drops and it resumes on c: x on a sees away, then online.
  y.socket().drop();
  expect_event(x, member_y, "away");
  wire_client y2{c.http_port()};
  auto w = y2.resume(str(wy["session"]), str(wy["token"]), 0);
  ASSERT_EQ(w["resumed"], true);
  expect_event(x, member_y, "online");

  // a is lost: its member is away for y, then gone once a's sessions would
  // have expired; the query agrees.
  auto marks = cl.marks();
  a.kill9();
  ASSERT_TRUE(b.await_peer_down("a", detection_wait, marks[1]));
  expect_event(y2, member_x, "away", detection_wait);
  // c notices the loss on its own, a little earlier or later than b.
  EXPECT_TRUE(eventually([&] { return members(z, "room")[member_x] == "away"; }, detection_wait));
  expect_event(y2, member_x, "gone", ms{2000} + detection_wait);
  EXPECT_TRUE(eventually([&] { return members(z, "room").count(member_x) == 0; }, detection_wait));
  EXPECT_EQ(members(z, "room")[member_y], "online");
  expect_quiet(z, "plain subscriber on c");
}

TEST_F(Cluster, AnAdoptedSessionKeepsItsPresenceAndIsNeverGone) {
  // With replicas (the default): a's sessions are adopted by b or c.
  auto& cl = make({"a", "b", "c"});
  for (auto& n : cl.nodes()) n->settings().resume_window = ms{1500};
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");

  wire_client x{a.http_port()};
  auto wx = x.hello();
  join(x, "room");
  wire_client y{b.http_port()};
  y.hello();
  join(y, "room");
  auto member_y = str(x.expect("presence_event")["member"]);
  std::string member_x;
  for (auto& [m, state] : members(y, "room"))
    if (m != member_y) member_x = m;
  ASSERT_FALSE(member_x.empty());

  // a dies with x attached: x is away for y once (whichever of b's own
  // finding and the adopting node's word comes first), ...
  a.kill9();
  expect_event(y, member_x, "away", detection_wait);
  // ... and back online when its client resumes through b (4503 while the
  // adoption is under way: retried as a client would).
  std::unique_ptr<wire_client> x2;
  auto deadline = clock::now() + detection_wait + ms{5000};
  while (!x2 && clock::now() < deadline) {
    auto c = std::make_unique<wire_client>(b.http_port());
    c->send({{"type", "resume"},
             {"session", str(wx["session"])},
             {"token", str(wx["token"])},
             {"last_seq", 1}});
    auto f = c->next(ms{5000});
    if (f) {
      ASSERT_EQ(str((*f)["type"]), "welcome") << json::serialize(*f);
      ASSERT_EQ((*f)["resumed"], true) << json::serialize(*f);
      x2 = std::move(c);
    } else {
      EXPECT_EQ(c->last_event().close_code, 4503);
      std::this_thread::sleep_for(ms{100});  // the client's back-off, not a synchronisation
    }
  }
  ASSERT_TRUE(x2) << "x was not resumed";
  expect_event(y, member_x, "online");
  // Its membership came with it: y's changes reach it, numbered after what
  // it had (the online event of y was seq 1).
  y.send({{"type", "unsubscribe"}, {"channel", "room"}});
  y.expect("unsubscribed");
  auto gone = expect_event(*x2, member_y, "gone");
  EXPECT_EQ(num(gone, "seq"), 2u);
  // a's sessions' window passes: x, adopted, is not taken for one of them.
  wire_client z{b.http_port()};
  z.hello();
  z.subscribe("room");
  expect_quiet(*x2, "adopted member", ms{2500});
  EXPECT_EQ(members(z, "room")[member_x], "online");
}

TEST_F(Cluster, ADrainedMemberMovesToThePeerAndIsNeverGone) {
  auto& cl = make({"a", "b"});
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");

  auto x = std::make_unique<wire_client>(a.http_port());
  auto wx = x->hello();
  join(*x, "room");
  wire_client y{b.http_port()};
  y.hello();
  join(y, "room");
  auto member_y = str(x->expect("presence_event")["member"]);
  std::string member_x;
  for (auto& [m, state] : members(y, "room"))
    if (m != member_y) member_x = m;
  ASSERT_FALSE(member_x.empty());

  // a drains: x's session moves to b (away there until its client is back),
  // and a forgets it without `gone`.
  a.send_sigterm();
  auto goaway = x->expect("goaway", 10s);
  ASSERT_FALSE(goaway.empty()) << "no goaway";
  EXPECT_EQ(x->await_close(), 1001);
  expect_event(y, member_x, "away", ms{10'000});
  auto status = a.wait_exit(30s);
  ASSERT_TRUE(status) << "a did not exit within 30 s of SIGTERM";
  wire_client x2{b.http_port()};
  auto w = x2.resume(str(wx["session"]), str(wx["token"]), 1);
  ASSERT_TRUE(is_true(w, "resumed")) << json::serialize(w);
  expect_event(y, member_x, "online");
  // Still a member on b: y's leaving reaches it, after what it had.
  y.send({{"type", "unsubscribe"}, {"channel", "room"}});
  y.expect("unsubscribed");
  auto gone = expect_event(x2, member_y, "gone");
  EXPECT_EQ(num(gone, "seq"), 2u);
  expect_quiet(x2, "the moved member");
}

}  // namespace
}  // namespace wsvisor::test::cluster_scenarios
