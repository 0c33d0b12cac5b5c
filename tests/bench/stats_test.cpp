// The load generator's counting: loss and duplicate detection, percentiles,
// and what it reads from /proc.

#include <unistd.h>

#include <vector>

#include <gtest/gtest.h>

#include "tools/bench/stats.hpp"

namespace wsbench {
namespace {

TEST(BenchStats, InOrderDeliveryHasNoLossAndNoDuplicates) {
  sequence_check c;
  for (std::uint64_t k = 1; k <= 100; ++k) c.receive(k);
  EXPECT_EQ(c.lost(100), 0u);
  EXPECT_EQ(c.duplicates(), 0u);
  EXPECT_EQ(c.received(), 100u);
}

TEST(BenchStats, GapsCountAsLossAndRepeatsAsDuplicates) {
  sequence_check c;
  for (std::uint64_t k : {1, 2, 5, 5, 3, 6}) c.receive(k);
  // 3 and 4 were skipped (3 arriving late is a repeat, not a recovery: the
  // protocols measured promise order); 5 and 3 came again.
  EXPECT_EQ(c.lost(6), 2u);
  EXPECT_EQ(c.duplicates(), 2u);
  EXPECT_EQ(c.last(), 6u);
}

TEST(BenchStats, MessagesNeverReceivedAtTheEndAreLost) {
  sequence_check c;
  c.receive(1);
  c.receive(2);
  EXPECT_EQ(c.lost(5), 3u);
  sequence_check none;
  EXPECT_EQ(none.lost(4), 4u);
}

TEST(BenchStats, PercentilesUseNearestRank) {
  latencies l;
  for (int us = 1; us <= 100; ++us) l.add(us * 1000);
  l.finish();
  EXPECT_EQ(l.percentile(50), 50);
  EXPECT_EQ(l.percentile(99), 99);
  EXPECT_EQ(l.percentile(100), 100);
  EXPECT_EQ(l.percentile(0), 1);
  latencies empty;
  empty.finish();
  EXPECT_EQ(empty.percentile(50), 0);
  EXPECT_EQ(empty.cdf(), "");
}

TEST(BenchStats, MergedSamplesKeepEveryThreadsShare) {
  latencies a, b;
  for (int i = 0; i < 90; ++i) a.add(1000);
  for (int i = 0; i < 10; ++i) b.add(9000);
  a.merge(b);
  a.finish();
  EXPECT_EQ(a.size(), 100u);
  EXPECT_EQ(a.percentile(90), 1);
  EXPECT_EQ(a.percentile(91), 9);
  auto cdf = a.cdf(10);
  EXPECT_NE(cdf.find("100 9\n"), std::string::npos) << cdf;
}

TEST(BenchStats, ReadsCpuAndRssOfALiveProcess) {
  // Touch memory and burn a little CPU so both are visibly non-zero.
  std::vector<char> block(8 << 20, 1);
  unsigned sum = 0;
  for (char c : block) sum = sum + static_cast<unsigned>(c);
  ASSERT_EQ(sum, block.size());
  auto s = sample_process(getpid());
  ASSERT_TRUE(s);
  EXPECT_GT(s->rss_kib, 8u * 1024);
  EXPECT_GE(s->cpu_s, 0.0);
  EXPECT_GT(own_cpu_seconds(), 0.0);
  EXPECT_FALSE(sample_process(999999999));
}

}  // namespace
}  // namespace wsbench
