// GET /metrics against a real node over real sockets (docs/metrics.md): a
// scripted scenario of sessions, publishes, a cut connection, a resume with
// replay and a rejected resume, checked as exact changes of the counters and
// gauges between two scrapes; and an upstream link's states, restarts and
// give-up; and who may scrape (the HTTP API's access rule).

#include <map>
#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/integration/node_fixture.hpp"
#include "tests/integration/wire_client.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/json_fields.hpp"
#include "tests/support/prometheus_text.hpp"
#include "tests/support/upstream_server.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using labels = std::map<std::string, std::string>;

class Metrics : public NodeTest {
 protected:
  prom_text scrape() {
    auto r = http_request(port(), "GET", "/metrics");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    auto parsed = parse_prom_text(r.body);
    EXPECT_TRUE(parsed.errors.empty()) << parsed.errors.front();
    return parsed;
  }

  double now(std::string_view name, const labels& l = {}) { return scrape().count(name, l); }
};

TEST_F(Metrics, CountersAndGaugesChangeExactlyAsAScriptedScenarioDrivesThem) {
  cfg_.session.replay_buffer = 8;
  start_node();
  auto before = scrape();
  auto delta = [&](const prom_text& after, std::string_view name, const labels& l = {}) {
    return after.count(name, l) - before.count(name, l);
  };

  wire_client sub{port()};
  auto welcome = sub.hello();
  sub.subscribe("chat");
  wire_client pub{port()};
  pub.hello();
  std::uint64_t cseq = 0;
  for (int i = 0; i < 3; ++i) pub.publish("chat", i, ++cseq);
  for (int i = 0; i < 3; ++i) sub.expect("message");

  // Cut the subscriber's connection; its session detaches and buffers.
  sub.socket().drop();
  EXPECT_TRUE(eventually([&] {
    auto s = scrape();
    return s.count("wsvisor_sessions", {{"state", "detached"}}) == 1 &&
           s.count("wsvisor_connections") == 1;
  }));
  for (int i = 3; i < 5; ++i) pub.publish("chat", i, ++cseq);

  // Resume holding seq 3: seq 4 and 5 are replayed.
  wire_client again{port()};
  auto w = again.resume(str(welcome["session"]), str(welcome["token"]), 3);
  ASSERT_EQ(w["resumed"], true);
  for (int i = 0; i < 2; ++i) again.expect("message");

  // A resume of a session that never existed: rejected, a new session starts.
  wire_client stranger{port()};
  auto rejected = stranger.resume("no-such-session", "no-such-token", 0);
  EXPECT_EQ(rejected["resumed"], false);
  EXPECT_EQ(rejected["reason"], "unknown");

  // One publish through the HTTP API (loopback listener, no token).
  auto api = http_send(
      port(),
      {.method = "POST", .target = "/api/publish", .body = R"({"channel":"chat","data":"api"})"});
  ASSERT_EQ(api.status, 200) << api.body;
  again.expect("message");

  // Six more: the subscriber acknowledges nothing, so its buffer holds seq 4
  // to 12 for a moment, one past replay_buffer = 8: one eviction.
  for (int i = 0; i < 6; ++i) pub.publish("chat", i, ++cseq);
  for (int i = 0; i < 6; ++i) again.expect("message");

  auto after = scrape();
  EXPECT_EQ(delta(after, "wsvisor_sessions_created_total"), 3);  // sub, pub, stranger
  EXPECT_EQ(delta(after, "wsvisor_sessions", {{"state", "attached"}}), 3);
  EXPECT_EQ(delta(after, "wsvisor_sessions", {{"state", "detached"}}), 0);
  EXPECT_EQ(delta(after, "wsvisor_connections"), 3);
  EXPECT_EQ(delta(after, "wsvisor_resumes_total", {{"result", "resumed"}, {"reason", ""}}), 1);
  EXPECT_EQ(delta(after, "wsvisor_resumes_total", {{"result", "rejected"}, {"reason", "unknown"}}),
            1);
  EXPECT_EQ(delta(after, "wsvisor_resumes_total", {{"result", "rejected"}, {"reason", "expired"}}),
            0);
  EXPECT_EQ(delta(after, "wsvisor_replayed_messages_total"), 2);
  EXPECT_EQ(delta(after, "wsvisor_replay_buffer_evictions_total"), 1);
  EXPECT_EQ(delta(after, "wsvisor_messages_received_total", {{"source", "client"}}), 11);
  EXPECT_EQ(delta(after, "wsvisor_messages_received_total", {{"source", "api"}}), 1);
  EXPECT_EQ(delta(after, "wsvisor_messages_received_total", {{"source", "upstream"}}), 0);
  // 3 live, 2 replayed, 1 from the API, 6 live: 12 frames, each handed on once.
  EXPECT_EQ(delta(after, "wsvisor_messages_delivered_total"), 12);
  EXPECT_EQ(delta(after, "wsvisor_publish_delivery_latency_seconds_count"), 12);
  EXPECT_EQ(delta(after, "wsvisor_publish_delivery_latency_seconds_bucket", {{"le", "+Inf"}}), 12);
  EXPECT_GT(delta(after, "wsvisor_publish_delivery_latency_seconds_sum"), 0);
  EXPECT_GT(after.count("wsvisor_process_resident_memory_bytes"), 0);
  EXPECT_GE(after.count("wsvisor_process_open_fds"), 4);  // listener and three sockets at least
  EXPECT_EQ(after.count("wsvisor_cluster_peers"), 0);

  // bye ends sessions for good: the gauge follows.
  pub.send({{"type", "bye"}});
  EXPECT_EQ(pub.await_close(), 1000);
  EXPECT_TRUE(eventually([&] { return now("wsvisor_sessions", {{"state", "attached"}}) == 2; }));
}

// A session cut and resumed many times within its resume window holds one
// pending expiry, not one per cut (CAF 0.17 cannot cancel a delayed message:
// one per cut held ~220 bytes each for a whole window, the soak's RSS creep).
TEST_F(Metrics, ASessionCutAndResumedOftenHoldsOnePendingTimer) {
  start_node();
  auto sub = std::make_unique<wire_client>(port());
  auto welcome = sub->hello();
  const auto session = str(welcome["session"]), token = str(welcome["token"]);
  auto cut_and_resume = [&] {
    sub->socket().drop();
    // Detached for certain (a resume racing the cut would take the session
    // over without a detach).
    ASSERT_TRUE(eventually([&] { return now("wsvisor_sessions", {{"state", "detached"}}) == 1; }));
    sub = std::make_unique<wire_client>(port());
    ASSERT_EQ(sub->resume(session, token, 0)["resumed"], true);
  };
  cut_and_resume();
  const auto after_one = now("wsvisor_actor_timers_pending");
  EXPECT_GE(after_one, 1);  // the resume window's
  for (int i = 0; i < 50; ++i) cut_and_resume();
  EXPECT_EQ(now("wsvisor_actor_timers_pending"), after_one);
}

class MetricsUpstream : public Metrics {
 protected:
  void add_upstream(const std::string& url, std::uint32_t max_restarts) {
    policy fast;
    fast.backoff_min = 20ms;
    fast.backoff_max = 50ms;
    fast.jitter = jitter_kind::none;
    fast.max_restarts = max_restarts;
    fast.restart_window = 60s;
    fast.on_give_up = give_up_action::stop;
    cfg_.policies["fast"] = fast;
    cfg_.upstreams.push_back(
        upstream_config{.name = "feed", .url = url, .channel = "feed", .policy = "fast"});
  }
  labels state(const std::string& s) { return {{"upstream", "feed"}, {"state", s}}; }
  labels restarts() {
    return {{"supervisor", "upstream_links"}, {"child", "feed"}, {"policy", "fast"}};
  }
};

TEST_F(MetricsUpstream, LinkStateFollowsTheUpstreamAndRestartsAreCounted) {
  upstream_server upstream;
  add_upstream(upstream.url(), 50);
  start_node();
  ASSERT_TRUE(upstream.await_upgrades(1));
  EXPECT_TRUE(eventually([&] { return now("wsvisor_upstream_state", state("up")) == 1; }));
  EXPECT_EQ(now("wsvisor_supervisor_restarts_total", restarts()), 0);

  upstream.broadcast(R"({"tick":1})");
  EXPECT_TRUE(eventually([&] {
    return now("wsvisor_messages_received_total", {{"source", "upstream"}}) == 1;
  }));

  upstream.kill();
  EXPECT_TRUE(eventually([&] {
    auto s = scrape();
    return s.count("wsvisor_upstream_state", state("down")) == 1 &&
           s.count("wsvisor_upstream_state", state("up")) == 0;
  }));
  upstream.restart();
  ASSERT_TRUE(upstream.await_upgrades(2));
  EXPECT_TRUE(eventually([&] { return now("wsvisor_upstream_state", state("up")) == 1; }));
  EXPECT_GE(now("wsvisor_supervisor_restarts_total", restarts()), 1);
  EXPECT_EQ(now("wsvisor_supervisor_give_ups_total", restarts()), 0);
}

TEST_F(MetricsUpstream, AGivenUpLinkCountsItsRestartsAndOneGiveUp) {
  upstream_server upstream{upstream_mode::reset};
  add_upstream(upstream.url(), 2);
  start_node();
  EXPECT_TRUE(eventually([&] { return now("wsvisor_upstream_state", state("given_up")) == 1; }));
  auto s = scrape();
  // Two restarts are within the intensity; the third failure gives up.
  EXPECT_EQ(s.count("wsvisor_supervisor_restarts_total", restarts()), 2);
  EXPECT_EQ(s.count("wsvisor_supervisor_give_ups_total", restarts()), 1);
  EXPECT_EQ(s.count("wsvisor_upstream_state", state("up")), 0);
}

const std::string token = "0123456789abcdef-token";

TEST_F(Metrics, OnALoopbackListenerWithoutTokenHeadAnswersWithoutABody) {
  start_node();
  // Raw: the test client's parser would wait for the body Content-Length announces.
  auto head = send_raw(port(), "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(head.received.rfind("HTTP/1.1 200", 0), 0u) << head.received;
  auto end = head.received.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos) << head.received;
  EXPECT_EQ(head.received.substr(end + 4), "");
}

TEST_F(Metrics, WithATokenOnlyTheRightBearerIsServedAndOthersGet401) {
  cfg_.api.token = token;
  start_node();
  auto none = http_send(port(), {.target = "/metrics"});
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer");
  auto wrong =
      http_send(port(), {.target = "/metrics", .headers = {{"Authorization", "Bearer no"}}});
  EXPECT_EQ(wrong.status, 401);
  auto right =
      http_send(port(), {.target = "/metrics", .headers = {{"Authorization", "Bearer " + token}}});
  EXPECT_EQ(right.status, 200);
  EXPECT_EQ(right.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_TRUE(parse_prom_text(right.body).value("wsvisor_connections").has_value()) << right.body;
}

TEST_F(Metrics, WithoutATokenAnExposedListenerRefusesWith403) {
  cfg_.server.listen = "0.0.0.0:0";
  start_node();
  auto r = http_request(port(), "GET", "/metrics");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("api_disabled"), std::string::npos) << r.body;
}

TEST_F(Metrics, OtherMethodsGet405AllowingGetAndHead) {
  start_node();
  auto r = http_send(port(), {.method = "POST", .target = "/metrics"});
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "GET, HEAD");
}

}  // namespace
}  // namespace wsvisor::test
