// Soak between nodes (issue 20): two real nodes whose only link goes through
// the chaos proxy, which resets it at seeded random moments, 0.3 to 1.5 s
// apart, while a publisher on each node publishes on a channel a subscriber
// on each node holds. Every reset is a peer lost on both sides, then a
// rejoin (docs/cluster.md, "A lost link"). Asserted once the cutting stops:
// each subscriber gets every message of both publishers exactly once, each
// publisher's in order, with consecutive seq; and the nodes logged that they
// sent lost messages again.
//
// Length: a third of WSVISOR_SOAK_SECONDS (default 30, so 10 s of cuts).

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>

#include "tests/integration/cluster_scenarios.hpp"
#include "tools/chaos-proxy/chaos_proxy.hpp"

namespace wsvisor::test::cluster_scenarios {
namespace {

ms cutting_time() {
  const char* text = std::getenv("WSVISOR_SOAK_SECONDS");
  auto seconds = text ? std::max(3L, std::strtol(text, nullptr, 10)) : 30L;
  return ms{seconds * 1000 / 3};
}

TEST_F(Cluster, SoakALinkCutOverAndOverLosesNothingBetweenNodes) {
  auto& cl = make({"a", "b"});
  // The resend between nodes on its own: with replicas, a node away for
  // 2 x peer_timeout would also have its sessions adopted across the cut
  // (cluster_replica_test.cpp), which a loaded machine can reach.
  for (auto& n : cl.nodes()) n->settings().replicas = 0;
  auto& a = cl.node("a");
  auto& b = cl.node("b");
  chaos::chaos_proxy proxy{a.cluster_port()};
  link_through(proxy, a, b);
  b.settings().backoff_min = ms{50};
  b.settings().backoff_max = ms{300};
  ASSERT_TRUE(cl.start());

  wire_client sa{a.http_port()}, sb{b.http_port()}, pa{a.http_port()}, pb{b.http_port()};
  for (auto* c : {&sa, &sb, &pa, &pb}) c->hello();
  sa.subscribe("soak");
  sb.subscribe("soak");

  proxy.cut_randomly(ms{300}, ms{1500}, 20261207);
  std::uint64_t pa_cseq = 0, pb_cseq = 0;
  std::int64_t n = 0;
  auto until = clock::now() + cutting_time();
  stream_check ca{.who = "subscriber on a"}, cb{.who = "subscriber on b"};
  auto read_some = [](wire_client& c, stream_check& check) {
    while (auto f = c.next(ms{1})) {
      ASSERT_EQ(str(*f, "type"), "message") << json::serialize(*f);
      check.feed(*f);
    }
  };
  while (clock::now() < until) {
    publish_numbered(pa, "a", "soak", n + 1, n + 10, pa_cseq);
    publish_numbered(pb, "b", "soak", n + 1, n + 10, pb_cseq);
    n += 10;
    read_some(sa, ca);
    read_some(sb, cb);
    std::this_thread::sleep_for(ms{50});  // pacing the publishers, not waiting for an event
  }
  proxy.stop_cutting();
  auto cuts = proxy.stats().cuts;
  std::cerr << "[soak] " << n << " messages from each publisher, " << cuts << " link cuts\n";
  ASSERT_GE(cuts, 3u) << "the link was hardly cut";

  // Everything arrives once the link stays up: what the cuts lost is sent again.
  auto deadline = clock::now() + rejoin_wait;
  auto done = [&](stream_check& check) { return check.last_n["a"] == n && check.last_n["b"] == n; };
  for (auto [c, check] : {std::pair{&sa, &ca}, std::pair{&sb, &cb}}) {
    while (!done(*check) && clock::now() < deadline) {
      auto f = c->next(std::chrono::duration_cast<ms>(deadline - clock::now()));
      if (!f) break;
      ASSERT_EQ(str(*f, "type"), "message") << json::serialize(*f);
      check->feed(*f);
    }
  }
  for (auto* check : {&ca, &cb}) {
    EXPECT_EQ(check->count["a"], static_cast<std::size_t>(n)) << check->who;
    EXPECT_EQ(check->count["b"], static_cast<std::size_t>(n)) << check->who;
  }
  expect_quiet(sa, "subscriber on a");
  expect_quiet(sb, "subscriber on b");
  auto resent = [](const std::string& l) {
    return l.find("resent to a returning peer") != std::string::npos;
  };
  std::cerr << "[soak] resends logged: a " << a.lines(resent).size() << ", b "
            << b.lines(resent).size() << "\n";
}

}  // namespace
}  // namespace wsvisor::test::cluster_scenarios
