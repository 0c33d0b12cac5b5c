#include "log/log.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace wsvisor::log
