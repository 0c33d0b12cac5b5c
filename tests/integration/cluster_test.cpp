// A cluster of real wsvisor processes on loopback (tests/support/cluster_nodes),
// observed through wsvisor.v1 clients and the nodes' logs: resume on another
// node, channels across nodes, node loss (kill -9, SIGSTOP), readiness and
// peer-link logs. Sessions across nodes: cluster_sessions_test.cpp; a rolling
// restart: cluster_rolling_test.cpp.
//
// Every wait has a deadline; on failure the nodes' last log lines are printed
// and their full logs written to $TMPDIR/wsvisor-cluster-logs/TEST/NODE.log.

#include "tests/integration/cluster_scenarios.hpp"

namespace wsvisor::test::cluster_scenarios {
namespace {

TEST_F(Cluster, ResumeOnAnotherNodeReplaysExactlyAndContinuesLive) {
  auto& cl = make({"a", "b"});
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");

  // The publisher is on b, so even the first messages cross nodes.
  wire_client pub{b.http_port()};
  pub.hello();
  std::uint64_t pub_cseq = 0;

  auto x = std::make_unique<wire_client>(a.http_port());
  auto w = x->hello();
  auto session = str(w, "session");
  auto token = str(w, "token");
  EXPECT_TRUE(homed_on(session, "a")) << session;
  x->subscribe("room");

  publish_numbered(pub, "b", "room", 1, 5, pub_cseq);
  auto first = take_messages(*x, 5);
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(num(first[i], "seq"), i + 1);
    EXPECT_EQ(first[i]["data"].as_object()["n"].to_number<std::int64_t>(), std::int64_t(i + 1));
  }
  x->send({{"type", "ack"}, {"seq", 2}});
  x->socket().drop();  // gone without a close frame, 3 to 5 unacknowledged
  x.reset();

  publish_numbered(pub, "b", "room", 6, 8, pub_cseq);  // while detached (or detaching)

  // The client holds 1..3 only (it lost 4 and 5 before processing them).
  wire_client y{b.http_port()};
  auto wy = y.resume(session, token, 3);
  ASSERT_TRUE(is_true(wy, "resumed")) << json::serialize(wy);
  EXPECT_EQ(str(wy, "session"), session);
  EXPECT_EQ(num(wy, "last_cseq"), 0u);
  auto replay = take_messages(y, 5);
  for (std::size_t i = 0; i < replay.size(); ++i) {
    EXPECT_EQ(num(replay[i], "seq"), i + 4) << json::serialize(replay[i]);
    EXPECT_EQ(replay[i]["data"].as_object()["n"].to_number<std::int64_t>(), std::int64_t(i + 4));
  }

  // Live traffic continues with the next seq, from either node.
  publish_numbered(pub, "b", "room", 9, 10, pub_cseq);
  wire_client pub_a{a.http_port()};
  pub_a.hello();
  std::uint64_t pub_a_cseq = 0;
  publish_numbered(pub_a, "a", "room", 1, 1, pub_a_cseq);
  // (b's two and a's one may interleave: only per-publisher order is promised.)
  stream_check live{.who = "y on b", .next_seq = 9, .last_n = {{"b", 8}}};
  for (auto& m : take_messages(y, 3)) live.feed(m);
  EXPECT_EQ(live.count["b"], 2u);
  EXPECT_EQ(live.count["a"], 1u);
  // The session publishes from b too (its cseq is the session's).
  y.publish("elsewhere", json::object{{"from", "y"}}, 1);

  // Back home: a resume on a while b still carries the session moves it
  // there and closes b's connection with 4409.
  wire_client z{a.http_port()};
  auto wz = z.resume(session, token, 11);
  ASSERT_TRUE(is_true(wz, "resumed")) << json::serialize(wz);
  EXPECT_EQ(str(wz, "session"), session);
  EXPECT_EQ(num(wz, "last_cseq"), 1u);
  EXPECT_EQ(y.await_close(), 4409);
  publish_numbered(pub, "b", "room", 11, 12, pub_cseq);
  auto back = take_messages(z, 2);
  for (std::size_t i = 0; i < back.size(); ++i)
    EXPECT_EQ(num(back[i], "seq"), i + 12) << json::serialize(back[i]);
  z.publish("elsewhere", json::object{{"from", "z"}}, 2);
  expect_quiet(z, "z");
}

TEST_F(Cluster, ChannelsSpanTheClusterOncePerSubscriberInPublisherOrder) {
  auto& cl = make({"a", "b", "c"});
  ASSERT_TRUE(cl.start());
  constexpr std::int64_t per_publisher = 50;

  std::vector<std::unique_ptr<wire_client>> subs;
  std::vector<stream_check> checks;
  for (auto& n : cl.nodes()) {
    for (int i = 0; i < 2; ++i) {
      subs.push_back(std::make_unique<wire_client>(n->http_port()));
      subs.back()->hello();
      subs.back()->subscribe("news");
      checks.push_back({.who = "subscriber " + std::to_string(i) + " on " + n->name()});
    }
  }
  wire_client pa{cl.node("a").http_port()}, pb{cl.node("b").http_port()};
  pa.hello();
  pb.hello();
  // Interleaved, pipelined: both publishers' messages are in flight at once.
  for (std::int64_t n = 1; n <= per_publisher; ++n) {
    pa.send({{"type", "publish"}, {"channel", "news"}, {"data", numbered("a", n)}, {"cseq", n}});
    pb.send({{"type", "publish"}, {"channel", "news"}, {"data", numbered("b", n)}, {"cseq", n}});
  }
  for (std::int64_t n = 1; n <= per_publisher; ++n) {
    EXPECT_EQ(num(pa.expect("ack"), "cseq"), std::uint64_t(n));
    EXPECT_EQ(num(pb.expect("ack"), "cseq"), std::uint64_t(n));
  }
  for (std::size_t i = 0; i < subs.size(); ++i) {
    for (auto& m : take_messages(*subs[i], 2 * per_publisher)) checks[i].feed(m);
    EXPECT_EQ(checks[i].count["a"], std::size_t(per_publisher)) << checks[i].who;
    EXPECT_EQ(checks[i].count["b"], std::size_t(per_publisher)) << checks[i].who;
  }
  for (std::size_t i = 0; i < subs.size(); ++i) expect_quiet(*subs[i], checks[i].who);
}

TEST_F(Cluster, KilledPeerIsReportedDownAndRejoinsWhenRestarted) {
  auto& cl = make({"a", "b", "c"});
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");
  auto& c = cl.node("c");

  auto marks = cl.marks();
  auto killed_at = clock::now();
  c.kill9();
  std::vector<std::size_t> after_down(3);
  for (auto* n : {&a, &b}) {
    auto down = n->await_peer_down("c", detection_wait, marks[n == &a ? 0 : 1]);
    ASSERT_TRUE(down) << n->name() << " did not report c down within " << detection_wait.count()
                      << " ms";
    EXPECT_LE(down->at - killed_at, peer_timeout + detection_slack)
        << n->name() << " took " << ms_text(down->at - killed_at) << ": " << down->line;
    auto parsed = log_line::parse(down->line);
    EXPECT_TRUE(parsed && !parsed->field("reason").empty()) << "no reason in: " << down->line;
    std::cerr << "[killed] " << n->name() << " reported c down after "
              << ms_text(down->at - killed_at) << "\n";
    after_down[n == &a ? 0 : 1] = down->end;
  }

  // a and b keep serving, each other included.
  wire_client sa{a.http_port()}, sb{b.http_port()}, pa{a.http_port()}, pb{b.http_port()};
  for (auto* w : {&sa, &sb, &pa, &pb}) w->hello();
  sa.subscribe("after");
  sb.subscribe("after");
  std::uint64_t pa_cseq = 0, pb_cseq = 0;
  publish_numbered(pa, "a", "after", 1, 3, pa_cseq);
  publish_numbered(pb, "b", "after", 1, 3, pb_cseq);
  stream_check ca{.who = "subscriber on a"}, cb{.who = "subscriber on b"};
  for (auto& m : take_messages(sa, 6)) ca.feed(m);
  for (auto& m : take_messages(sb, 6)) cb.feed(m);

  // c returns on the same ports and the links come back.
  c.start();
  ASSERT_TRUE(c.await_ready());
  after_down[2] = c.run_start();
  ASSERT_TRUE(cl.await_rejoined(c, rejoin_wait, after_down));

  // Channels work with c again, both ways.
  wire_client sc{c.http_port()}, pc{c.http_port()};
  sc.hello();
  pc.hello();
  sc.subscribe("after");
  std::uint64_t pc_cseq = 0;
  publish_numbered(pa, "a", "after", 4, 4, pa_cseq);
  publish_numbered(pc, "c", "after", 1, 1, pc_cseq);
  stream_check cc{.who = "subscriber on c", .last_n = {{"a", 3}}};
  for (auto& m : take_messages(sc, 2)) cc.feed(m);
  for (auto& m : take_messages(sa, 2)) ca.feed(m);
  for (auto& m : take_messages(sb, 2)) cb.feed(m);
  EXPECT_EQ(cc.count["a"], 1u);
  EXPECT_EQ(cc.count["c"], 1u);
  EXPECT_EQ(ca.count["c"], 1u);
  EXPECT_EQ(cb.count["c"], 1u);
}

TEST_F(Cluster, FrozenPeerIsDetectedWithinPeerTimeout) {
  auto& cl = make({"a", "b"});
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");

  auto mark_a = a.mark();
  auto frozen_at = clock::now();
  b.freeze();
  auto down = a.await_peer_down("b", detection_wait, mark_a);
  auto waited = clock::now() - frozen_at;
  if (!down) b.thaw();
  ASSERT_TRUE(down) << "a did not report the frozen b down within " << ms_text(waited);
  EXPECT_LE(down->at - frozen_at, peer_timeout + detection_slack)
      << "a took " << ms_text(down->at - frozen_at) << ": " << down->line;
  std::cerr << "[frozen] a reported b down after " << ms_text(down->at - frozen_at) << "\n";

  // a serves on its own meanwhile: a subscribe does not wait for the frozen b.
  wire_client sa{a.http_port()}, pa{a.http_port()};
  sa.hello();
  pa.hello();
  sa.subscribe("frozen");
  pa.publish("frozen", numbered("a", 1), 1);
  take_messages(sa, 1);

  b.thaw();
  // a declared b down, so it must take b back. b may never have seen a go
  // (it was frozen while a gave up on it, and a's new link reached it as it
  // woke): whether b logs a peer down and up again depends on that race, so
  // what is awaited on b is what a member does, messages both ways.
  EXPECT_TRUE(a.await_peer_up("b", rejoin_wait, down->end)) << "a: b did not rejoin";

  // `subscribed` comes once every member has acknowledged the interest, so
  // the publishes below find it wherever they are made.
  wire_client sb{b.http_port()}, pb{b.http_port()};
  sb.hello();
  pb.hello();
  sb.subscribe("frozen");
  pa.publish("frozen", numbered("a", 2), 2);
  auto m = take_messages(sb, 1);
  if (!m.empty()) {
    EXPECT_EQ(m[0]["data"].as_object()["n"].to_number<int>(), 2);
  }
  pb.publish("frozen", numbered("b", 1), 1);
  auto m2 = take_messages(sa, 2);
  std::multiset<std::string> seen;
  for (auto& msg : m2) {
    auto& data = msg["data"].as_object();
    seen.insert(str(data, "p") + std::to_string(data["n"].to_number<int>()));
  }
  EXPECT_EQ(seen, (std::multiset<std::string>{"a2", "b1"}));
}

// A node frozen past peer_timeout while another publishes (docs/cluster.md,
// "A lost link"): the publisher's node keeps what the frozen one wanted, and
// when it joins again sends what it did not receive before anything live.
// Its subscriber gets every message once, in order, with no gap in seq.
TEST_F(Cluster, AFrozenPeersSubscribersGetWhatWasPublishedWhileItWasAway) {
  auto& cl = make({"a", "b"});
  // The resend between nodes on its own: with replicas, a node away for
  // 2 x peer_timeout would also have its sessions adopted across the cut
  // (cluster_replica_test.cpp), which a loaded machine can reach.
  for (auto& n : cl.nodes()) n->settings().replicas = 0;
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");
  wire_client sb{b.http_port()}, pa{a.http_port()};
  sb.hello();
  pa.hello();
  sb.subscribe("away");
  std::uint64_t cseq = 0;
  publish_numbered(pa, "a", "away", 1, 3, cseq);
  stream_check check{.who = "subscriber on b"};
  for (auto& m : take_messages(sb, 3)) check.feed(m);

  auto mark_a = a.mark();
  b.freeze();
  auto down = a.await_peer_down("b", detection_wait, mark_a);
  if (!down) b.thaw();
  ASSERT_TRUE(down) << "a did not report the frozen b down";
  publish_numbered(pa, "a", "away", 4, 20, cseq);  // b is away: nothing goes to it
  b.thaw();
  ASSERT_TRUE(a.await_peer_up("b", rejoin_wait, down->end)) << "a: b did not rejoin";
  publish_numbered(pa, "a", "away", 21, 21, cseq);
  for (auto& m : take_messages(sb, 18)) check.feed(m);
  EXPECT_EQ(check.count["a"], 21u);
  EXPECT_EQ(check.last_n["a"], 21);
  expect_quiet(sb, "subscriber on b");
  auto resent = a.lines([](const std::string& l) {
    return l.find("resent to a returning peer") != std::string::npos;
  });
  ASSERT_FALSE(resent.empty()) << "a did not log what it sent b again";
  EXPECT_NE(resent[0].find("messages=17"), std::string::npos) << resent[0];
}

// [cluster] ready_min_peers: /readyz answers 503 while fewer peers are up,
// naming how many are, and 200 once enough are.
TEST_F(Cluster, ReadyzWaitsForReadyMinPeers) {
  auto& cl = make({"a", "b"});
  auto& a = cl.node("a");
  auto& b = cl.node("b");
  a.settings().ready_min_peers = 1;
  a.start();
  ASSERT_TRUE(a.await_ready());
  auto readyz = [&a] { return http_send(a.http_port(), http_call{.target = "/readyz"}); };
  auto alone = readyz();
  EXPECT_EQ(alone.status, 503);
  auto body = json::parse(alone.body).as_object();
  EXPECT_EQ(body.at("peers"), 0);
  EXPECT_EQ(body.at("ready_min_peers"), 1);

  auto mark_a = a.mark();
  b.start();
  ASSERT_TRUE(b.await_ready());
  ASSERT_TRUE(a.await_peer_up("b", rejoin_wait, mark_a));
  EXPECT_EQ(readyz().status, 200);
  auto metrics = [&a] {
    return parse_prom_text(http_send(a.http_port(), http_call{.target = "/metrics"}).body);
  };
  EXPECT_EQ(metrics().count("wsvisor_cluster_peers"), 1);
  // b itself has no minimum.
  EXPECT_EQ(http_send(b.http_port(), http_call{.target = "/readyz"}).status, 200);

  mark_a = a.mark();
  b.kill9();
  ASSERT_TRUE(a.await_peer_down("b", detection_wait, mark_a));
  EXPECT_EQ(readyz().status, 503);
  auto after = metrics();
  EXPECT_EQ(after.count("wsvisor_cluster_peers"), 0);
  EXPECT_EQ(after.count("wsvisor_cluster_peers_lost_total"), 1);
}

TEST_F(Cluster, AFailingPeerLinkLogsItsRetriesOncePerRepeatIntervalWithTheCount) {
  // A peer address nobody listens on: the link fails at once and is retried
  // every few milliseconds, without end. Each retry is an exit, a restart
  // and a start of the link; one retry's lines are logged per interval.
  std::string dead;
  auto& a = alone_with_a_dead_peer(dead, 5ms, 10ms);
  a.settings().extra_toml = "[log]\nrepeat_interval = \"300ms\"\n";
  auto start = clock::now();  // the link fails from the node's start
  a.start();
  ASSERT_TRUE(a.await_ready());
  // The first failure after a window is logged with the count held in it.
  auto counted = [&dead](const std::string& text) {
    auto l = log_line::parse(text);
    return l && l->message.starts_with("child exited") && l->field("child") == dead &&
           !l->field("suppressed").empty() && l->field("interval") == "300ms";
  };
  auto hit = a.await_line(counted, 15s);
  ASSERT_TRUE(hit) << "no retry logged with a count";
  EXPECT_NE(hit->line.find("suppressed in 300ms)"), std::string::npos) << hit->line;
  EXPECT_EQ(a.terminate(), 0);
  auto elapsed = clock::now() - start;
  // At most one retry's lines per window, and one line at the end counting
  // those held back since (it has the restart count; a retry's exit has not).
  auto bound = static_cast<std::size_t>(elapsed / 300ms) + 2;
  auto exits = a.lines(log_event("child exited", {{"child", dead}}));
  std::uint64_t logged = 0, held = 0;
  for (auto& text : exits) {
    auto l = log_line::parse(text);
    ASSERT_TRUE(l) << text;
    if (l->field("restarts").empty()) ++logged;
    if (auto n = l->field("suppressed"); !n.empty()) held += std::stoull(n);
  }
  EXPECT_LE(exits.size(), bound) << a.tail(40);
  EXPECT_LE(a.lines(log_event("restart", {{"child", dead}})).size(), 2 * bound)
      << "`restart` and `child restarted` lines: " << a.tail(40);
  EXPECT_GT(held, 2 * logged) << "retries held back vs logged: " << a.tail(40);
}

}  // namespace
}  // namespace wsvisor::test::cluster_scenarios
