// [[upstream]] tables: the keys of an outbound link and the checks across
// upstreams. Each TOML text starts on line 1 right after R"(, so line numbers
// read off directly.

#include "config/loader.hpp"

#include <gtest/gtest.h>

#include "tests/config/error_matchers.hpp"

namespace wsvisor {
namespace {

using namespace std::chrono_literals;
using testing::all_errors;
using testing::has_error;

// A readable file that exists in every checkout.
const std::string readable_file = std::string{WSVISOR_SOURCE_DIR} + "/config/wsvisor.toml";

load_result load_upstream(const std::string& extra_keys) {
  return load_config_string(
      "[[upstream]]\nname = \"feed\"\nurl = \"wss://feed.example/ws\"\n"
      "channel = \"feed\"\n" +
      extra_keys);
}

TEST(ConfigUpstreams, NewKeysHaveTheirDefaults) {
  auto r = load_upstream("");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const auto& u = r.cfg.upstreams.at(0);
  EXPECT_TRUE(u.subprotocols.empty());
  EXPECT_TRUE(u.headers.empty());
  EXPECT_EQ(u.connect_timeout, 10s);
  EXPECT_EQ(u.heartbeat_timeout, 30s);
  EXPECT_EQ(u.ca_file, "");
  EXPECT_FALSE(u.required);
}

TEST(ConfigUpstreams, ReadsRequiredAsABool) {
  auto r = load_upstream("required = true\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_TRUE(r.cfg.upstreams.at(0).required);
  auto bad = load_upstream("required = \"yes\"\n");
  EXPECT_TRUE(has_error(bad, "upstream[0].required", 5, "expected true or false"))
      << all_errors(bad);
}

TEST(ConfigUpstreams, ReadsSubprotocolsHeadersTimeoutsAndCaFile) {
  auto r = load_upstream(R"(subprotocols = ["v2.feed", "feed"]
headers = { Authorization = "Bearer x", "X-Tenant" = "a", "X!#$%&'*+.^_`|~" = "tab	and ünïcode" }
connect_timeout = "1ms"
heartbeat_timeout = "24h"
ca_file = ")" + readable_file +
                         "\"\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const auto& u = r.cfg.upstreams.at(0);
  EXPECT_EQ(u.subprotocols, (std::vector<std::string>{"v2.feed", "feed"}));
  EXPECT_EQ(u.headers,
            (std::map<std::string, std::string>{{"Authorization", "Bearer x"},
                                                {"X-Tenant", "a"},
                                                {"X!#$%&'*+.^_`|~", "tab\tand ünïcode"}}));
  EXPECT_EQ(u.connect_timeout, 1ms);
  EXPECT_EQ(u.heartbeat_timeout, 24h);
  EXPECT_EQ(u.ca_file, readable_file);
}

TEST(ConfigUpstreams, HeadersMayBeAStandardTable) {
  auto r = load_config_string(R"([[upstream]]
name = "feed"
url = "ws://h"
channel = "feed"
[upstream.headers]
Authorization = "Bearer y"
)");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.upstreams.at(0).headers.at("Authorization"), "Bearer y");
}

TEST(ConfigUpstreams, ZeroHeartbeatTimeoutTurnsTheHeartbeatOff) {
  for (auto text : {"heartbeat_timeout = \"0s\"\n", "heartbeat_timeout = \"0ms\"\n",
                    "heartbeat_timeout = 0\n"}) {
    auto r = load_upstream(text);
    ASSERT_TRUE(r.ok()) << text << all_errors(r);
    EXPECT_EQ(r.cfg.upstreams.at(0).heartbeat_timeout, 0ms) << text;
  }
}

TEST(ConfigUpstreams, RejectsBadSubprotocols) {
  auto r = load_upstream(R"(subprotocols = ["ok", "a b", 3, ""]
)");
  EXPECT_TRUE(has_error(r, "upstream[0].subprotocols[1]", 5, "RFC 7230 token"));
  EXPECT_TRUE(has_error(r, "upstream[0].subprotocols[1]", 5, "got \"a b\""));
  EXPECT_TRUE(has_error(r, "upstream[0].subprotocols[2]", 5, "expected a string, got integer 3"));
  EXPECT_TRUE(has_error(r, "upstream[0].subprotocols[3]", 5, "got \"\""));
  EXPECT_EQ(r.errors.size(), 3u) << all_errors(r);
  auto not_array = load_upstream("subprotocols = \"v1\"\n");
  EXPECT_TRUE(has_error(not_array, "upstream[0].subprotocols", 5, "expected an array of strings"));
}

TEST(ConfigUpstreams, RejectsHeadersThatAreNoTableOrNoStrings) {
  auto r = load_upstream("headers = \"Authorization: x\"\n");
  EXPECT_TRUE(has_error(r, "upstream[0].headers", 5, "expected a table of strings"));
  auto n = load_upstream("headers = { X-Count = 3 }\n");
  EXPECT_TRUE(has_error(n, "upstream[0].headers.X-Count", 5, "expected a string, got integer 3"));
}

TEST(ConfigUpstreams, RejectsHeaderNamesThatAreNotTokens) {
  auto r = load_upstream(R"(headers = { "X Tenant" = "a", "X:Y" = "b", "" = "c" }
)");
  EXPECT_TRUE(has_error(r, "upstream[0].headers.\"X Tenant\"", 5, "RFC 7230 token"));
  EXPECT_TRUE(has_error(r, "upstream[0].headers.\"X:Y\"", 5, "RFC 7230 token"));
  EXPECT_TRUE(has_error(r, "upstream[0].headers.\"\"", 5, "RFC 7230 token"));
  EXPECT_EQ(r.errors.size(), 3u) << all_errors(r);
}

TEST(ConfigUpstreams, RefusesHeadersTheHandshakeSetsInAnyCase) {
  for (auto name : {"Host", "upgrade", "CONNECTION", "Sec-WebSocket-Key", "sec-websocket-version",
                    "Sec-WebSocket-Extensions"}) {
    auto r = load_upstream("headers = { " + std::string{name} + " = \"x\" }\n");
    EXPECT_TRUE(has_error(r, "upstream[0].headers." + std::string{name}, 5,
                          "set by the WebSocket handshake"));
    EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
  }
  auto protocol = load_upstream("headers = { Sec-WebSocket-Protocol = \"v1\" }\n");
  EXPECT_TRUE(has_error(protocol, "upstream[0].headers.Sec-WebSocket-Protocol", 5,
                        "set by the WebSocket handshake; use `subprotocols`"));
}

TEST(ConfigUpstreams, RejectsHeaderNamesThatDifferOnlyInCase) {
  auto r = load_upstream("headers = { X-Tenant = \"a\", x-tenant = \"b\" }\n");
  EXPECT_TRUE(has_error(r, "upstream[0].headers.x-tenant", 5, "duplicate header \"x-tenant\""));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
}

TEST(ConfigUpstreams, RejectsHeaderValuesWithControlCharactersWithoutShowingThem) {
  auto r =
      load_upstream(R"(headers = { Authorization = "Bearer secret\r\nX-Evil: 1", X-A = "\u007f" }
)");
  EXPECT_TRUE(has_error(r, "upstream[0].headers.Authorization", 5, "must not contain CR, LF"));
  EXPECT_TRUE(has_error(r, "upstream[0].headers.X-A", 5, "control characters"));
  EXPECT_EQ(r.errors.size(), 2u) << all_errors(r);
  for (const auto& e : r.errors) EXPECT_EQ(e.message.find("secret"), std::string::npos);
  EXPECT_TRUE(r.cfg.upstreams.at(0).headers.empty());
}

TEST(ConfigUpstreams, RejectsBadTimeouts) {
  auto r = load_upstream(R"(connect_timeout = "0ms"
heartbeat_timeout = "25h"
)");
  EXPECT_TRUE(has_error(r, "upstream[0].connect_timeout", 5, "must be between 1ms and 24h"));
  EXPECT_TRUE(has_error(r, "upstream[0].heartbeat_timeout", 6, "must be between 0ms and 24h"));
  auto types = load_upstream(R"(connect_timeout = 10
heartbeat_timeout = 30
)");
  EXPECT_TRUE(has_error(types, "upstream[0].connect_timeout", 5,
                        "expected a duration like \"30s\", got integer 10"));
  EXPECT_TRUE(has_error(types, "upstream[0].heartbeat_timeout", 6,
                        "expected a duration like \"30s\", got integer 30"));
  EXPECT_EQ(types.errors.size(), 2u) << all_errors(types);
}

TEST(ConfigUpstreams, RejectsAnUnreadableCaFileNamingKeyAndPath) {
  auto r = load_upstream("ca_file = \"/nonexistent/wsvisor/ca.pem\"\n");
  EXPECT_TRUE(has_error(r, "upstream[0].ca_file", 5,
                        "cannot read CA file \"/nonexistent/wsvisor/ca.pem\": No such file"));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
  auto dir = load_upstream("ca_file = \"" + std::string{WSVISOR_SOURCE_DIR} + "\"\n");
  EXPECT_TRUE(has_error(dir, "upstream[0].ca_file", 5, "is a directory"));
}

TEST(ConfigUpstreams, RejectsACaFileOnAPlainWsUrl) {
  auto r = load_config_string(R"([[upstream]]
name = "feed"
url = "ws://feed.example/ws"
channel = "feed"
ca_file = ")" + readable_file +
                              "\"\n");
  EXPECT_TRUE(has_error(r, "upstream[0].ca_file", 5, "wss:// URLs only"));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
}

TEST(ConfigUpstreams, RejectsTwoUpstreamsOwningOneChannelNamingBoth) {
  auto r = load_config_string(R"([[upstream]]
name = "a"
url = "ws://a"
channel = "feed"
[[upstream]]
name = "b"
url = "ws://b"
channel = "feed"
)");
  EXPECT_TRUE(
      has_error(r, "upstream[1].channel", 8,
                "channel \"feed\" is owned by two upstreams: \"b\" and \"a\" (upstream[0])"));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
}

TEST(ConfigUpstreams, RejectsChannelsReservedForTheServer) {
  auto r = load_config_string(R"([[upstream]]
name = "a"
url = "ws://a"
channel = "sys.upstream.a"
)");
  EXPECT_TRUE(has_error(r, "upstream[0].channel", 4, "reserved"));
  EXPECT_TRUE(has_error(r, "upstream[0].channel", 4, "got \"sys.upstream.a\""));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
  auto near_miss = load_config_string(R"([[upstream]]
name = "a"
url = "ws://a"
channel = "sys:a"
)");
  EXPECT_TRUE(near_miss.ok()) << all_errors(near_miss);
}

}  // namespace
}  // namespace wsvisor
