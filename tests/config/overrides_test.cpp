// --set KEY=VALUE overrides: applied over the file, validated like file
// values, reported with line 0 and the key.

#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "tests/config/error_matchers.hpp"

namespace wsvisor {
namespace {

using namespace std::chrono_literals;
using testing::all_errors;
using testing::has_error;

TEST(ConfigOverrides, ApplyUnquotedValuesOnTopOfTheFile) {
  auto r = load_config_string(
      "[session]\nresume_window = \"10s\"\nreplay_buffer = 5\n", "t.toml",
      {"session.resume_window=5s", "server.listen=127.0.0.1:0", "log.format=json",
       "policies.upstream.max_restarts=3", "cluster.enabled=true", "cluster.public_url=ws://h:1/ws",
       "policies.root.backoff_multiplier=1.5"});
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.session.resume_window, 5s);
  EXPECT_EQ(r.cfg.session.replay_buffer, 5u);
  EXPECT_EQ(r.cfg.server.listen, "127.0.0.1:0");
  EXPECT_EQ(r.cfg.log.format, log_format::json);
  EXPECT_EQ(r.cfg.policies.at("upstream").max_restarts, 3u);
  EXPECT_TRUE(r.cfg.cluster.enabled);
  EXPECT_EQ(r.cfg.cluster.public_url, "ws://h:1/ws");
  EXPECT_EQ(r.cfg.policies.at("root").backoff_multiplier, 1.5);
}

TEST(ConfigOverrides, ApplyWithoutAFile) {
  auto r = load_config_defaults({"server.io_threads=2", "session.replay_buffer_bytes=\"8MiB\""});
  ASSERT_TRUE(r.ok()) << all_errors(r);
  config expected;
  expected.server.io_threads = 2;
  expected.session.replay_buffer_bytes = 8u << 20;
  EXPECT_EQ(r.cfg, expected);
}

TEST(ConfigOverrides, LaterOverridesWin) {
  auto r = load_config_defaults({"server.io_threads=2", "server.io_threads=3"});
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.server.io_threads, 3u);
}

TEST(ConfigOverrides, AcceptTomlArrays) {
  auto r = load_config_defaults({R"(cluster.peers=["a:1", "b:2"])"});
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.cluster.peers, (std::vector<std::string>{"a:1", "b:2"}));
  auto empty = load_config_string("[cluster]\npeers = [\"a:1\"]\n", "t", {"cluster.peers=[]"});
  ASSERT_TRUE(empty.ok()) << all_errors(empty);
  EXPECT_TRUE(empty.cfg.cluster.peers.empty());
}

TEST(ConfigOverrides, TakeNumbersAsTextWhereTextIsExpected) {
  auto r = load_config_defaults({"cluster.node=7", "server.path=/7"});
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.cluster.node, "7");
}

TEST(ConfigOverrides, SetTheApiTokenEvenWhenItLooksLikeANumber) {
  auto r = load_config_defaults({"api.token=s3cr3t-s3cr3t-s3cr3t"});
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.api.token, "s3cr3t-s3cr3t-s3cr3t");
  auto digits = load_config_defaults({"api.token=12345678901234567"});
  ASSERT_TRUE(digits.ok()) << all_errors(digits);
  EXPECT_EQ(digits.cfg.api.token, "12345678901234567");
  auto cleared = load_config_string("[api]\ntoken = \"0123456789abcdef\"\n", "t", {"api.token="});
  ASSERT_TRUE(cleared.ok()) << all_errors(cleared);
  EXPECT_EQ(cleared.cfg.api.token, "");
  auto bad = load_config_defaults({"api.token=short"});
  EXPECT_TRUE(has_error(bad, "api.token", 0, "at least 16 characters"));
}

TEST(ConfigOverrides, CanCreateAPolicy) {
  auto r = load_config_defaults({"policies.fast.backoff_min=10ms", "cluster.policy=fast"});
  ASSERT_TRUE(r.ok()) << all_errors(r);
  policy expected;
  expected.backoff_min = 10ms;
  EXPECT_EQ(r.cfg.policies.at("fast"), expected);
  EXPECT_EQ(r.cfg.cluster.policy, "fast");
}

TEST(ConfigOverrides, RefineAPolicyDefinedInTheFile) {
  auto r = load_config_string("[policies.fast]\nbackoff_min = \"10ms\"\n", "t",
                              {"policies.fast.max_restarts=1"});
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.policies.at("fast").backoff_min, 10ms);
  EXPECT_EQ(r.cfg.policies.at("fast").max_restarts, 1u);
}

TEST(ConfigOverrides, ReportInvalidValuesWithTheKeyAndNoLine) {
  auto r = load_config_defaults({"session.resume_window=soon", "server.io_threads=65",
                                 "log.level=loud", "cluster.peers=a:1", "server.listen=nowhere"});
  EXPECT_TRUE(
      has_error(r, "session.resume_window", 0, "expected a duration like \"30s\", got \"soon\""));
  EXPECT_TRUE(has_error(r, "server.io_threads", 0, "must be between 0 and 64, got 65"));
  EXPECT_TRUE(has_error(r, "log.level", 0, "got \"loud\""));
  EXPECT_TRUE(has_error(r, "cluster.peers", 0, "expected an array of strings"));
  EXPECT_TRUE(has_error(r, "server.listen", 0, "expected host:port"));
  ASSERT_EQ(r.errors.size(), 5u) << all_errors(r);
  EXPECT_EQ(to_string(r.errors[0], "wsvisor.toml"),
            "--set session.resume_window: expected a duration like \"30s\", got \"soon\"");
}

TEST(ConfigOverrides, ReportUnknownKeysWithSuggestion) {
  auto r = load_config_defaults({"session.resume_windw=5s", "sesion.resume_window=5s"});
  EXPECT_TRUE(has_error(r, "session.resume_windw", 0, "did you mean `resume_window`?"));
  EXPECT_TRUE(has_error(r, "sesion", 0, "did you mean `session`?"));
}

TEST(ConfigOverrides, ReportMalformedOverridesNamingThem) {
  auto r = load_config_defaults({"session.resume_window", "=5s", "a..b=1", "upstream.url=ws://x",
                                 "upstream[0].url=ws://x", "session=5"});
  EXPECT_TRUE(has_error(r, "session.resume_window", 0, "expected KEY=VALUE"));
  EXPECT_TRUE(has_error(r, "=5s", 0, "empty key"));
  EXPECT_TRUE(has_error(r, "a..b", 0, "expected a dotted key"));
  EXPECT_TRUE(has_error(r, "upstream.url", 0, "[[upstream]]"));
  EXPECT_TRUE(has_error(r, "upstream[0].url", 0, "[[upstream]]"));
  EXPECT_TRUE(has_error(r, "session", 0, "expected a table, got integer 5"));
  EXPECT_EQ(r.errors.size(), 6u) << all_errors(r);
}

TEST(ConfigOverrides, CannotSmuggleFurtherKeysInAValue) {
  auto r = load_config_defaults({"cluster.node=a\nserver.io_threads = 9"});
  EXPECT_EQ(r.cfg.server.io_threads, 0u);
  EXPECT_TRUE(has_error(r, "cluster.node", 0, "expected 1 to 64"));
}

TEST(ConfigOverrides, AreCheckedTogetherWithTheFile) {
  // The file alone is fine; the override makes the pair inconsistent and the
  // error points at the override, the user's last word.
  auto r = load_config_string("[session]\nheartbeat_timeout = \"40s\"\n", "t",
                              {"session.heartbeat_interval=50s"});
  EXPECT_TRUE(has_error(r, "session.heartbeat_interval", 0, "must be greater than"));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
}

TEST(ConfigOverrides, CanFixAnInconsistencyInTheFile) {
  auto r = load_config_string("[cluster]\nenabled = true\n", "t",
                              {"cluster.public_url=ws://127.0.0.1:8080/ws"});
  EXPECT_TRUE(r.ok()) << all_errors(r);
}

TEST(ConfigOverrides, AreStillCheckedWhenTheFileHasASyntaxError) {
  auto r = load_config_string("[server\n", "t", {"server.io_threads=65"});
  ASSERT_EQ(r.errors.size(), 2u) << all_errors(r);
  EXPECT_EQ(r.errors[0].line, 1);
  EXPECT_TRUE(has_error(r, "server.io_threads", 0));
}

}  // namespace
}  // namespace wsvisor
