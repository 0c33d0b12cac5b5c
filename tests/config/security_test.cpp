// The keys of docs/security.md: [server] allowed_origins, [server.tls],
// [limits] and [auth]: read, validated with messages naming the key, and
// round-tripped through to_toml.

#include <gtest/gtest.h>

#include <cstdlib>

#include "config/loader.hpp"
#include "tests/config/error_matchers.hpp"
#include "tests/support/tls_cert.hpp"

namespace wsvisor {
namespace {

using test::temp_file;
using testing::all_errors;
using testing::has_error;

const std::string readable_file = std::string{WSVISOR_SOURCE_DIR} + "/config/wsvisor.toml";
const std::string key_32(32, 'k');

TEST(ConfigSecurity, ReadsOriginsTlsLimitsAndAuth) {
  auto r = load_config_string(R"([server]
allowed_origins = ["https://app.example", "http://localhost:3000", "http://[::1]:8080"]
[server.tls]
cert = ")" + readable_file + R"("
key = ")" + readable_file + R"("
min_version = "1.3"
[limits]
connections_per_ip = 0
messages_per_second = 50
message_burst = 5
rate_limit_strikes = 0
subscriptions_per_session = 7
sessions = 8
channels = 9
handshakes_per_second = 10
handshake_burst = 11
[auth]
secret = ")" + key_32 + R"("
audience = "wsvisor"
max_failures = 5
)");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.server.allowed_origins,
            (std::vector<std::string>{"https://app.example", "http://localhost:3000",
                                      "http://[::1]:8080"}));
  EXPECT_TRUE(r.cfg.server.tls.enabled());
  EXPECT_EQ(r.cfg.server.tls.min_version, tls_version::v1_3);
  EXPECT_EQ(r.cfg.limits, (limits_config{.connections_per_ip = 0,
                                         .messages_per_second = 50,
                                         .message_burst = 5,
                                         .rate_limit_strikes = 0,
                                         .subscriptions_per_session = 7,
                                         .sessions = 8,
                                         .channels = 9,
                                         .handshakes_per_second = 10,
                                         .handshake_burst = 11}));
  EXPECT_TRUE(r.cfg.auth.enabled());
  EXPECT_EQ(r.cfg.auth.audience, "wsvisor");
  EXPECT_EQ(r.cfg.auth.max_failures, 5u);
  std::string error;
  EXPECT_EQ(read_auth_secret(r.cfg.auth, error), key_32);
  EXPECT_EQ(error, "");
}

TEST(ConfigSecurity, DefaultsHaveNoTlsNoAuthAndEveryLimitOn) {
  config c;
  EXPECT_FALSE(c.server.tls.enabled());
  EXPECT_FALSE(c.auth.enabled());
  EXPECT_TRUE(c.server.allowed_origins.empty());
  EXPECT_GT(c.limits.connections_per_ip, 0u);
  EXPECT_GT(c.limits.messages_per_second, 0u);
  EXPECT_GT(c.limits.sessions, 0u);
  EXPECT_GT(c.limits.channels, 0u);
  EXPECT_GT(c.limits.subscriptions_per_session, 0u);
  EXPECT_GT(c.limits.handshakes_per_second, 0u);
}

TEST(ConfigSecurity, RejectsBadOriginsNamingTheEntry) {
  for (auto bad : {"app.example", "https://app.example/", "https://app.example/path",
                   "ftp://app.example", "https://", "*"}) {
    auto r = load_config_string("[server]\nallowed_origins = [\"" + std::string{bad} + "\"]\n");
    EXPECT_TRUE(has_error(r, "server.allowed_origins[0]", 2, "expected an origin")) << bad;
  }
}

TEST(ConfigSecurity, TlsNeedsBothCertAndKeyAndReadableFiles) {
  auto only_cert = load_config_string("[server.tls]\ncert = \"" + readable_file + "\"\n");
  EXPECT_TRUE(has_error(only_cert, "server.tls.cert", 2, "needs both cert and key"));
  auto only_key = load_config_string("[server.tls]\nkey = \"" + readable_file + "\"\n");
  EXPECT_TRUE(has_error(only_key, "server.tls.key", 2, "needs both cert and key"));
  auto missing = load_config_string(
      "[server.tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n");
  EXPECT_TRUE(has_error(missing, "server.tls.cert", 2,
                        "cannot read certificate file \"/nonexistent/cert.pem\""));
  EXPECT_TRUE(has_error(missing, "server.tls.key", 3, "cannot read key file"));
  auto version = load_config_string("[server.tls]\nmin_version = \"1.1\"\n");
  EXPECT_TRUE(has_error(version, "server.tls.min_version", 2, "1.2"));
}

TEST(ConfigSecurity, TlsKeysCanBeSetFromTheCommandLine) {
  auto r = load_config_defaults({"server.tls.cert=" + readable_file,
                                 "server.tls.key=" + readable_file, "server.tls.min_version=1.3"});
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.server.tls.cert, readable_file);
  EXPECT_EQ(r.cfg.server.tls.min_version, tls_version::v1_3);
}

TEST(ConfigSecurity, RejectsOutOfRangeLimits) {
  auto r = load_config_string("[limits]\nmessage_burst = 0\nsessions = -1\nchannels = 1.5\n");
  EXPECT_TRUE(has_error(r, "limits.message_burst", 2));
  EXPECT_TRUE(has_error(r, "limits.sessions", 3));
  EXPECT_TRUE(has_error(r, "limits.channels", 4));
  auto unknown = load_config_string("[limits]\nsesions = 5\n");
  EXPECT_TRUE(has_error(unknown, "limits.sesions", 2, "sessions"));
}

TEST(ConfigSecurity, AuthKeyComesFromExactlyOneSource) {
  auto two = load_config_string("[auth]\nsecret = \"" + key_32 + "\"\nsecret_env = \"X\"\n");
  EXPECT_TRUE(has_error(two, "auth.secret", 2, "one way"));
  EXPECT_EQ(two.errors.size(), 1u) << all_errors(two);
}

TEST(ConfigSecurity, ShortAuthKeysAreRejectedWithoutShowingThem) {
  auto r = load_config_string("[auth]\nsecret = \"short-secret\"\n");
  ASSERT_TRUE(has_error(r, "auth.secret", 2, "holds 12 bytes; an HS256 key needs at least 32"));
  for (const auto& e : r.errors) EXPECT_EQ(e.message.find("short-secret"), std::string::npos);
}

TEST(ConfigSecurity, AuthKeyFromAFileDropsOneTrailingNewline) {
  temp_file file{key_32 + "\n"};
  auto r = load_config_string("[auth]\nsecret_file = \"" + file.path() + "\"\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  std::string error;
  EXPECT_EQ(read_auth_secret(r.cfg.auth, error), key_32);
  temp_file short_file{"0123456789\n"};
  auto bad = load_config_string("[auth]\nsecret_file = \"" + short_file.path() + "\"\n");
  EXPECT_TRUE(has_error(bad, "auth.secret_file", 2, "holds 10 bytes"));
  auto missing = load_config_string("[auth]\nsecret_file = \"/nonexistent/key\"\n");
  EXPECT_TRUE(has_error(missing, "auth.secret_file", 2, "cannot read secret file"));
  EXPECT_EQ(missing.errors.size(), 1u) << all_errors(missing);
}

TEST(ConfigSecurity, AuthKeyFromTheEnvironment) {
  ::setenv("WSVISOR_TEST_JWT_KEY", key_32.c_str(), 1);
  auto r = load_config_string("[auth]\nsecret_env = \"WSVISOR_TEST_JWT_KEY\"\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  std::string error;
  EXPECT_EQ(read_auth_secret(r.cfg.auth, error), key_32);
  ::unsetenv("WSVISOR_TEST_JWT_KEY");
  auto unset = load_config_string("[auth]\nsecret_env = \"WSVISOR_TEST_JWT_KEY\"\n");
  EXPECT_TRUE(has_error(unset, "auth.secret_env", 2, "WSVISOR_TEST_JWT_KEY is not set"));
  auto bad_name = load_config_string("[auth]\nsecret_env = \"1-KEY\"\n");
  EXPECT_TRUE(has_error(bad_name, "auth.secret_env", 2, "environment variable name"));
}

TEST(ConfigSecurity, MaxFailuresIsBounded) {
  auto r = load_config_string("[auth]\nmax_failures = 0\n");
  EXPECT_TRUE(has_error(r, "auth.max_failures", 2, "between 1 and 1000"));
}

}  // namespace
}  // namespace wsvisor
