#include "config/units.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace wsvisor {
namespace {

using namespace std::chrono_literals;

TEST(Units, ParsesDurationsInEveryUnit) {
  EXPECT_EQ(parse_duration("250ms"), duration{250});
  EXPECT_EQ(parse_duration("30s"), duration{30'000});
  EXPECT_EQ(parse_duration("5m"), duration{300'000});
  EXPECT_EQ(parse_duration("1h"), duration{3'600'000});
  EXPECT_EQ(parse_duration("0ms"), duration{0});
  EXPECT_EQ(parse_duration("007s"), duration{7'000});
}

TEST(Units, RejectsMalformedDurations) {
  for (auto text : {"", "s", "ms", "30", "1.5s", "10 s", " 10s", "10s ", "-1s", "+1s", "1d", "1sec",
                    "1S", "1MS", "5ms5", "1e3ms", "1hm", "0x10s"})
    EXPECT_EQ(parse_duration(text), std::nullopt) << '"' << text << '"';
}

TEST(Units, RejectsDurationsThatOverflow) {
  constexpr auto max = std::numeric_limits<duration::rep>::max();
  EXPECT_EQ(parse_duration(std::to_string(max) + "ms"), duration{max});
  EXPECT_EQ(parse_duration(std::to_string(max) + "s"), std::nullopt);
  EXPECT_EQ(parse_duration("9223372036854775808ms"), std::nullopt);
  EXPECT_EQ(parse_duration("99999999999999999999999h"), std::nullopt);
  EXPECT_EQ(parse_duration("2562047788015216h"), std::nullopt);  // fits 64 bits only in hours
}

TEST(Units, FormatsDurationsInTheLargestExactUnit) {
  EXPECT_EQ(format_duration(0ms), "0ms");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(30s), "30s");
  EXPECT_EQ(format_duration(90s), "90s");
  EXPECT_EQ(format_duration(5min), "5m");
  EXPECT_EQ(format_duration(1h), "1h");
  EXPECT_EQ(format_duration(24h), "24h");
}

TEST(Units, FormattedDurationsParseBack) {
  for (auto d : {duration{1}, duration{999}, duration{61'000}, duration{3'660'000},
                 duration{std::numeric_limits<duration::rep>::max()}})
    EXPECT_EQ(parse_duration(format_duration(d)), d) << d.count();
}

TEST(Units, ParsesSizesWithBinaryUnitsOrPlainDigits) {
  EXPECT_EQ(parse_size("512B"), 512u);
  EXPECT_EQ(parse_size("512"), 512u);
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("64KiB"), 64u * 1024);
  EXPECT_EQ(parse_size("4MiB"), 4u << 20);
  EXPECT_EQ(parse_size("1GiB"), std::uint64_t{1} << 30);
  EXPECT_EQ(parse_size("2TiB"), std::uint64_t{2} << 40);
}

TEST(Units, RejectsMalformedSizes) {
  for (auto text : {"", "B", "KiB", "1.5MiB", "64 KiB", "64KB", "64kib", "64K", "-1", "+1", "1MiB ",
                    "0x10", "1iB", "1KiBB"})
    EXPECT_EQ(parse_size(text), std::nullopt) << '"' << text << '"';
}

TEST(Units, RejectsSizesThatOverflow) {
  EXPECT_EQ(parse_size("18446744073709551615"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(parse_size("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parse_size("16777216TiB"), std::nullopt);
  EXPECT_EQ(parse_size("16777215TiB"), std::uint64_t{16777215} << 40);
}

TEST(Units, FormatsSizesInTheLargestExactUnit) {
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(1000), "1000");
  EXPECT_EQ(format_size(1024), "1KiB");
  EXPECT_EQ(format_size(1536), "1536");
  EXPECT_EQ(format_size(65536), "64KiB");
  EXPECT_EQ(format_size(4u << 20), "4MiB");
  EXPECT_EQ(format_size(std::uint64_t{1} << 30), "1GiB");
  EXPECT_EQ(format_size(std::uint64_t{3} << 40), "3TiB");
  for (std::uint64_t n : {std::uint64_t{1}, std::uint64_t{1025}, std::uint64_t{5} << 20,
                          std::numeric_limits<std::uint64_t>::max()})
    EXPECT_EQ(parse_size(format_size(n)), n) << n;
}

TEST(Units, NamesEveryEnumValueAndParsesItBack) {
  for (auto v : {restart_kind::permanent, restart_kind::transient, restart_kind::temporary})
    EXPECT_EQ(parse_restart_kind(to_string(v)), v);
  for (auto v :
       {strategy_kind::one_for_one, strategy_kind::one_for_all, strategy_kind::rest_for_one})
    EXPECT_EQ(parse_strategy_kind(to_string(v)), v);
  for (auto v :
       {jitter_kind::none, jitter_kind::full, jitter_kind::equal, jitter_kind::decorrelated})
    EXPECT_EQ(parse_jitter_kind(to_string(v)), v);
  for (auto v : {give_up_action::escalate, give_up_action::stop})
    EXPECT_EQ(parse_give_up_action(to_string(v)), v);
  for (auto v : {log_format::text, log_format::json}) EXPECT_EQ(parse_log_format(to_string(v)), v);
  for (auto v : {log_level::trace, log_level::debug, log_level::info, log_level::warn,
                 log_level::error, log_level::critical, log_level::off})
    EXPECT_EQ(parse_log_level(to_string(v)), v);
}

TEST(Units, UsesTheDocumentedEnumNames) {
  EXPECT_EQ(to_string(restart_kind::transient), "transient");
  EXPECT_EQ(to_string(strategy_kind::rest_for_one), "rest_for_one");
  EXPECT_EQ(to_string(jitter_kind::decorrelated), "decorrelated");
  EXPECT_EQ(to_string(give_up_action::escalate), "escalate");
  EXPECT_EQ(to_string(log_format::json), "json");
  EXPECT_EQ(to_string(log_level::critical), "critical");
}

TEST(Units, RejectsEnumNamesInOtherSpellings) {
  EXPECT_EQ(parse_restart_kind("Permanent"), std::nullopt);
  EXPECT_EQ(parse_strategy_kind("one-for-one"), std::nullopt);
  EXPECT_EQ(parse_jitter_kind(""), std::nullopt);
  EXPECT_EQ(parse_give_up_action("restart"), std::nullopt);
  EXPECT_EQ(parse_log_format("JSON"), std::nullopt);
  EXPECT_EQ(parse_log_level("warning"), std::nullopt);
}

}  // namespace
}  // namespace wsvisor
