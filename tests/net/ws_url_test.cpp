#include "net/ws_url.hpp"

#include <gtest/gtest.h>

namespace wsvisor::net {
namespace {

TEST(WsUrl, ParsesHostPortAndTarget) {
  std::string error;
  auto u = parse_ws_url("ws://127.0.0.1:8080/ws", error);
  ASSERT_TRUE(u) << error;
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "8080");
  EXPECT_EQ(u->target, "/ws");
  EXPECT_EQ(u->host_header(), "127.0.0.1:8080");
  u = parse_ws_url("ws://[::1]:9/a?b=c", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->target, "/a?b=c");
  EXPECT_EQ(u->host_header(), "[::1]:9");
  u = parse_ws_url("ws://h?x=1", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->target, "/?x=1");
}

TEST(WsUrl, DefaultsThePortToTheScheme) {
  std::string error;
  auto u = parse_ws_url("ws://example.org", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->host_header(), "example.org");
  u = parse_ws_url("wss://example.org/ws", error);
  ASSERT_TRUE(u) << error;
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->host_header(), "example.org");
  u = parse_ws_url("wss://example.org:80/ws", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->host_header(), "example.org:80");
}

TEST(WsUrl, RejectsMalformedUrlsNamingThem) {
  std::string error;
  EXPECT_FALSE(parse_ws_url("http://h/ws", error));
  EXPECT_NE(error.find("http://h/ws"), std::string::npos) << error;
  EXPECT_FALSE(parse_ws_url("ws://:80/ws", error));
  EXPECT_FALSE(parse_ws_url("wss:///ws", error));
  EXPECT_FALSE(parse_ws_url("ws://h:99999/ws", error));
  EXPECT_FALSE(parse_ws_url("ws://h:8x/ws", error));
  EXPECT_FALSE(parse_ws_url("ws://[::1/ws", error));
  EXPECT_FALSE(parse_ws_url("ws://[::1]x/ws", error));
  EXPECT_FALSE(parse_ws_url("ws://user:secret@h/ws", error));
  EXPECT_NE(error.find("user information"), std::string::npos) << error;
  EXPECT_FALSE(parse_ws_url("ws://h/a b", error));  // a space is no URL character
}

TEST(WsUrl, SendsNoFragmentAndKeepsTheTargetAsWritten) {
  std::string error;
  auto u = parse_ws_url("wss://h/feed%20one?k=a%2Bb#top", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->target, "/feed%20one?k=a%2Bb");
  u = parse_ws_url("ws://h#top", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->target, "/");
}

}  // namespace
}  // namespace wsvisor::net
