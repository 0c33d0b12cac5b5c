#include "log/log.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace wsvisor::log {
namespace {

TEST(Log, TextFormatAppendsFieldsAsKeyValuePairs) {
  auto line = render(log_format::text, "2026-01-01T00:00:00.000Z", "info", "supervisor", "restart",
                     {{"child", "feed"}, {"attempt", 3}, {"reason", "connection refused"}});
  EXPECT_EQ(line,
            "2026-01-01T00:00:00.000Z info [supervisor] restart child=feed attempt=3 "
            "reason=\"connection refused\"");
}

TEST(Log, JsonFormatIsOneParsableObjectWithFields) {
  auto line = render(log_format::json, "2026-01-01T00:00:00.000Z", "warn", "net", "bad \"frame\"\n",
                     {{"peer", "127.0.0.1:5"}, {"delay", std::chrono::milliseconds{400}}});
  auto v = boost::json::parse(line).as_object();
  EXPECT_EQ(v.at("time"), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(v.at("level"), "warn");
  EXPECT_EQ(v.at("logger"), "net");
  EXPECT_EQ(v.at("message"), "bad \"frame\"\n");
  EXPECT_EQ(v.at("fields").as_object().at("peer"), "127.0.0.1:5");
  EXPECT_EQ(v.at("fields").as_object().at("delay"), "400ms");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Log, JsonFormatReplacesInvalidUtf8SoTheLineStaysValid) {
  auto line = render(log_format::json, "t", "info", "net", "x", {{"raw", "a\xff\xc3(b"}});
  auto v = boost::json::parse(line).as_object();
  EXPECT_EQ(v.at("fields").as_object().at("raw"), "a\xEF\xBF\xBD\xEF\xBF\xBD(b");
}

TEST(Log, ALineAfterHeldBackRepeatsStatesTheirCountAndIntervalInTextAndFields) {
  auto line =
      render(log_format::text, "t", "warn", "session", "subscribe refused: limits.channels reached",
             {{"channel", "c9"}}, repeats{412, std::chrono::seconds{10}});
  EXPECT_EQ(line,
            "t warn [session] subscribe refused: limits.channels reached (412 suppressed in 10s) "
            "channel=c9 suppressed=412 interval=10s");
  auto json = render(log_format::json, "t", "warn", "session", "subscribe refused", {},
                     repeats{3, std::chrono::milliseconds{200}});
  auto v = boost::json::parse(json).as_object();
  EXPECT_EQ(v.at("message"), "subscribe refused (3 suppressed in 200ms)");
  EXPECT_EQ(v.at("fields").as_object().at("suppressed"), "3");
  EXPECT_EQ(v.at("fields").as_object().at("interval"), "200ms");
}

TEST(Log, ALineWithNothingHeldBackIsUnchanged) {
  EXPECT_EQ(render(log_format::text, "t", "info", "x", "m", {{"k", 1}},
                   repeats{0, std::chrono::seconds{10}}),
            render(log_format::text, "t", "info", "x", "m", {{"k", 1}}));
  EXPECT_EQ(render(log_format::text, "t", "info", "x", "m", {{"k", 1}}), "t info [x] m k=1");
}

TEST(Log, RepeatIntervalFollowsTheConfiguration) {
  EXPECT_EQ(repeat_interval(), log_config{}.repeat_interval);
  configure(log_config{.repeat_interval = std::chrono::milliseconds{250}});
  EXPECT_EQ(repeat_interval(), std::chrono::milliseconds{250});
  throttle t;
  EXPECT_TRUE(admit(t));
  EXPECT_FALSE(admit(t));  // well within 250 ms
  configure(log_config{});
  EXPECT_EQ(repeat_interval(), std::chrono::seconds{10});
}

}  // namespace
}  // namespace wsvisor::log
