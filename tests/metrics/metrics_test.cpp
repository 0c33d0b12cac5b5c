#include "metrics/metrics.hpp"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/prometheus_text.hpp"

namespace wsvisor::metrics {
namespace {

using namespace std::chrono_literals;

TEST(Metrics, CounterAndGaugeAreWrittenWithHelpTypeAndValue) {
  registry r;
  r.add_counter("x_total", "Things done").inc(3);
  auto& g = r.add_gauge("y", "Things open");
  g.add(5);
  g.sub(2);
  auto text = r.expose();
  EXPECT_EQ(text,
            "# HELP x_total Things done\n# TYPE x_total counter\nx_total 3\n"
            "# HELP y Things open\n# TYPE y gauge\ny 3\n");
}

TEST(Metrics, LabelValuesAreEscapedAndReadBack) {
  registry r;
  auto& f = r.add_counter_family("z_total", "help with \\ and\nnewline", {"name"});
  f.with({"a\"b\\c\nd"}).inc();
  auto text = r.expose();
  EXPECT_NE(text.find(R"(z_total{name="a\"b\\c\nd"} 1)"), std::string::npos) << text;
  EXPECT_NE(text.find("# HELP z_total help with \\\\ and\\nnewline\n"), std::string::npos) << text;
  auto parsed = test::parse_prom_text(text);
  EXPECT_TRUE(parsed.errors.empty());
  EXPECT_EQ(parsed.value("z_total", {{"name", "a\"b\\c\nd"}}), 1.0);
  EXPECT_EQ(parsed.help["z_total"], "help with \\ and\nnewline");
}

TEST(Metrics, FamilySeriesAreCreatedOnFirstUseAndKeptApart) {
  registry r;
  auto& f = r.add_gauge_family("s", "help", {"a", "b"});
  f.with({"1", "x"}).set(7);
  f.with({"2", "y"}).set(-2);
  EXPECT_EQ(&f.with({"1", "x"}), &f.with({"1", "x"}));
  auto parsed = test::parse_prom_text(r.expose());
  EXPECT_EQ(parsed.types["s"], "gauge");
  EXPECT_EQ(parsed.value("s", {{"a", "1"}, {"b", "x"}}), 7.0);
  EXPECT_EQ(parsed.value("s", {{"a", "2"}, {"b", "y"}}), -2.0);
  EXPECT_EQ(parsed.samples.size(), 2u);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  registry r;
  auto& h = r.add_histogram("lat_seconds", "latency", {0.001, 0.01, 0.1});
  h.observe(500us);  // <= 0.001
  h.observe(1ms);    // == 0.001: counted in that bucket (le)
  h.observe(50ms);   // <= 0.1
  h.observe(2s);     // +Inf only
  h.observe(-1ms);   // a clock that went back counts as 0
  auto text = r.expose();
  auto parsed = test::parse_prom_text(text);
  ASSERT_TRUE(parsed.errors.empty()) << text;
  EXPECT_EQ(parsed.types["lat_seconds"], "histogram");
  EXPECT_EQ(parsed.value("lat_seconds_bucket", {{"le", "0.001"}}), 3.0);
  EXPECT_EQ(parsed.value("lat_seconds_bucket", {{"le", "0.01"}}), 3.0);
  EXPECT_EQ(parsed.value("lat_seconds_bucket", {{"le", "0.1"}}), 4.0);
  EXPECT_EQ(parsed.value("lat_seconds_bucket", {{"le", "+Inf"}}), 5.0);
  EXPECT_EQ(parsed.value("lat_seconds_count"), 5.0);
  EXPECT_NEAR(*parsed.value("lat_seconds_sum"), 2.0515, 1e-9);
}

TEST(Metrics, CallbackGaugeIsReadAtEachExposition) {
  registry r;
  double v = 1;
  r.add_callback_gauge("cb", "read late", [&] { return v; });
  EXPECT_EQ(test::parse_prom_text(r.expose()).value("cb"), 1.0);
  v = 2.5;
  EXPECT_EQ(test::parse_prom_text(r.expose()).value("cb"), 2.5);
}

TEST(Metrics, ValuesAreFormattedWithoutExponents) {
  EXPECT_EQ(format_value(0.0001), "0.0001");
  EXPECT_EQ(format_value(10), "10");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
}

TEST(Metrics, ConcurrentIncrementsAreAllCounted) {
  registry r;
  auto& c = r.add_counter("c_total", "h");
  auto& h = r.add_histogram("h_seconds", "h", {0.001});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(1us);
      }
    });
  for (auto& t : threads) t.join();
  auto parsed = test::parse_prom_text(r.expose());
  EXPECT_EQ(parsed.value("c_total"), 40000.0);
  EXPECT_EQ(parsed.value("h_seconds_count"), 40000.0);
}

}  // namespace
}  // namespace wsvisor::metrics
