// A cluster operators can see (docs/cluster.md, docs/api.md, docs/metrics.md):
// real wsvisor processes on loopback, observed through their admin API,
// their /metrics and their logs. A peer that leaves on purpose is told apart
// from one that is lost; the peer links are in the supervision tree; GET
// /api/cluster lists the members; ?scope=cluster merges every live node's
// sessions and channels and names the nodes that did not answer.

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/integration/cluster_fixture.hpp"
#include "tests/integration/wire_client.hpp"
#include "tests/support/cluster_nodes.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/prometheus_text.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr ms detection_wait{5000};  // peer_timeout 1 s, an ASan build, two busy cores
constexpr ms rejoin_wait{15'000};   // restart (ASan start-up) + backoff up to 1 s

json::object get_json(cluster_node& n, const std::string& target) {
  auto reply = http_send(n.http_port(), http_call{.target = target});
  EXPECT_EQ(reply.status, 200) << target << ": " << reply.body;
  auto parsed = json::parse(reply.body);
  return parsed.is_object() ? parsed.as_object() : json::object{};
}

prom_text scrape(cluster_node& n) {
  return parse_prom_text(http_send(n.http_port(), http_call{.target = "/metrics"}).body);
}

std::string text(const json::value& v) {
  return v.is_string() ? std::string{v.as_string()} : std::string{};
}

// GET /api/cluster's member named `node` (an empty object if absent).
json::object member(const json::object& view, const std::string& node) {
  for (auto& m : view.at("members").as_array())
    if (text(m.as_object().at("node")) == node) return m.as_object();
  return {};
}

TEST_F(Cluster, APeerThatDrainsIsLoggedAsLeftAndCountedApartFromALoss) {
  auto& cl = make({"a", "b"});
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");
  EXPECT_EQ(scrape(a).value("wsvisor_cluster_peer_up", {{"peer", "b"}}), 1.0);

  auto mark = a.mark();
  b.send_sigterm();
  auto left = a.await_line(log_event("peer left", {{"peer", "b"}}), detection_wait, mark);
  ASSERT_TRUE(left) << "a did not log b's leave";
  auto parsed = log_line::parse(left->line);
  ASSERT_TRUE(parsed) << left->line;
  EXPECT_EQ(parsed->level, "info") << left->line;
  ASSERT_TRUE(b.wait_exit(30s));
  EXPECT_TRUE(a.lines(log_event("peer down", {{"peer", "b"}}), mark).empty());
  auto after_leave = scrape(a);
  EXPECT_EQ(after_leave.count("wsvisor_cluster_peers_left_total"), 1);
  EXPECT_EQ(after_leave.count("wsvisor_cluster_peers_lost_total"), 0);
  EXPECT_FALSE(after_leave.value("wsvisor_cluster_peer_up", {{"peer", "b"}}))
      << "a peer that left keeps no series";
  EXPECT_EQ(text(member(get_json(a, "/api/cluster"), "b").at("state")), "left");

  // b comes back, then is lost.
  mark = a.mark();
  b.start();
  ASSERT_TRUE(b.await_ready());
  ASSERT_TRUE(a.await_peer_up("b", rejoin_wait, mark));
  EXPECT_EQ(scrape(a).value("wsvisor_cluster_peer_up", {{"peer", "b"}}), 1.0);
  mark = a.mark();
  b.kill9();
  ASSERT_TRUE(a.await_peer_down("b", detection_wait, mark));
  auto after_loss = scrape(a);
  EXPECT_EQ(after_loss.value("wsvisor_cluster_peer_up", {{"peer", "b"}}), 0.0);
  EXPECT_EQ(after_loss.count("wsvisor_cluster_peers_lost_total"), 1);
  EXPECT_EQ(after_loss.count("wsvisor_cluster_peers_left_total"), 1);
  EXPECT_EQ(text(member(get_json(a, "/api/cluster"), "b").at("state")), "down");
}

TEST_F(Cluster, TheSupervisionTreeShowsThePeerLinksWithTheirRestarts) {
  std::string dead;
  auto& a = alone_with_a_dead_peer(dead, 50ms, 100ms);
  a.start();
  ASSERT_TRUE(a.await_ready());
  // The link's restarts, as the tree shows them under the cluster actor.
  auto link = [&]() -> json::object {
    auto tree = get_json(a, "/api/supervision");
    for (auto& c : tree.at("supervisor").at("children").as_array()) {
      auto& child = c.as_object();
      if (text(child.at("name")) != "cluster" || !child.at("supervisor").is_object()) continue;
      auto& links = child.at("supervisor").as_object();
      EXPECT_EQ(text(links.at("name")), "cluster_links");
      for (auto& l : links.at("children").as_array())
        if (text(l.as_object().at("name")) == dead) return l.as_object();
    }
    return {};
  };
  ASSERT_TRUE(eventually(
      [&] {
        auto l = link();
        return !l.empty() && l.at("restarts").to_number<std::int64_t>() >= 3;
      },
      20s))
      << json::serialize(get_json(a, "/api/supervision"));
  auto l = link();
  EXPECT_FALSE(text(l.at("last_exit_reason")).empty()) << json::serialize(l);
  EXPECT_EQ(text(l.at("policy")), "cluster");

  // Never joined: GET /api/cluster shows the address as connecting.
  auto view = get_json(a, "/api/cluster");
  EXPECT_EQ(text(view.at("node")), "a");
  EXPECT_EQ(view.at("enabled"), true);
  EXPECT_EQ(text(view.at("address")), a.cluster_address());
  auto& members = view.at("members").as_array();
  ASSERT_EQ(members.size(), 1u) << json::serialize(view);
  auto& m = members[0].as_object();
  EXPECT_TRUE(m.at("node").is_null());
  EXPECT_EQ(text(m.at("address")), dead);
  EXPECT_EQ(text(m.at("state")), "connecting");
}

TEST_F(Cluster, ApiClusterNamesEachMemberWithItsAddressUrlAndState) {
  auto& cl = make({"a", "b", "c"});
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");
  auto& c = cl.node("c");
  auto view = get_json(a, "/api/cluster");
  EXPECT_EQ(text(view.at("node")), "a");
  EXPECT_EQ(text(view.at("public_url")), a.public_url());
  ASSERT_EQ(view.at("members").as_array().size(), 2u) << json::serialize(view);
  for (auto* n : {&b, &c}) {
    auto m = member(view, n->name());
    ASSERT_FALSE(m.empty()) << n->name() << " missing: " << json::serialize(view);
    EXPECT_EQ(text(m.at("address")), n->cluster_address());
    EXPECT_EQ(text(m.at("public_url")), n->public_url());
    EXPECT_EQ(text(m.at("state")), "up");
    EXPECT_GT(m.at("since_ms").to_number<std::int64_t>(), 0);
    EXPECT_GE(m.at("last_seen_ms").to_number<std::int64_t>(),
              m.at("since_ms").to_number<std::int64_t>());
  }
  auto mark = a.mark();
  c.kill9();
  ASSERT_TRUE(a.await_peer_down("c", detection_wait, mark));
  auto down = member(get_json(a, "/api/cluster"), "c");
  EXPECT_EQ(text(down.at("state")), "down");
  EXPECT_EQ(text(down.at("address")), c.cluster_address());
  EXPECT_GT(down.at("last_seen_ms").to_number<std::int64_t>(), 0);
}

TEST_F(Cluster, ScopeClusterMergesEveryLiveNodesSessionsAndChannelsAndNamesTheMissing) {
  auto& cl = make({"a", "b", "c"});
  ASSERT_TRUE(cl.start());
  auto& a = cl.node("a");
  auto& b = cl.node("b");
  auto& c = cl.node("c");
  std::vector<std::unique_ptr<wire_client>> clients;
  std::set<std::string> ids;
  auto open = [&](cluster_node& n, int count) {
    for (int i = 0; i < count; ++i) {
      clients.push_back(std::make_unique<wire_client>(n.http_port()));
      ids.insert(text(clients.back()->hello().at("session")));
      clients.back()->subscribe("shared");
    }
  };
  open(a, 2);
  open(b, 3);
  open(c, 1);
  // A session of a's, resumed through b: a holds it, b holds its connection.
  wire_client moved{a.http_port()};
  auto w = moved.hello();
  auto moved_id = text(w.at("session"));
  ids.insert(moved_id);
  moved.socket().drop();
  wire_client via_b{b.http_port()};
  ASSERT_EQ(via_b.resume(moved_id, text(w.at("token")), 0).at("resumed"), true);

  // Paged two at a time from a: every session once, each naming its node.
  std::set<std::string> seen;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    auto target = "/api/sessions?scope=cluster&limit=2" + (after.empty() ? "" : "&after=" + after);
    auto body = get_json(a, target);
    EXPECT_EQ(text(body.at("scope")), "cluster");
    EXPECT_EQ(body.at("answered").as_array().size(), 3u) << json::serialize(body);
    EXPECT_TRUE(body.at("missing").as_array().empty()) << json::serialize(body);
    auto& sessions = body.at("sessions").as_array();
    EXPECT_LE(sessions.size(), 2u);
    for (auto& s : sessions) {
      auto& row = s.as_object();
      auto id = text(row.at("id"));
      EXPECT_TRUE(seen.insert(id).second) << id << " twice";
      EXPECT_EQ(id.substr(0, 2), text(row.at("node")) + ".") << json::serialize(row);
      if (id == moved_id) {
        EXPECT_EQ(text(row.at("node")), "a");
        EXPECT_EQ(text(row.at("connection_node")), "b") << json::serialize(row);
      } else if (text(row.at("state")) == "attached") {
        EXPECT_EQ(text(row.at("connection_node")), text(row.at("node"))) << json::serialize(row);
      }
    }
    if (body.at("next").is_null()) break;
    after = text(body.at("next"));
  }
  EXPECT_EQ(seen, ids);

  auto channels = get_json(b, "/api/channels?scope=cluster");
  std::map<std::string, std::int64_t> shared;
  for (auto& r : channels.at("channels").as_array())
    if (text(r.as_object().at("name")) == "shared")
      shared[text(r.as_object().at("node"))] =
          r.as_object().at("subscribers").to_number<std::int64_t>();
  // The moved session's subscription is on a, its home.
  EXPECT_EQ(shared, (std::map<std::string, std::int64_t>{{"a", 2}, {"b", 3}, {"c", 1}}))
      << json::serialize(channels);

  // c frozen: a still answers with what a and b hold, and names c.
  c.freeze();
  auto partial = get_json(a, "/api/sessions?scope=cluster");
  c.thaw();
  EXPECT_EQ(partial.at("answered").as_array().size(), 2u) << json::serialize(partial);
  auto& missing = partial.at("missing").as_array();
  ASSERT_EQ(missing.size(), 1u) << json::serialize(partial);
  EXPECT_EQ(text(missing[0].as_object().at("node")), "c");
  EXPECT_FALSE(text(missing[0].as_object().at("error")).empty());
  for (auto& s : partial.at("sessions").as_array()) EXPECT_NE(text(s.as_object().at("node")), "c");
}

}  // namespace
}  // namespace wsvisor::test
