// Upstream links end to end: a real node whose [[upstream]] points at an
// in-process Beast server that the tests kill, restart and break, observed
// through real WebSocket clients (the upstream's channel and
// sys.upstream.NAME).

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "client/client.hpp"
#include "client/errors.hpp"

#include "tests/integration/node_fixture.hpp"
#include "tests/integration/wire_client.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/upstream_server.hpp"

namespace wsvisor::test {
namespace {

namespace json = boost::json;
using ms = std::chrono::milliseconds;
using clock = std::chrono::steady_clock;

struct report {
  json::object data;
  clock::time_point at;
  std::string state() const {
    auto* s = data.if_contains("state");
    return s && s->is_string() ? std::string{s->as_string()} : std::string{};
  }
  std::int64_t retry_in_ms() const { return data.at("retry_in_ms").as_int64(); }
  std::string reason() const {
    auto* r = data.if_contains("reason");
    return r ? std::string{r->as_string()} : std::string{};
  }
};

class Upstream : public NodeTest {
 protected:
  Upstream() {
    // 50, 100, 200, 400, 400 ms: short enough for a test, long enough to measure.
    policy fast;
    fast.backoff_min = ms{50};
    fast.backoff_max = ms{400};
    fast.backoff_multiplier = 2.0;
    fast.jitter = jitter_kind::none;
    fast.reset_after = ms{60'000};
    fast.max_restarts = 50;
    fast.restart_window = ms{60'000};
    fast.on_give_up = give_up_action::stop;
    cfg_.policies["fast"] = fast;
  }

  upstream_config& add_upstream(const std::string& url, std::uint64_t buffer = 1024) {
    cfg_.upstreams.push_back(upstream_config{
        .name = "feed", .url = url, .channel = "feed", .policy = "fast", .buffer = buffer});
    return cfg_.upstreams.back();
  }

  /// A client following sys.upstream.feed.
  std::unique_ptr<wire_client> watch() {
    auto c = std::make_unique<wire_client>(port());
    c->hello();
    c->subscribe("sys.upstream.feed");
    return c;
  }

  /// Starts the node, waits for its link to the running `upstream`, then
  /// kills the upstream; returns a client that followed sys.upstream.feed
  /// from before the kill.
  std::unique_ptr<wire_client> start_then_kill(upstream_server& upstream) {
    start_node();
    EXPECT_TRUE(upstream.await_upgrades(1));
    auto watcher = watch();
    upstream.kill();
    return watcher;
  }

  static report next_report(wire_client& c, ms timeout = ms{10'000}) {
    auto m = c.expect("message", timeout);
    report r{.at = clock::now()};
    if (auto* d = m.if_contains("data"); d && d->is_object())
      r.data = d->as_object();
    else
      r.data["state"] = "none";
    return r;
  }

  /// Reports until one in `state`; ADD_FAILURE if none within `limit` reports.
  static report await_report(wire_client& c, const std::string& state, int limit = 40) {
    for (int i = 0; i < limit; ++i) {
      auto r = next_report(c);
      if (r.state() == state || r.state() == "none") return r;
    }
    ADD_FAILURE() << "no report with state " << state;
    return {};
  }

  /// The next `n` down reports (one per failed link, in order).
  static std::vector<report> downs(wire_client& c, int n) {
    std::vector<report> out;
    while (static_cast<int>(out.size()) < n) out.push_back(await_report(c, "down"));
    return out;
  }

  /// Cuts the open link and makes every later attempt fail at the upstream,
  /// which sees each attempt: returns, for the `n` restarts after the cut,
  /// the down report that scheduled it and the time from the previous
  /// failure's cause to the attempt (the cut, then each previous attempt).
  /// That time includes the restart delay and is never shorter than it.
  static std::vector<std::pair<report, ms>> observed_restarts(upstream_server& upstream,
                                                              wire_client& watcher, int n) {
    auto accepted = upstream.accept_times().size();
    upstream.set_mode(upstream_mode::reset);
    auto cut = clock::now();
    upstream.drop_connections();
    auto reports = downs(watcher, n);
    EXPECT_TRUE(upstream.await_accepts(accepted + n));
    auto times = upstream.accept_times();
    std::vector<std::pair<report, ms>> out;
    auto previous = cut;
    for (int i = 0; i < n && accepted + i < times.size(); ++i) {
      auto at = times[accepted + i];
      out.emplace_back(reports[i], std::chrono::duration_cast<ms>(at - previous));
      previous = at;
    }
    return out;
  }
};

json::value data_of(const json::object& message) { return message.at("data"); }

TEST_F(Upstream, MessagesFlowBothWaysAndAnEchoIsDeliveredOnce) {
  upstream_server upstream{upstream_mode::echo};
  auto& u = add_upstream(upstream.url());
  u.subprotocols = {"feed.v1", "feed.v0"};
  u.headers = {{"X-Tenant", "t1"}};
  start_node();
  ASSERT_TRUE(upstream.await_upgrades(1));
  auto headers = upstream.last_request_headers();
  EXPECT_EQ(headers["sec-websocket-protocol"], "feed.v1, feed.v0");
  EXPECT_EQ(headers["x-tenant"], "t1");
  EXPECT_EQ(headers["user-agent"], "wsvisor");

  wire_client c{port()};
  c.hello();
  c.subscribe("feed");
  c.publish("feed", json::parse(R"({"n":1})"), 1);
  EXPECT_EQ(upstream.await_received(1), std::vector<std::string>{R"({"n":1})"});
  // The echo comes back once, as what the upstream sent: the client's own
  // publish never reached the channel's subscribers directly.
  EXPECT_EQ(data_of(c.expect("message")), json::parse(R"({"n":1})"));
  upstream.broadcast("plain words");
  EXPECT_EQ(data_of(c.expect("message")), json::value("plain words"));
  c.publish("feed", json::value("a string"), 2);
  EXPECT_EQ(upstream.await_received(2).back(), "a string");
  EXPECT_EQ(data_of(c.expect("message")), json::value("a string"));

  // Acks stay in cseq order across an upstream's channel and a plain one.
  c.send({{"type", "publish"}, {"channel", "feed"}, {"data", 3}, {"cseq", 3}});
  c.send({{"type", "publish"}, {"channel", "plain"}, {"data", 4}, {"cseq", 4}});
  std::vector<std::uint64_t> acks;
  while (acks.size() < 2) {
    auto f = c.next();
    ASSERT_TRUE(f);
    if ((*f)["type"] == "ack") acks.push_back((*f)["cseq"].to_number<std::uint64_t>());
  }
  EXPECT_EQ(acks, (std::vector<std::uint64_t>{3, 4}));
}

TEST_F(Upstream, ReconnectsAfterTheBackoffWithoutJitterAndFlushesTheBufferInOrder) {
  upstream_server upstream;
  add_upstream(upstream.url());
  start_node();
  ASSERT_TRUE(upstream.await_upgrades(1));
  auto watcher = watch();
  wire_client c{port()};
  c.hello();

  auto seen = observed_restarts(upstream, *watcher, 5);
  ASSERT_EQ(seen.size(), 5u);
  std::vector<std::int64_t> expected{50, 100, 200, 400, 400};
  for (std::size_t i = 0; i < seen.size(); ++i) {
    auto& [down, waited] = seen[i];
    EXPECT_EQ(down.retry_in_ms(), expected[i]);
    EXPECT_EQ(down.data.at("attempt").as_int64(), static_cast<std::int64_t>(i + 1));
    EXPECT_FALSE(down.reason().empty());
    // An attempt is never early; "late" is scheduling, bounded generously for
    // a loaded two-core machine under ASan.
    EXPECT_GE(waited.count(), expected[i]) << "restart " << i + 1;
    EXPECT_LE(waited.count(), expected[i] + 250) << "restart " << i + 1;
  }
  // Publishes while it is down are buffered, then flushed in order.
  upstream.kill();
  for (int i = 1; i <= 3; ++i) c.publish("feed", i, static_cast<std::uint64_t>(i));
  upstream.set_mode(upstream_mode::normal);
  upstream.restart();
  auto up = await_report(*watcher, "up");
  EXPECT_EQ(up.state(), "up");
  EXPECT_EQ(upstream.await_received(3), (std::vector<std::string>{"1", "2", "3"}));
}

TEST_F(Upstream, FullJitterDelaysStayWithinTheirBounds) {
  upstream_server upstream;
  cfg_.policies["fast"].jitter = jitter_kind::full;
  add_upstream(upstream.url());
  start_node();
  ASSERT_TRUE(upstream.await_upgrades(1));
  auto watcher = watch();
  auto seen = observed_restarts(upstream, *watcher, 5);
  ASSERT_EQ(seen.size(), 5u);
  std::vector<std::int64_t> base{50, 100, 200, 400, 400};
  for (std::size_t i = 0; i < seen.size(); ++i) {
    auto& [down, waited] = seen[i];
    EXPECT_GE(down.retry_in_ms(), 0);
    EXPECT_LE(down.retry_in_ms(), base[i]);
    EXPECT_GE(waited.count(), down.retry_in_ms()) << "restart " << i + 1;
    EXPECT_LE(waited.count(), down.retry_in_ms() + 250) << "restart " << i + 1;
  }
}

TEST_F(Upstream, AboveTheBufferExactlyTheOldestAreDroppedAndCounted) {
  upstream_server upstream;
  add_upstream(upstream.url(), 3);
  auto watcher = start_then_kill(upstream);
  await_report(*watcher, "down");
  wire_client c{port()};
  c.hello();
  for (int i = 1; i <= 5; ++i) c.publish("feed", i, static_cast<std::uint64_t>(i));
  upstream.restart();
  auto up = await_report(*watcher, "up");
  EXPECT_EQ(up.data.at("dropped").as_int64(), 2);
  c.publish("feed", 6, 6);
  EXPECT_EQ(upstream.await_received(4), (std::vector<std::string>{"3", "4", "5", "6"}));
}

TEST_F(Upstream, GivesUpUnderStopAndThenRefusesPublishesOnItsChannel) {
  upstream_server upstream;
  cfg_.policies["fast"].max_restarts = 3;
  add_upstream(upstream.url());
  auto watcher = start_then_kill(upstream);
  auto given_up = await_report(*watcher, "given_up");
  EXPECT_EQ(given_up.state(), "given_up");
  EXPECT_NE(given_up.reason().find("connect_failed"), std::string::npos) << given_up.reason();

  wire_client c{port()};
  c.hello();
  c.send({{"type", "publish"}, {"channel", "feed"}, {"data", 1}, {"cseq", 1}});
  auto err = c.expect("error");
  EXPECT_EQ(err["code"], "upstream_down");
  EXPECT_EQ(err["cseq"], 1);
  // Everything else keeps working.
  c.publish("other", 2, 2);
  // A given-up link stays down even when its upstream returns.
  upstream.restart();
  c.publish("other", 3, 3);
  EXPECT_EQ(upstream.upgrades(), 1u);
}

TEST_F(Upstream, TheCppClientDropsAPublishRefusedAsUpstreamDownAndStaysConnected) {
  upstream_server upstream;
  cfg_.policies["fast"].max_restarts = 1;
  add_upstream(upstream.url());
  auto watcher = start_then_kill(upstream);
  await_report(*watcher, "given_up");

  caf::actor_system_config caf_cfg;
  add_client_types(caf_cfg);
  caf::actor_system sys{caf_cfg};
  client c{sys, client_options{.url = "ws://127.0.0.1:" + std::to_string(port()) + "/ws"}};
  ASSERT_EQ(c.publish("feed", "1"), publish_result::queued);
  ASSERT_EQ(c.publish("elsewhere", "2"), publish_result::queued);
  ASSERT_TRUE(c.wait_for(
      [](const client_stats& s) { return s.publishes_refused == 1 && s.publishes_acked == 1; },
      ms{10'000}));
  auto s = c.stats();
  EXPECT_EQ(s.pending_publishes, 0u);
  EXPECT_EQ(s.disconnects, 0u);
  EXPECT_EQ(s.last_error, "upstream_down");
}

TEST_F(Upstream, GivesUpUnderEscalateAndTheRootRestartsTheUpstreams) {
  upstream_server upstream;
  cfg_.policies["fast"].max_restarts = 2;
  cfg_.policies["fast"].on_give_up = give_up_action::escalate;
  add_upstream(upstream.url());
  auto watcher = start_then_kill(upstream);
  await_report(*watcher, "given_up");
  // The root supervisor restarts the whole upstreams subtree under its own
  // policy; with the upstream back, the new link comes up.
  upstream.restart();
  auto up = await_report(*watcher, "up");
  EXPECT_EQ(up.state(), "up");
  // A new upstreams actor counts afresh: below the 2 at which the old one
  // gave up. Not necessarily 0: its link may try once before the upstream
  // listens again (seen: 1).
  EXPECT_LT(up.data.at("restarts").as_int64(), 2);
  ASSERT_TRUE(upstream.await_upgrades(2));
}

TEST_F(Upstream, ResetAfterBringsBackTheMinimumDelayAfterAStablePeriod) {
  upstream_server upstream;
  cfg_.policies["fast"].reset_after = ms{300};
  add_upstream(upstream.url());
  auto watcher = start_then_kill(upstream);
  auto seen = downs(*watcher, 2);
  EXPECT_EQ(seen[1].retry_in_ms(), 100);
  upstream.restart();
  await_report(*watcher, "up");
  // What is tested is that time passes with the link up: a sleep is the test.
  std::this_thread::sleep_for(ms{400});
  upstream.kill();
  auto down = await_report(*watcher, "down");
  EXPECT_EQ(down.retry_in_ms(), 50);
  EXPECT_EQ(down.data.at("attempt").as_int64(), 1);
}

TEST_F(Upstream, AnUpstreamThatNeverCompletesTheHandshakeTimesOut) {
  upstream_server upstream{upstream_mode::silent};
  add_upstream(upstream.url()).connect_timeout = ms{200};
  start_node();
  auto watcher = watch();
  auto down = await_report(*watcher, "down");
  EXPECT_NE(down.reason().find("connect_timeout"), std::string::npos) << down.reason();
}

TEST_F(Upstream, AnUpstreamThatStopsAnsweringPingsIsCutByTheHeartbeat) {
  upstream_server upstream{upstream_mode::frozen};
  add_upstream(upstream.url()).heartbeat_timeout = ms{300};
  start_node();
  ASSERT_TRUE(upstream.await_upgrades(1));
  auto watcher = watch();
  auto down = await_report(*watcher, "down");
  EXPECT_NE(down.reason().find("heartbeat_timeout"), std::string::npos) << down.reason();
}

TEST_F(Upstream, AnUpstreamAnsweringHttp500IsAFailedHandshake) {
  upstream_server upstream{upstream_mode::http_500};
  add_upstream(upstream.url());
  start_node();
  auto watcher = watch();
  auto down = await_report(*watcher, "down");
  EXPECT_NE(down.reason().find("handshake_failed: HTTP 500"), std::string::npos) << down.reason();
  upstream.set_mode(upstream_mode::normal);
  EXPECT_EQ(await_report(*watcher, "up").state(), "up");
}

TEST_F(Upstream, AnUnresolvableHostIsReportedAsSuch) {
  // A resolver that has to time out (no DNS server answering) may take many
  // seconds; the reason, not its speed, is under test.
  add_upstream("ws://nonexistent.invalid:9/feed").connect_timeout = ms{60'000};
  start_node();
  auto watcher = watch();
  report down;
  for (int i = 0; i < 10 && down.state() != "down"; ++i) down = next_report(*watcher, ms{60'000});
  EXPECT_NE(down.reason().find("resolve_failed"), std::string::npos) << down.reason();
}

http_reply api_publish(std::uint16_t port, const std::string& body, const std::string& token = {}) {
  http_call call{.method = "POST", .target = "/api/publish", .body = body};
  if (!token.empty()) call.headers.emplace_back("Authorization", "Bearer " + token);
  return http_send(port, call);
}

TEST_F(Upstream, HttpPublishReachesSessionsAndUpstreamsAndRespectsItsToken) {
  upstream_server upstream;
  add_upstream(upstream.url(), 0);
  cfg_.api.token = "0123456789abcdef-token";
  start_node();
  ASSERT_TRUE(upstream.await_upgrades(1));
  wire_client a{port()};
  a.hello();
  a.subscribe("news");
  wire_client b{port()};
  b.hello();
  b.subscribe("news");

  EXPECT_EQ(api_publish(port(), R"({"channel":"news","data":{"n":1}})").status, 401);
  EXPECT_EQ(api_publish(port(), R"({"channel":"news","data":1})", "wrong-token-0123456").status,
            401);
  auto ok = api_publish(port(), R"({"channel":"news","data":{"n":1}})", cfg_.api.token);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body).at("sessions"), 2);
  EXPECT_EQ(data_of(a.expect("message")), json::parse(R"({"n":1})"));
  EXPECT_EQ(data_of(b.expect("message")), json::parse(R"({"n":1})"));

  // On an upstream's channel the data goes to the upstream.
  auto up = api_publish(port(), R"({"channel":"feed","data":"to the backend"})", cfg_.api.token);
  EXPECT_EQ(up.status, 200) << up.body;
  EXPECT_EQ(json::parse(up.body).at("upstream"), "feed");
  EXPECT_EQ(upstream.await_received(1), std::vector<std::string>{"to the backend"});

  // Down with buffer = 0: refused as upstream_down.
  auto watcher = watch();
  upstream.kill();
  await_report(*watcher, "down");
  auto down = api_publish(port(), R"({"channel":"feed","data":1})", cfg_.api.token);
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(json::parse(down.body).at("error"), "upstream_down");

  EXPECT_EQ(
      api_publish(port(), R"({"channel":"sys.upstream.feed","data":1})", cfg_.api.token).status,
      400);
  EXPECT_EQ(api_publish(port(), "not json", cfg_.api.token).status, 400);
}

}  // namespace
}  // namespace wsvisor::test
