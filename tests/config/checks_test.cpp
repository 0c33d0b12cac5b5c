#include "config/checks.hpp"

#include <gtest/gtest.h>

namespace wsvisor {
namespace {

TEST(ParseHostPort, TakesApartHostsNamesAndBracketedIpv6) {
  auto v4 = parse_host_port("127.0.0.1:8080");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8080);
  auto v6 = parse_host_port("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");  // without the brackets
  EXPECT_EQ(v6->port, 0);
  auto name = parse_host_port("wsvisor-2.internal:65535");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "wsvisor-2.internal");
  EXPECT_EQ(name->port, 65535);
}

TEST(ParseHostPort, RefusesWhatIsNotHostColonPort) {
  for (auto bad : {"::1:80", "host", "host:", "host:99999", "host:65536", ":80", "[::1]", "[::1:80",
                   "999.1.1.1:80", "host:8x", "ho st:80", "[]:80", "host:-1"})
    EXPECT_FALSE(parse_host_port(bad)) << bad;
}

TEST(ParseHostPort, AgreesWithIsHostPort) {
  for (auto text : {"127.0.0.1:1", "[::1]:2", "a:3", "::1:80", "x", ":0"})
    EXPECT_EQ(is_host_port(text), parse_host_port(text).has_value()) << text;
}

}  // namespace
}  // namespace wsvisor
