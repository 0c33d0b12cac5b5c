// A cluster of real wsvisor processes on loopback (tests/support/cluster_nodes),
// observed through wsvisor.v1 clients and the nodes' logs: resume on another
// node, channels across nodes, node loss (kill -9, SIGSTOP), a healed
// partition, a graceful drain (SIGTERM) and a rolling restart.
//
// Every wait has a deadline; on failure the nodes' last log lines are printed
// and their full logs written to $TMPDIR/wsvisor-cluster-logs/TEST/NODE.log.

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/integration/cluster_fixture.hpp"
#include "tests/integration/wire_client.hpp"
#include "tests/support/cluster_nodes.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/json_fields.hpp"
#include "tests/support/prometheus_text.hpp"
#include "tools/chaos-proxy/chaos_proxy.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using clock = std::chrono::steady_clock;

// The harness's defaults (node_settings): what the bounds below are made of.
constexpr ms peer_timeout{1000};
constexpr ms detection_slack{2000};  // scheduling, an ASan build, two busy cores
constexpr ms detection_wait{5000};   // how long a test waits for `peer down` at all
constexpr ms rejoin_wait{15'000};    // restart (ASan start-up) + backoff up to 1 s

std::uint64_t num(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_number()) return ~std::uint64_t{0};
  return v->to_number<std::uint64_t>();
}

bool is_true(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

// `home.<32 hex digits>`: a session homed on node `home`.
bool homed_on(const std::string& session, const std::string& home) {
  if (session.size() != home.size() + 1 + 32 ||
      session.compare(0, home.size() + 1, home + ".") != 0)
    return false;
  for (auto c : session.substr(home.size() + 1))
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

json::object numbered(const std::string& publisher, std::int64_t n) {
  return {{"p", publisher}, {"n", n}};
}

std::string ms_text(clock::duration d) {
  return std::to_string(std::chrono::duration_cast<ms>(d).count()) + " ms";
}

// Receives `count` message frames (anything else fails the test), in order.
std::vector<json::object> take_messages(wire_client& c, std::size_t count, ms timeout = 10s) {
  std::vector<json::object> out;
  auto deadline = clock::now() + timeout;
  while (out.size() < count) {
    auto left = std::chrono::duration_cast<ms>(deadline - clock::now());
    if (left <= ms{0}) break;
    auto f = c.next(left);
    if (!f) break;
    if (str(*f, "type") != "message") {
      ADD_FAILURE() << "expected a message, got " << json::serialize(*f);
      continue;
    }
    out.push_back(std::move(*f));
  }
  EXPECT_EQ(out.size(), count) << "messages received before the deadline";
  return out;
}

// Nothing more arrives within `quiet`: no late duplicate.
void expect_quiet(wire_client& c, const std::string& who, ms quiet = 150ms) {
  auto f = c.next(quiet);
  EXPECT_FALSE(f) << who << " received more than expected: " << json::serialize(*f);
}

// Publishes `numbers` in a pipeline (all sent, then every ack awaited).
void publish_numbered(wire_client& pub, const std::string& name, const std::string& channel,
                      std::int64_t first, std::int64_t last, std::uint64_t& cseq) {
  auto first_cseq = cseq + 1;
  for (auto n = first; n <= last; ++n)
    pub.send(
        {{"type", "publish"}, {"channel", channel}, {"data", numbered(name, n)}, {"cseq", ++cseq}});
  for (auto c = first_cseq; c <= cseq; ++c) {
    auto ack = pub.expect("ack");
    EXPECT_EQ(num(ack, "cseq"), c) << json::serialize(ack);
  }
}

// One subscriber's view of a channel fed by numbered publishers: seq +1 each
// from `first_seq`, and per publisher n +1 each.
struct stream_check {
  std::string who;
  std::uint64_t next_seq = 1;
  std::map<std::string, std::int64_t> last_n;
  std::map<std::string, std::size_t> count;

  void feed(const json::object& m) {
    EXPECT_EQ(num(m, "seq"), next_seq) << who << ": " << json::serialize(m);
    next_seq = num(m, "seq") + 1;
    const auto* data = m.if_contains("data");
    if (!data || !data->is_object()) {
      ADD_FAILURE() << who << ": message without object data: " << json::serialize(m);
      return;
    }
    auto p = str(data->as_object(), "p");
    auto n = data->as_object().at("n").to_number<std::int64_t>();
    auto& last = last_n[p];
    EXPECT_EQ(n, last + 1) << who << ": publisher " << p << " out of order or duplicated";
    last = n;
    ++count[p];
  }
};

// ---------------------------------------------------------------------------

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

TEST_F(Cluster, SessionHomedOnADeadNodeIsUnknownElsewhere) {
  auto& cl = make({"a", "b"});
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

TEST_F(Cluster, HealedPartitionDeliversWithoutDuplicates) {
  auto& cl = make({"a", "b"});
  auto& a = cl.node("a");
  auto& b = cl.node("b");
  // b reaches a only through the proxy; a knows no address of b's.
  chaos::chaos_proxy proxy{a.cluster_port()};
  a.settings().peers.clear();
  b.settings().peers = {"127.0.0.1:" + std::to_string(proxy.port())};
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
  // Cross-node messages of the partition (11..15) may be lost or arrive late,
  // but never twice and never out of order; everything after healing arrives.
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
      // A gap is allowed only from the other side and only over 11..15.
      bool partition_gap = p == other && n > last + 1 && last >= 10 && n <= 16;
      EXPECT_TRUE(n == last + 1 || partition_gap)
          << check.who << ": publisher " << p << " sent " << n << " after " << last
          << (n <= last ? " (duplicate or reordered)" : " (lost after healing)");
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
  std::cerr << "[heal] of the 5 cross-node messages published during the partition, a's "
            << "subscriber got " << static_cast<long>(ca.count["b"]) - 25 << ", b's got "
            << static_cast<long>(cb.count["a"]) - 25 << "\n";
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

// --- rolling restart --------------------------------------------------------

// Scale here. Each client publishes to its successor's inbox (on another
// node: client i starts on node i % 3) and receives its predecessor's.
constexpr std::size_t rolling_clients = 300;
constexpr std::size_t driver_threads = 4;
constexpr ms publish_interval{400};  // per client
constexpr std::uint64_t max_in_flight = 8;
constexpr std::uint64_t ack_every = 8;
constexpr ms close_after_goaway_wait{10'000};

// Progress shared by the driver threads and the test thread.
struct rolling_progress {
  std::mutex mutex;
  std::condition_variable cv;
  std::atomic<std::uint64_t> messages{0};
  std::atomic<std::size_t> not_live{0};  // connected, draining or reconnecting
  std::atomic<bool> publishing{false};
  std::atomic<bool> stop{false};
  std::vector<std::atomic<bool>> node_up;
  explicit rolling_progress(std::size_t nodes) : node_up(nodes) {
    for (auto& u : node_up) u = true;
  }
  void changed() { cv.notify_all(); }
  template <class Pred>
  bool await(Pred pred, ms timeout) {
    std::unique_lock lock{mutex};
    return cv.wait_for(lock, timeout, pred);
  }
};

struct roller {
  enum class state { live, draining, waiting, failed };

  std::size_t index = 0;
  std::size_t clients = 0;
  std::vector<std::uint16_t> node_ports;
  std::unique_ptr<wire_client> ws;
  state st = state::live;
  std::uint16_t port = 0;
  std::string session, token, original_session;
  std::uint64_t last_seq = 0, acked_seq = 0;
  std::uint64_t next_cseq = 1;
  std::uint64_t expect_n = 1;
  clock::time_point next_publish;
  std::uint16_t goaway_port = 0;
  clock::time_point retry_at;      // draining: goaway's retry_ms from its arrival
  clock::time_point close_by;      // draining: the server's close is due by then
  clock::time_point reconnect_at;  // waiting
  std::size_t next_fallback = 0;

  // Read by the test thread.
  std::atomic<std::uint64_t> sent{0};      // publishes made (next_cseq - 1)
  std::atomic<std::uint64_t> acked{0};     // highest acked cseq
  std::atomic<std::uint64_t> received{0};  // predecessor's messages received
  std::atomic<std::uint64_t> goaways{0}, resumes{0}, closes_without_goaway{0};
  std::atomic<bool> lost{false};  // st == failed
  std::mutex errors_mutex;
  std::vector<std::string> errors;
  std::vector<std::string> history;  // connections, goaways, resumes: for failure reports
  clock::time_point epoch;           // when the test started the clients

  void note(std::string what) {
    auto t = std::chrono::duration_cast<ms>(clock::now() - epoch).count();
    std::lock_guard lock{errors_mutex};
    history.push_back("+" + std::to_string(t) + " ms " + std::move(what));
  }

  std::string inbox() const { return "roll." + std::to_string(index); }
  std::string outbox() const { return "roll." + std::to_string((index + 1) % clients); }
  std::size_t predecessor() const { return (index + clients - 1) % clients; }

  void error(std::string e) {
    std::lock_guard lock{errors_mutex};
    errors.push_back("client " + std::to_string(index) + " (" + original_session +
                     "): " + std::move(e));
  }

  // Sends on the raw socket: a connection that the server is closing is not
  // a test failure, it is noticed on the next read.
  void send(const json::object& frame) { ws->socket().send_text(json::serialize(frame)); }

  void publish(std::uint64_t cseq) {
    send({{"type", "publish"},
          {"channel", outbox()},
          {"data", json::object{{"from", index}, {"n", cseq}}},
          {"cseq", cseq}});
  }

  bool connect_first(std::uint16_t p) {
    port = p;
    ws = std::make_unique<wire_client>(port);
    auto w = ws->hello();
    session = original_session = str(w, "session");
    token = str(w, "token");
    note("hello at port " + std::to_string(port) + ": " + session);
    if (session.empty()) return false;
    ws->subscribe(inbox());
    return true;
  }

  void handle(const json::object& f, rolling_progress& progress) {
    auto type = str(f, "type");
    if (type == "message") {
      auto seq = num(f, "seq");
      if (seq != last_seq + 1)
        error("seq " + std::to_string(seq) + " after " + std::to_string(last_seq) +
              (seq <= last_seq ? " (duplicate)" : " (gap: lost)"));
      last_seq = std::max(last_seq, seq);
      const auto& d = f.at("data").as_object();
      auto from = d.at("from").to_number<std::size_t>();
      auto n = d.at("n").to_number<std::uint64_t>();
      if (from != predecessor()) error("message from " + std::to_string(from));
      if (n != expect_n)
        error("n " + std::to_string(n) + " from " + std::to_string(from) + ", expected " +
              std::to_string(expect_n) + (n < expect_n ? " (duplicate)" : " (lost)"));
      expect_n = std::max(expect_n, n + 1);
      received = expect_n - 1;
      progress.messages.fetch_add(1, std::memory_order_relaxed);
      if (last_seq - acked_seq >= ack_every) {
        send({{"type", "ack"}, {"seq", last_seq}});
        acked_seq = last_seq;
      }
    } else if (type == "ack") {
      auto c = num(f, "cseq");
      if (c >= next_cseq) error("ack of cseq " + std::to_string(c) + " never sent");
      if (c > acked) acked = c;
    } else if (type == "goaway") {
      ++goaways;
      goaway_port = port_of_url(str(f, "url"));
      if (goaway_port == 0 || goaway_port == port)
        error("goaway without a usable url: " + json::serialize(f));
      auto retry = num(f, "retry_ms");
      if (retry == ~std::uint64_t{0}) {
        error("goaway without retry_ms: " + json::serialize(f));
        retry = 0;
      }
      note("goaway " + json::serialize(f) + " at last_seq=" + std::to_string(last_seq) +
           " sent=" + std::to_string(next_cseq - 1) + " acked=" + std::to_string(acked));
      st = state::draining;
      close_by = clock::now() + close_after_goaway_wait;
      retry_at = clock::now() + ms{retry};
    } else {
      error("unexpected frame " + json::serialize(f));
    }
  }

  std::uint16_t fallback_port(rolling_progress& progress) {
    for (std::size_t i = 0; i < node_ports.size(); ++i) {
      auto k = (next_fallback + i) % node_ports.size();
      if (progress.node_up[k] && node_ports[k] != port) {
        next_fallback = k + 1;
        return node_ports[k];
      }
    }
    return port;
  }

  void connection_ended(rolling_progress& progress) {
    const auto& ev = ws->last_event();
    note("connection ended: " + (ev.type == ws_event::kind::closed
                                     ? "close " + std::to_string(ev.close_code)
                                     : "error " + ev.text));
    if (st == state::draining) {
      if (ev.type != ws_event::kind::closed || ev.close_code != 1001)
        error("after goaway the connection ended with " +
              (ev.type == ws_event::kind::closed ? "close " + std::to_string(ev.close_code)
                                                 : "error " + ev.text) +
              ", not 1001");
      port = goaway_port ? goaway_port : fallback_port(progress);
      reconnect_at = retry_at;
    } else {
      ++closes_without_goaway;
      error("connection on port " + std::to_string(port) + " ended without goaway: " +
            (ev.type == ws_event::kind::closed ? "close " + std::to_string(ev.close_code)
                                               : "error " + ev.text));
      port = fallback_port(progress);
      reconnect_at = clock::now() + 200ms;
    }
    ws.reset();
    st = state::waiting;
  }

  void reconnect(rolling_progress& progress) {
    ws = std::make_unique<wire_client>(port);
    send({{"type", "resume"}, {"session", session}, {"token", token}, {"last_seq", last_seq}});
    auto w = ws->expect("welcome", 15s);
    if (w.empty()) {
      error("no welcome from port " + std::to_string(port));
      ws.reset();
      port = fallback_port(progress);
      reconnect_at = clock::now() + 200ms;
      return;
    }
    ++resumes;
    if (!is_true(w, "resumed") || str(w, "session") != session) {
      error("session lost on resume at port " + std::to_string(port) + ": " + json::serialize(w));
      fail(progress);
      return;
    }
    auto last_cseq = num(w, "last_cseq");
    if (last_cseq >= next_cseq)
      error("welcome last_cseq " + std::to_string(last_cseq) + " beyond the last publish " +
            std::to_string(next_cseq - 1));
    if (last_cseq > acked && last_cseq < next_cseq) acked = last_cseq;
    note("resumed at port " + std::to_string(port) + ": last_seq=" + std::to_string(last_seq) +
         " welcome.last_cseq=" + std::to_string(last_cseq) + " sent=" +
         std::to_string(next_cseq - 1) + ", resending " + std::to_string(next_cseq - 1 - acked));
    for (auto c = acked + 1; c < next_cseq; ++c) publish(c);  // resend the unacknowledged
    st = state::live;
    progress.not_live.fetch_sub(1);
    next_publish = clock::now();
  }

  void fail(rolling_progress& progress) {
    if (st != state::live) progress.not_live.fetch_sub(1);
    st = state::failed;
    lost = true;
    ws.reset();
  }

  // One round: read what is there, publish when due, reconnect when due.
  void step(rolling_progress& progress) {
    if (st == state::failed) return;
    try {
      step_unguarded(progress);
    } catch (const std::exception& e) {
      error(std::string{"malformed frame or failed step: "} + e.what());
      fail(progress);
    }
  }

  void step_unguarded(rolling_progress& progress) {
    auto now = clock::now();
    if (st == state::waiting) {
      if (now >= reconnect_at) reconnect(progress);
      return;
    }
    if (st == state::failed) return;
    for (int i = 0; i < 64; ++i) {
      auto f = ws->next(ms{1});
      if (!f) {
        if (ws->last_event().type == ws_event::kind::timeout) break;
        if (st == state::live) progress.not_live.fetch_add(1);
        connection_ended(progress);
        return;
      }
      auto was = st;
      handle(*f, progress);
      if (was == state::live && st == state::draining) progress.not_live.fetch_add(1);
    }
    if (st == state::draining && clock::now() > close_by) {
      error("no close within " + std::to_string(close_after_goaway_wait.count()) + " ms of goaway");
      ws->socket().drop();
      connection_ended(progress);
      return;
    }
    if (st == state::live && progress.publishing && clock::now() >= next_publish &&
        next_cseq - 1 - acked < max_in_flight) {
      publish(next_cseq++);
      sent = next_cseq - 1;
      next_publish = clock::now() + publish_interval;
    }
  }
};

// Errors grouped by kind: the text after "client N (session): " with every
// run of digits as #; a count and the first example of each.
std::string errors_by_kind(const std::vector<std::string>& errors) {
  std::map<std::string, std::pair<std::size_t, std::string>> kinds;
  for (const auto& e : errors) {
    auto at = e.find("): ");
    auto text = at == std::string::npos ? e : e.substr(at + 3);
    std::string kind;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
        kind += text[i];
        continue;
      }
      kind += '#';
      while (i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1]))) ++i;
    }
    auto& k = kinds[kind];
    if (k.first++ == 0) k.second = e;
  }
  std::string out;
  for (const auto& [kind, k] : kinds)
    out += "  " + std::to_string(k.first) + " x " + kind + "\n    e.g. " + k.second + "\n";
  return out;
}

TEST_F(Cluster, RollingRestartOfThreeNodesLosesNothing) {
  auto& cl = make({"a", "b", "c"});
  ASSERT_TRUE(cl.start());
  std::vector<std::uint16_t> ports;
  for (auto& n : cl.nodes()) ports.push_back(n->http_port());

  rolling_progress progress{cl.size()};
  auto test_began = clock::now();
  std::vector<std::unique_ptr<roller>> clients;
  std::mt19937_64 rng{20260611};
  for (std::size_t i = 0; i < rolling_clients; ++i) {
    auto r = std::make_unique<roller>();
    r->index = i;
    r->clients = rolling_clients;
    r->node_ports = ports;
    r->next_publish = clock::now() + ms{rng() % publish_interval.count()};  // staggered
    r->epoch = test_began;
    clients.push_back(std::move(r));
  }

  // Connect everyone (in parallel, as the drivers will run them).
  std::atomic<std::size_t> connected{0};
  std::vector<std::thread> drivers;
  for (std::size_t t = 0; t < driver_threads; ++t) {
    drivers.emplace_back([&, t] {
      for (std::size_t i = t; i < clients.size(); i += driver_threads) {
        if (clients[i]->connect_first(ports[i % ports.size()])) {
          ++connected;
        } else {
          clients[i]->st = roller::state::failed;
          clients[i]->lost = true;
        }
        progress.changed();
      }
      while (!progress.stop) {
        for (std::size_t i = t; i < clients.size(); i += driver_threads) clients[i]->step(progress);
        progress.changed();
      }
    });
  }
  auto stop_drivers = [&] {
    progress.stop = true;
    for (auto& d : drivers)
      if (d.joinable()) d.join();
  };
  struct joiner {
    std::function<void()> f;
    ~joiner() { f(); }
  } join_on_exit{stop_drivers};

  ASSERT_TRUE(progress.await([&] { return connected == rolling_clients; }, 60s))
      << connected << " of " << rolling_clients << " clients connected";
  auto start_traffic = clock::now();
  progress.publishing = true;

  auto traffic_flows = [&](const char* when) {
    auto base = progress.messages.load();
    EXPECT_TRUE(
        progress.await([&] { return progress.messages >= base + 2 * rolling_clients; }, 10s))
        << "traffic stalled " << when << ": " << progress.messages - base << " messages";
  };
  traffic_flows("at the start");

  for (std::size_t k = 0; k < cl.size(); ++k) {
    auto& n = cl[k];
    SCOPED_TRACE("draining node " + n.name());
    auto marks = cl.marks();
    progress.node_up[k] = false;
    auto began = clock::now();
    auto status = n.terminate(30s);
    ASSERT_TRUE(status) << "node " << n.name() << " did not exit within 30 s of SIGTERM";
    // A node that fails its drain (crashes, say) has taken its sessions with
    // it: what follows would only repeat that, so stop here.
    ASSERT_EQ(*status, 0) << "node " << n.name() << " exit status after SIGTERM";
    std::cerr << "[rolling] " << n.name() << " drained in " << ms_text(clock::now() - began)
              << "\n";
    // Everyone it carried was sent elsewhere and is live again there.
    EXPECT_TRUE(progress.await([&] { return progress.not_live == 0; }, 30s))
        << progress.not_live << " clients not live again after " << n.name() << " drained";
    traffic_flows(("with " + n.name() + " down").c_str());

    n.start();
    ASSERT_TRUE(n.await_ready());
    marks[k] = n.run_start();
    ASSERT_TRUE(cl.await_rejoined(n, rejoin_wait, marks));
    progress.node_up[k] = true;
    traffic_flows(("after " + n.name() + " restarted").c_str());
  }

  // Quiesce: stop publishing; every publish acked and delivered.
  progress.publishing = false;
  auto quiet = [&] {
    for (auto& r : clients) {
      if (r->lost) continue;
      if (r->acked != r->sent) return false;
      if (r->received != clients[r->predecessor()]->sent) return false;
    }
    return progress.not_live == 0;
  };
  EXPECT_TRUE(progress.await(quiet, 30s)) << "traffic did not settle";
  stop_drivers();
  std::cerr << "[rolling] traffic ran " << ms_text(clock::now() - start_traffic) << "\n";

  std::uint64_t total_sent = 0, total_received = 0, goaways = 0, resumes = 0;
  std::size_t without_goaway = 0, lost_sessions = 0, unacked = 0, undelivered = 0, never_moved = 0;
  std::vector<std::string> errors;
  for (auto& r : clients) {
    total_sent += r->sent;
    total_received += r->received;
    goaways += r->goaways;
    resumes += r->resumes;
    without_goaway += r->closes_without_goaway;
    if (r->lost) ++lost_sessions;
    if (r->acked != r->sent) ++unacked;
    if (r->received != clients[r->predecessor()]->sent) ++undelivered;
    if (r->goaways == 0) ++never_moved;
    errors.insert(errors.end(), r->errors.begin(), r->errors.end());
  }
  for (auto& n : cl.nodes())
    for (const auto& l : n->lines(log_event("drain")))
      std::cerr << "[rolling] " << n->name() << ": " << l << "\n";
  std::cerr << "[rolling] clients=" << rolling_clients << " published=" << total_sent
            << " received=" << total_received << " goaways=" << goaways << " resumes=" << resumes
            << " errors=" << errors.size() << "\n";
  EXPECT_EQ(lost_sessions, 0u) << "sessions lost";
  EXPECT_EQ(without_goaway, 0u) << "connections closed without goaway";
  EXPECT_EQ(unacked, 0u) << "clients with unacknowledged publishes";
  EXPECT_EQ(undelivered, 0u) << "clients missing messages";
  EXPECT_EQ(total_received, total_sent);
  EXPECT_EQ(never_moved, 0u) << "clients never sent a goaway although every node drained";
  // The story of a few clients with errors (data errors first), and of their
  // publishers.
  std::string stories;
  std::vector<roller*> told;
  auto tell = [&](roller* r) {
    if (told.size() >= 4 || std::find(told.begin(), told.end(), r) != told.end()) return;
    told.push_back(r);
    for (auto* who : {r, clients[r->predecessor()].get()}) {
      stories += "  client " + std::to_string(who->index) + " " + who->original_session +
                 " (sent=" + std::to_string(who->sent) + " acked=" + std::to_string(who->acked) +
                 " received=" + std::to_string(who->received) + "):\n";
      for (const auto& h : who->history) stories += "    " + h + "\n";
    }
  };
  for (auto& r : clients)
    for (const auto& e : r->errors)
      if (e.find("after goaway the connection ended") == std::string::npos) tell(r.get());
  for (auto& r : clients)
    if (!r->errors.empty()) tell(r.get());
  EXPECT_TRUE(errors.empty()) << errors.size() << " errors; by kind:\n"
                              << errors_by_kind(errors) << "histories:\n"
                              << stories;
}

}  // namespace
}  // namespace wsvisor::test
