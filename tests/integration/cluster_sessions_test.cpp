// Sessions across the nodes of a real cluster: a session homed on a dead
// node, a healed partition, a node carrying a connection to a remote session,
// and a graceful drain (SIGTERM) that hands sessions to a peer.

#include "tests/integration/cluster_scenarios.hpp"

namespace wsvisor::test::cluster_scenarios {
namespace {

// Without replicas (`[cluster] replicas = 0`) a node's death loses its
// sessions; with them: cluster_replica_test.cpp.
TEST_F(Cluster, WithoutReplicasASessionHomedOnADeadNodeIsUnknownElsewhere) {
  auto& cl = make({"a", "b"});
  for (auto& n : cl.nodes()) n->settings().replicas = 0;
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");

  wire_client x{a.http_port()};
  auto w = x.hello();
  auto session = str(w, "session");
  ASSERT_TRUE(homed_on(session, "a")) << session;
  x.subscribe("gone");

  auto mark_b = b.mark();
  a.kill9();
  ASSERT_TRUE(b.await_peer_down("a", detection_wait, mark_b));

  wire_client y{b.http_port()};
  auto wy = y.resume(session, str(w, "token"), 0);
  EXPECT_FALSE(is_true(wy, "resumed")) << json::serialize(wy);
  EXPECT_EQ(str(wy, "reason"), "unknown") << json::serialize(wy);
  EXPECT_TRUE(homed_on(str(wy, "session"), "b")) << json::serialize(wy);
  EXPECT_EQ(num(wy, "last_cseq"), 0u);
  // The new session is a working one.
  y.subscribe("gone");
  y.publish("gone", numbered("y", 1), 1);
  auto m = take_messages(y, 1);
  if (!m.empty()) {
    EXPECT_EQ(num(m[0], "seq"), 1u);
  }
}

TEST_F(Cluster, HealedPartitionDeliversEverythingOnceInOrder) {
  auto& cl = make({"a", "b"});
  // The resend between nodes on its own: with replicas, a node away for
  // 2 x peer_timeout would also have its sessions adopted across the cut
  // (cluster_replica_test.cpp), which a loaded machine can reach.
  for (auto& n : cl.nodes()) n->settings().replicas = 0;
  auto& a = cl.node("a");
  auto& b = cl.node("b");
  chaos::chaos_proxy proxy{a.cluster_port()};
  link_through(proxy, a, b);
  ASSERT_TRUE(cl.start());
  ASSERT_GE(proxy.stats().active, 1u) << "the peer link does not go through the proxy";

  wire_client sa{a.http_port()}, sb{b.http_port()}, pa{a.http_port()}, pb{b.http_port()};
  for (auto* c : {&sa, &sb, &pa, &pb}) c->hello();
  sa.subscribe("heal");
  sb.subscribe("heal");
  std::uint64_t pa_cseq = 0, pb_cseq = 0;

  // Before: everything everywhere, once.
  publish_numbered(pa, "a", "heal", 1, 10, pa_cseq);
  publish_numbered(pb, "b", "heal", 1, 10, pb_cseq);
  stream_check ca{.who = "subscriber on a"}, cb{.who = "subscriber on b"};
  for (auto& m : take_messages(sa, 20)) ca.feed(m);
  for (auto& m : take_messages(sb, 20)) cb.feed(m);

  // The partition: the link is cut and cannot come back until healed.
  auto marks = cl.marks();
  proxy.set_refusing(true);
  EXPECT_GE(proxy.cut_all(), 1u);
  auto down_a = a.await_peer_down("b", detection_wait, marks[0]);
  auto down_b = b.await_peer_down("a", detection_wait, marks[1]);
  ASSERT_TRUE(down_a && down_b) << "the cut link was not reported down on both sides";

  // During it each side serves its own subscribers.
  publish_numbered(pa, "a", "heal", 11, 15, pa_cseq);
  publish_numbered(pb, "b", "heal", 11, 15, pb_cseq);
  auto partitioned_a = take_messages(sa, 5);
  auto partitioned_b = take_messages(sb, 5);
  for (auto& m : partitioned_a) ca.feed(m);
  for (auto& m : partitioned_b) cb.feed(m);
  EXPECT_EQ(ca.last_n["a"], 15);
  EXPECT_EQ(cb.last_n["b"], 15);

  // Heal.
  proxy.set_refusing(false);
  ASSERT_TRUE(a.await_peer_up("b", rejoin_wait, down_a->end)) << "a: the link did not heal";
  ASSERT_TRUE(b.await_peer_up("a", rejoin_wait, down_b->end)) << "b: the link did not heal";
  // A fresh subscription on each side is confirmed only once the other side
  // knows of it: after these, the healed link carries interest both ways.
  wire_client fa{a.http_port()}, fb{b.http_port()};
  fa.hello();
  fb.hello();
  fa.subscribe("heal-sync");
  fb.subscribe("heal-sync");

  publish_numbered(pa, "a", "heal", 16, 30, pa_cseq);
  publish_numbered(pb, "b", "heal", 16, 30, pb_cseq);
  // The cross-node messages of the partition (11..15) arrive after the heal,
  // sent again by the side that published them (docs/cluster.md, "A lost
  // link"), before 16..30: every message once, in order, seq without a gap.
  auto drain_until = [](wire_client& c, stream_check& check, const std::string& own,
                        const std::string& other) {
    auto deadline = clock::now() + 10s;
    while (check.last_n[own] < 30 || check.last_n[other] < 30) {
      auto left = std::chrono::duration_cast<ms>(deadline - clock::now());
      if (left <= ms{0}) break;
      auto f = c.next(left);
      if (!f) break;
      ASSERT_EQ(str(*f, "type"), "message") << json::serialize(*f);
      EXPECT_EQ(num(*f, "seq"), check.next_seq) << check.who << ": " << json::serialize(*f);
      check.next_seq = num(*f, "seq") + 1;
      auto data = f->at("data").as_object();
      auto p = str(data, "p");
      auto n = data.at("n").to_number<std::int64_t>();
      auto& last = check.last_n[p];
      EXPECT_EQ(n, last + 1) << check.who << ": publisher " << p << " sent " << n << " after "
                             << last << (n <= last ? " (duplicate or reordered)" : " (lost)");
      last = std::max(last, n);
      ++check.count[p];
    }
    EXPECT_EQ(check.last_n[own], 30) << check.who;
    EXPECT_EQ(check.last_n[other], 30) << check.who;
  };
  drain_until(sa, ca, "a", "b");
  drain_until(sb, cb, "b", "a");
  EXPECT_EQ(ca.count["a"], 30u);
  EXPECT_EQ(cb.count["b"], 30u);
  EXPECT_EQ(ca.count["b"], 30u) << "a's subscriber missed some of b's publishes";
  EXPECT_EQ(cb.count["a"], 30u) << "b's subscriber missed some of a's publishes";
  expect_quiet(sa, "subscriber on a");
  expect_quiet(sb, "subscriber on b");
}

TEST_F(Cluster, ANodeCarryingAConnectionToARemoteSessionStillStopsAndClosesIt) {
  auto& cl = make({"a", "b"});
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");
  auto w = [&] {
    wire_client first{a.http_port()};
    return first.hello();
  }();
  // The session lives on a; its connection is now on b.
  wire_client x{b.http_port()};
  auto again = x.resume(str(w, "session"), str(w, "token"), 0);
  ASSERT_EQ(again.at("resumed"), true);
  // b stops: the connection it carries must close (1001) rather than keep b
  // from exiting, and the session, detached on a, can be resumed there.
  b.send_sigterm();
  EXPECT_EQ(x.await_close(), 1001);
  auto status = b.wait_exit(20s);
  ASSERT_TRUE(status) << "node b did not exit after SIGTERM";
  EXPECT_EQ(*status, 0);
  wire_client y{a.http_port()};
  EXPECT_EQ(y.resume(str(w, "session"), str(w, "token"), 0).at("resumed"), true);
}

// The session's home is alive but unreachable (frozen): the connection on
// another node is told to resume later (4503), not that its session is lost,
// and once the home is back the resume succeeds.
TEST_F(Cluster, AConnectionToASessionOnAFrozenNodeIsToldToResumeLater) {
  auto& cl = make({"a", "b"});
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");
  auto w = [&] {
    wire_client first{b.http_port()};
    return first.hello();
  }();
  ASSERT_TRUE(homed_on(str(w, "session"), "b"));
  wire_client x{a.http_port()};  // the session lives on b; its connection is on a
  ASSERT_EQ(x.resume(str(w, "session"), str(w, "token"), 0).at("resumed"), true);

  auto mark_a = a.mark();
  b.freeze();
  auto down = a.await_peer_down("b", detection_wait, mark_a);
  if (!down) b.thaw();
  ASSERT_TRUE(down) << "a did not report the frozen b down";
  EXPECT_EQ(x.await_close(), 4503);
  b.thaw();
  ASSERT_TRUE(a.await_peer_up("b", rejoin_wait, down->end)) << "a: b did not rejoin";
  // a adopted the session from its replica while b was away; until that is
  // done a resume is told 4503 too, and the client comes back (on a busy
  // machine the adoption can outlast the rejoin).
  auto deadline = clock::now() + rejoin_wait;
  while (true) {
    wire_client y{a.http_port()};
    y.send({{"type", "resume"},
            {"session", str(w, "session")},
            {"token", str(w, "token")},
            {"last_seq", 0}});
    if (auto again = y.next(5s)) {
      EXPECT_EQ(str(*again, "type"), "welcome") << json::serialize(*again);
      EXPECT_EQ(again->at("resumed"), true) << json::serialize(*again);
      break;
    }
    ASSERT_EQ(y.last_event().close_code, 4503) << "closed without a welcome";
    ASSERT_LT(clock::now(), deadline) << "still 4503 after " << rejoin_wait.count() << " ms";
    std::this_thread::sleep_for(100ms);  // the client's back-off, not a synchronisation
  }
}

TEST_F(Cluster, DrainSendsGoawayToAPeerThenClosesAndTheSessionResumesThere) {
  auto& cl = make({"a", "b"});
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");

  wire_client pub{b.http_port()};
  pub.hello();
  std::uint64_t pub_cseq = 0;
  auto x = std::make_unique<wire_client>(a.http_port());
  auto w = x->hello();
  x->subscribe("drain");
  publish_numbered(pub, "b", "drain", 1, 3, pub_cseq);
  take_messages(*x, 3);

  a.send_sigterm();
  auto goaway = x->expect("goaway", 10s);
  ASSERT_FALSE(goaway.empty()) << "no goaway before the connection ended";
  EXPECT_EQ(str(goaway, "url"), b.public_url()) << json::serialize(goaway);
  EXPECT_NE(str(goaway, "reason"), "") << json::serialize(goaway);
  EXPECT_NE(num(goaway, "retry_ms"), ~std::uint64_t{0}) << json::serialize(goaway);
  EXPECT_EQ(x->await_close(), 1001);
  // Published while the session moves (or after it moved): none may be lost.
  publish_numbered(pub, "b", "drain", 4, 6, pub_cseq);
  auto status = a.wait_exit(30s);
  ASSERT_TRUE(status) << "a did not exit within 30 s of SIGTERM";
  EXPECT_EQ(*status, 0);

  auto port = port_of_url(str(goaway, "url"));
  ASSERT_NE(port, 0);
  wire_client y{port};
  auto wy = y.resume(str(w, "session"), str(w, "token"), 3);
  ASSERT_TRUE(is_true(wy, "resumed")) << json::serialize(wy);
  EXPECT_EQ(str(wy, "session"), str(w, "session"));
  stream_check check{.who = "the resumed session", .next_seq = 4, .last_n = {{"b", 3}}};
  for (auto& m : take_messages(y, 3)) check.feed(m);
  publish_numbered(pub, "b", "drain", 7, 7, pub_cseq);
  for (auto& m : take_messages(y, 1)) check.feed(m);
  expect_quiet(y, "the resumed session");
}

TEST_F(Cluster, DrainHandsAParkedSessionToAPeerWhereItResumesExactly) {
  auto& cl = make({"a", "b"});
  // `session parked` is a debug line.
  for (auto& n : cl.nodes()) n->settings().extra_toml = "[log]\nlevel = \"debug\"\n";
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");

  wire_client pub{b.http_port()};
  pub.hello();
  std::uint64_t pub_cseq = 0;
  auto x = std::make_unique<wire_client>(a.http_port());
  auto w = x->hello();
  auto session = str(w, "session");
  x->subscribe("parked");
  publish_numbered(pub, "b", "parked", 1, 3, pub_cseq);
  take_messages(*x, 3);
  x->send({{"type", "ack"}, {"seq", 2}});
  x->socket().drop();
  x.reset();
  // Detached, then a record in a's registry, which takes what comes next.
  ASSERT_TRUE(a.await_line(log_event("session parked", {{"session", session}}), 10s));
  publish_numbered(pub, "b", "parked", 4, 5, pub_cseq);

  a.send_sigterm();
  // Published while the record becomes an actor again and moves to b.
  publish_numbered(pub, "b", "parked", 6, 7, pub_cseq);
  auto status = a.wait_exit(30s);
  ASSERT_TRUE(status) << "a did not exit within 30 s of SIGTERM";
  EXPECT_EQ(*status, 0);
  EXPECT_TRUE(b.await_line(log_event("session adopted", {{"session", session}}), 10s));
  // Counted where it was adopted, and as detached until the resume below.
  auto scraped = parse_prom_text(http_send(b.http_port(), http_call{.target = "/metrics"}).body);
  EXPECT_EQ(scraped.count("wsvisor_sessions_adopted_total"), 1);
  EXPECT_EQ(scraped.count("wsvisor_sessions", {{"state", "detached"}}), 1);
  EXPECT_EQ(scraped.count("wsvisor_sessions_created_total"), 1);  // pub's hello only

  wire_client y{b.http_port()};
  auto wy = y.resume(session, str(w, "token"), 2);
  ASSERT_TRUE(is_true(wy, "resumed")) << json::serialize(wy);
  EXPECT_EQ(num(wy, "replay"), 5u) << json::serialize(wy);
  stream_check check{.who = "the handed-over session", .next_seq = 3, .last_n = {{"b", 2}}};
  for (auto& m : take_messages(y, 5)) check.feed(m);
  publish_numbered(pub, "b", "parked", 8, 8, pub_cseq);
  for (auto& m : take_messages(y, 1)) check.feed(m);
  expect_quiet(y, "the handed-over session");
}

}  // namespace
}  // namespace wsvisor::test::cluster_scenarios
