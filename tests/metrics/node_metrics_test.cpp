#include "metrics/node_metrics.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/support/prometheus_text.hpp"

namespace wsvisor {
namespace {

TEST(NodeMetrics, EveryMetricHasHelpAndTypeAndThePrefix) {
  node_metrics m{[] { return 4.0; }, "1.2.3"};
  auto parsed = test::parse_prom_text(m.registry.expose());
  ASSERT_TRUE(parsed.errors.empty());
  for (const auto& s : parsed.samples) EXPECT_EQ(s.name.rfind("wsvisor_", 0), 0u) << s.name;
  for (const auto& [name, type] : parsed.types) {
    EXPECT_EQ(parsed.help.count(name), 1u) << name;
    if (type == "counter") {
      EXPECT_TRUE(name.ends_with("_total")) << name;
    }
  }
  EXPECT_EQ(parsed.value("wsvisor_connections"), 4.0);
  EXPECT_EQ(parsed.value("wsvisor_build_info", {{"version", "1.2.3"}}), 1.0);
  EXPECT_EQ(parsed.value("wsvisor_sessions", {{"state", "attached"}}), 0.0);
  EXPECT_EQ(parsed.value("wsvisor_resumes_total", {{"result", "rejected"}, {"reason", "expired"}}),
            0.0);
  EXPECT_EQ(parsed.value("wsvisor_messages_received_total", {{"source", "api"}}), 0.0);
  EXPECT_EQ(parsed.value("wsvisor_publish_delivery_latency_seconds_bucket", {{"le", "0.0001"}}),
            0.0);
  EXPECT_EQ(parsed.value("wsvisor_publish_delivery_latency_seconds_bucket", {{"le", "10"}}), 0.0);
}

TEST(NodeMetrics, UpstreamStateIsOneForTheCurrentStateOnly) {
  node_metrics m;
  m.set_upstream_state("feed", "down");
  m.set_upstream_state("feed", "up");
  auto parsed = test::parse_prom_text(m.registry.expose());
  EXPECT_EQ(parsed.value("wsvisor_upstream_state", {{"upstream", "feed"}, {"state", "up"}}), 1.0);
  EXPECT_EQ(parsed.value("wsvisor_upstream_state", {{"upstream", "feed"}, {"state", "down"}}), 0.0);
}

TEST(NodeMetrics, ARemovedUpstreamsStateSeriesDisappear) {
  node_metrics m;
  m.set_upstream_state("feed", "up");
  m.set_upstream_state("other", "down");
  m.forget_upstream("feed");
  auto parsed = test::parse_prom_text(m.registry.expose());
  for (auto state : {"connecting", "up", "down", "given_up", "stopped"})
    EXPECT_FALSE(parsed.value("wsvisor_upstream_state", {{"upstream", "feed"}, {"state", state}}))
        << state;
  EXPECT_EQ(parsed.value("wsvisor_upstream_state", {{"upstream", "other"}, {"state", "down"}}),
            1.0);
}

TEST(NodeMetrics, ProcessMetricsFollowThisProcess) {
  auto before = process_open_fds();
  int fd = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(process_open_fds(), before + 1);
  ::close(fd);
  EXPECT_EQ(process_open_fds(), before);
  EXPECT_GT(process_resident_bytes(), 1024.0 * 1024.0);  // a test binary holds more than 1 MiB
}

}  // namespace
}  // namespace wsvisor
