#include "app/reload.hpp"

#include <gtest/gtest.h>

namespace wsvisor {
namespace {

using namespace std::chrono_literals;
using keys = std::vector<std::string>;

upstream_config feed(std::string name, std::string channel) {
  return upstream_config{
      .name = std::move(name), .url = "ws://127.0.0.1:9000/feed", .channel = std::move(channel)};
}

TEST(ReloadPlan, SameConfigChangesNothing) {
  config cfg;
  cfg.upstreams = {feed("a", "ch.a")};
  auto plan = plan_reload(cfg, cfg);
  EXPECT_TRUE(plan.empty());
  EXPECT_FALSE(plan.log || plan.session || plan.limits || plan.policies);
  EXPECT_EQ(apply_live(cfg, cfg), cfg);
}

TEST(ReloadPlan, LogSessionAndLimitsAreLiveAndNamedByKey) {
  config running;
  auto next = running;
  next.log.level = log_level::debug;
  next.session.heartbeat_interval = 5s;
  next.limits.sessions = 7;
  next.limits.messages_per_second = 3;
  auto plan = plan_reload(running, next);
  EXPECT_EQ(plan.live, (keys{"log.level", "session.heartbeat_interval",
                             "limits.messages_per_second", "limits.sessions"}));
  EXPECT_TRUE(plan.restart.empty());
  EXPECT_TRUE(plan.log);
  EXPECT_TRUE(plan.session);
  EXPECT_TRUE(plan.limits);
  EXPECT_FALSE(plan.policies);
  EXPECT_EQ(apply_live(running, next), next);
}

TEST(ReloadPlan, LogRepeatIntervalIsLive) {
  config running;
  auto next = running;
  next.log.repeat_interval = 250ms;
  auto plan = plan_reload(running, next);
  EXPECT_EQ(plan.live, (keys{"log.repeat_interval"}));
  EXPECT_TRUE(plan.restart.empty());
  EXPECT_TRUE(plan.log);
  EXPECT_EQ(apply_live(running, next).log.repeat_interval, 250ms);
}

TEST(ReloadPlan, ListenTlsAuthAndClusterNeedARestartAndKeepTheirRunningValues) {
  config running;
  auto next = running;
  next.server.listen = "0.0.0.0:9999";
  next.server.io_threads = 2;
  next.server.tls.cert = "/etc/cert.pem";
  next.auth.secret = "a secret of at least thirty-two bytes!!";
  next.api.token = "t";
  next.cluster.peers = {"10.0.0.2:7070"};
  next.log.level = log_level::warn;
  auto plan = plan_reload(running, next);
  EXPECT_EQ(plan.restart, (keys{"server.listen", "server.io_threads", "server.tls.cert",
                                "api.token", "auth.secret", "cluster.peers"}));
  EXPECT_EQ(plan.live, (keys{"log.level"}));
  auto applied = apply_live(running, next);
  EXPECT_EQ(applied.server, running.server);
  EXPECT_EQ(applied.auth, running.auth);
  EXPECT_EQ(applied.api, running.api);
  EXPECT_EQ(applied.cluster, running.cluster);
  EXPECT_EQ(applied.log, next.log);
  // What was not applied is reported again by the next reload of the same file.
  EXPECT_EQ(plan_reload(applied, next).restart, plan.restart);
  EXPECT_TRUE(plan_reload(applied, next).live.empty());
}

TEST(ReloadPlan, UpstreamsAreAddedRemovedAndChangedByName) {
  config running;
  running.upstreams = {feed("kept", "ch.kept"), feed("gone", "ch.gone"), feed("moved", "ch.m")};
  auto next = running;
  next.upstreams = {feed("kept", "ch.kept"), feed("moved", "ch.m"), feed("new", "ch.new")};
  next.upstreams[1].url = "ws://127.0.0.1:9001/other";
  auto plan = plan_reload(running, next);
  ASSERT_EQ(plan.added.size(), 1u);
  EXPECT_EQ(plan.added[0].name, "new");
  EXPECT_EQ(plan.removed, (keys{"gone"}));
  ASSERT_EQ(plan.changed.size(), 1u);
  EXPECT_EQ(plan.changed[0].url, "ws://127.0.0.1:9001/other");
  EXPECT_EQ(plan.live, (keys{"upstream.gone", "upstream.moved", "upstream.new"}));
  EXPECT_TRUE(plan.restart.empty());
  EXPECT_EQ(apply_live(running, next).upstreams, next.upstreams);
}

TEST(ReloadPlan, PolicyValuesAreLiveButTheStrategyOfARunningSupervisorIsNot) {
  config running;
  auto next = running;
  next.policies["fast"] = policy{.backoff_min = 5ms};
  next.policies.at("upstream").backoff_max = 1s;
  next.policies.at("root").strategy = strategy_kind::one_for_all;
  auto plan = plan_reload(running, next);
  EXPECT_TRUE(plan.policies);
  EXPECT_EQ(plan.live, (keys{"policies.fast", "policies.upstream"}));
  EXPECT_EQ(plan.restart, (keys{"policies.root.strategy"}));
  auto applied = apply_live(running, next);
  EXPECT_EQ(applied.policies.at("root").strategy, strategy_kind::one_for_one);
  EXPECT_EQ(applied.policies.at("upstream").backoff_max, 1s);
  EXPECT_TRUE(applied.policies.contains("fast"));
}

TEST(ReloadPlan, ARemovedPolicyIsALiveChange) {
  config running;
  running.policies["fast"] = policy{};
  auto plan = plan_reload(running, config{});
  EXPECT_EQ(plan.live, (keys{"policies.fast"}));
  EXPECT_FALSE(apply_live(running, config{}).policies.contains("fast"));
}

TEST(ReloadPlan, ConnectionsPerIpIsLiveOnlyBetweenNonZeroLimits) {
  config running;
  auto next = running;
  next.limits.connections_per_ip = 5;
  auto plan = plan_reload(running, next);
  EXPECT_EQ(plan.live, (keys{"limits.connections_per_ip"}));
  EXPECT_EQ(apply_live(running, next).limits.connections_per_ip, 5u);

  next.limits.connections_per_ip = 0;  // counting was on at start: turning it off needs a restart
  plan = plan_reload(running, next);
  EXPECT_EQ(plan.restart, (keys{"limits.connections_per_ip"}));
  EXPECT_FALSE(plan.limits);
  EXPECT_EQ(apply_live(running, next).limits.connections_per_ip, running.limits.connections_per_ip);
}

TEST(ReloadPlan, ClusterPeerLinksKeepTheirPolicyUntilARestart) {
  config running;
  running.cluster.enabled = true;
  auto next = running;
  next.policies.at("cluster").backoff_min = 1s;
  auto plan = plan_reload(running, next);
  EXPECT_EQ(plan.live, (keys{"policies.cluster"}));
  EXPECT_EQ(plan.restart, (keys{"policies.cluster (cluster peer links)"}));
}

TEST(ReloadSnapshot, ReadersKeepTheVersionTheyGot) {
  snapshot<int> s{1};
  auto first = s.get();
  s.set(2);
  EXPECT_EQ(*first, 1);
  EXPECT_EQ(*s.get(), 2);
}

TEST(ReloadKeys, JoinsWithCommasAndSaysDashForNone) {
  EXPECT_EQ(join_keys({}), "-");
  EXPECT_EQ(join_keys({"log.level", "server.listen"}), "log.level, server.listen");
}

}  // namespace
}  // namespace wsvisor
