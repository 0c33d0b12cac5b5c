#include "config/loader.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/units.hpp"
#include "tests/config/error_matchers.hpp"

namespace wsvisor {
namespace {

using namespace std::chrono_literals;
using testing::all_errors;
using testing::has_error;

const std::string defaults_file = std::string{WSVISOR_SOURCE_DIR} + "/config/wsvisor.toml";

TEST(ConfigLoader, ShippedDefaultsFileEqualsTheBuiltInDefaults) {
  auto r = load_config_file(defaults_file);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg, config{});
}

TEST(ConfigLoader, EmptyTextGivesTheBuiltInDefaults) {
  auto r = load_config_string("");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg, config{});
}

TEST(ConfigLoader, NoFileGivesTheBuiltInDefaults) {
  auto r = load_config_defaults();
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg, config{});
}

TEST(ConfigLoader, BuiltInPoliciesExistWhenTheFileNamesNone) {
  auto r = load_config_string("[server]\nio_threads = 2\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.policies, builtin_policies());
  EXPECT_EQ(r.cfg.policies.size(), 3u);
}

TEST(ConfigLoader, MissingKeysKeepTheirDefaults) {
  auto r = load_config_string(R"([session]
resume_window = "5s"
[log]
format = "json"
)");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  config expected;
  expected.session.resume_window = 5s;
  expected.log.format = log_format::json;
  EXPECT_EQ(r.cfg, expected);
}

TEST(ConfigLoader, ReadsEveryKindOfValue) {
  auto r = load_config_string(R"([server]
listen = "[::1]:0"
max_message_bytes = 1024
max_connections = 5
actor_threads = 4
[session]
replay_buffer_bytes = "1MiB"
heartbeat_interval = "250ms"
heartbeat_timeout = "1s"
[log]
level = "debug"
[cluster]
enabled = true
node = "node-a"
peers = ["10.0.0.2:7070", "peer.example:7070"]
public_url = "wss://a.example/ws"
)");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.server.listen, "[::1]:0");
  EXPECT_EQ(r.cfg.server.max_message_bytes, 1024u);
  EXPECT_EQ(r.cfg.server.max_connections, 5u);
  EXPECT_EQ(r.cfg.server.actor_threads, 4u);
  EXPECT_EQ(r.cfg.session.replay_buffer_bytes, 1u << 20);
  EXPECT_EQ(r.cfg.session.heartbeat_interval, 250ms);
  EXPECT_EQ(r.cfg.session.heartbeat_timeout, 1s);
  EXPECT_EQ(r.cfg.log.level, log_level::debug);
  EXPECT_TRUE(r.cfg.cluster.enabled);
  EXPECT_EQ(r.cfg.cluster.node, "node-a");
  EXPECT_EQ(r.cfg.cluster.peers, (std::vector<std::string>{"10.0.0.2:7070", "peer.example:7070"}));
  EXPECT_EQ(r.cfg.cluster.public_url, "wss://a.example/ws");
}

TEST(ConfigLoader, ReadsTheLogRepeatIntervalZeroIncluded) {
  EXPECT_EQ(config{}.log.repeat_interval, 10s);
  auto r = load_config_string("[log]\nrepeat_interval = \"200ms\"\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.log.repeat_interval, 200ms);
  // 0: every repeat is logged.
  auto off = load_config_string("[log]\nrepeat_interval = \"0s\"\n");
  ASSERT_TRUE(off.ok()) << all_errors(off);
  EXPECT_EQ(off.cfg.log.repeat_interval, 0ms);
}

TEST(ConfigLoader, ReadsTheServerDrainTimeout) {
  auto r = load_config_string("[server]\ndrain_timeout = \"2m\"\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.server.drain_timeout, 2min);
  EXPECT_EQ(config{}.server.drain_timeout, 20s);
}

TEST(ConfigLoader, RefusesTheOldClusterDrainTimeoutNamingItsNewKey) {
  auto r = load_config_string("[cluster]\ndrain_timeout = \"2m\"\n");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r, "cluster.drain_timeout", 2, "moved to server.drain_timeout"))
      << all_errors(r);
}

TEST(ConfigLoader, ReadsReadyMinPeersAndWebPagesNamingABadValue) {
  auto r = load_config_string("[cluster]\nready_min_peers = 2\n[web]\npages = false\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.cluster.ready_min_peers, 2u);
  EXPECT_FALSE(r.cfg.web.pages);
  EXPECT_EQ(config{}.cluster.ready_min_peers, 0u);
  EXPECT_TRUE(config{}.web.pages);
  auto bad = load_config_string("[cluster]\nready_min_peers = -1\n[web]\npages = \"no\"\n");
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(has_error(bad, "cluster.ready_min_peers", 2, "must be between 0 and 1000"))
      << all_errors(bad);
  EXPECT_TRUE(has_error(bad, "web.pages", 4, "")) << all_errors(bad);
}

TEST(ConfigLoader, ReadsTheApiToken) {
  auto r = load_config_string("[api]\ntoken = \"s3cr3t-s3cr3t-s3cr3t\"\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.api.token, "s3cr3t-s3cr3t-s3cr3t");
  EXPECT_EQ(config{}.api.token, "");
}

TEST(ConfigLoader, PolicyTableRefinesTheBuiltInPolicyOfThatName) {
  auto r = load_config_string("[policies.root]\nmax_restarts = 9\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  auto expected = builtin_policies().at("root");
  expected.max_restarts = 9;
  EXPECT_EQ(r.cfg.policies.at("root"), expected);
  EXPECT_EQ(r.cfg.policies.at("cluster"), builtin_policies().at("cluster"));
}

TEST(ConfigLoader, NewPolicyStartsFromTheDefaultPolicy) {
  auto r = load_config_string(R"([policies.fast]
backoff_min = "10ms"
backoff_multiplier = 3
[[upstream]]
name = "feed"
url = "ws://127.0.0.1:9000/feed"
channel = "feed"
policy = "fast"
)");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  policy expected;
  expected.backoff_min = 10ms;
  expected.backoff_multiplier = 3.0;
  EXPECT_EQ(r.cfg.policies.at("fast"), expected);
  EXPECT_EQ(r.cfg.policies.size(), 4u);
  ASSERT_EQ(r.cfg.upstreams.size(), 1u);
  EXPECT_EQ(
      r.cfg.upstreams[0],
      (upstream_config{
          .name = "feed", .url = "ws://127.0.0.1:9000/feed", .channel = "feed", .policy = "fast"}));
}

TEST(ConfigLoader, ReportsAnUnreadableFileNamingItsPath) {
  auto path = std::string{"/nonexistent/wsvisor-test/missing.toml"};
  auto r = load_config_file(path);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].line, 0);
  EXPECT_NE(r.errors[0].message.find(path), std::string::npos) << r.errors[0].message;
  EXPECT_EQ(to_string(r.errors[0], path), r.errors[0].message);
}

TEST(ConfigLoader, ReportsADirectoryAsUnreadable) {
  auto r = load_config_file(std::string{WSVISOR_SOURCE_DIR});
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_NE(r.errors[0].message.find("directory"), std::string::npos) << r.errors[0].message;
}

TEST(ConfigLoader, ReadsAFileAndAppliesOverridesOnTop) {
  // The pid keeps concurrent runs of this test (other build dirs) apart.
  auto path = std::filesystem::temp_directory_path() /
              ("wsvisor_loader_test_" + std::to_string(::getpid()) + ".toml");
  {
    std::ofstream out{path};
    out << "[session]\nresume_window = \"5s\"\nreplay_buffer = 7\n";
  }
  auto r = load_config_file(path.string(), {"session.replay_buffer=8"});
  std::filesystem::remove(path);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.session.resume_window, 5s);
  EXPECT_EQ(r.cfg.session.replay_buffer, 8u);
}

TEST(ConfigLoader, FormatsErrorsWithSourceLineAndKey) {
  EXPECT_EQ(to_string({"session.resume_window", 3, "bad"}, "wsvisor.toml"),
            "wsvisor.toml:3: session.resume_window: bad");
  EXPECT_EQ(to_string({"session.resume_window", 3, "bad"}), "line 3: session.resume_window: bad");
  EXPECT_EQ(to_string({"session.resume_window", 0, "bad"}, "wsvisor.toml"),
            "--set session.resume_window: bad");
  EXPECT_EQ(to_string({"", 4, "syntax"}, "a.toml"), "a.toml:4: syntax");
}

TEST(ConfigLoader, FormatsTheDocumentedExampleMessage) {
  auto r = load_config_string("\n\n[session]\nresume_window = \"soon\"\n");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(
      to_string(r.errors[0], "wsvisor.toml"),
      "wsvisor.toml:4: session.resume_window: expected a duration like \"30s\", got \"soon\"");
}

config non_default_config() {
  config c;
  c.server = {.listen = "0.0.0.0:0",
              .path = "/socket",
              .max_message_bytes = 1000,
              .max_connections = 77,
              .send_queue_bytes = 3u << 20,
              .handshake_timeout = 1500ms,
              .io_threads = 2,
              .actor_threads = 3,
              .scheduler = actor_scheduler::sharing};
  c.session = {.resume_window = 2min,
               .replay_buffer = 5,
               .replay_buffer_bytes = 3u << 20,
               .heartbeat_interval = 100ms,
               .heartbeat_timeout = 1h};
  c.log = {.level = log_level::trace, .format = log_format::json, .repeat_interval = 250ms};
  c.policies["root"].max_restarts = 1;
  c.policies["fast"] = policy{.restart = restart_kind::transient,
                              .strategy = strategy_kind::rest_for_one,
                              .backoff_min = 10ms,
                              .backoff_max = 90s,
                              .backoff_multiplier = 1.5,
                              .jitter = jitter_kind::decorrelated,
                              .reset_after = 7s,
                              .max_restarts = 0,
                              .restart_window = 24h,
                              .on_give_up = give_up_action::stop};
  c.upstreams = {
      {.name = "feed", .url = "ws://127.0.0.1:9000/feed", .channel = "feed", .buffer = 0},
      {.name = "quotes.eu",
       .url = "wss://[::1]:443/q?x=\"1\"",
       .channel = "quotes:eu",
       .policy = "fast",
       .buffer = 12345,
       .subprotocols = {"v2.quotes", "quotes"},
       .headers = {{"Authorization", "Bearer \"x\"\t\\y"}, {"X.Tenant!", "a"}, {"x-empty", ""}},
       .connect_timeout = 1500ms,
       .heartbeat_timeout = 0ms,
       .ca_file = defaults_file,
       .required = true,
       .compression = true},
  };
  c.api = {.token = "0123456789abcdef-\"quoted\"-token"};
  c.server.allowed_origins = {"https://app.example", "http://[::1]:3000"};
  c.server.tls = {.cert = defaults_file, .key = defaults_file, .min_version = tls_version::v1_3};
  c.limits = {.connections_per_ip = 0,
              .messages_per_second = 3,
              .message_burst = 4,
              .rate_limit_strikes = 5,
              .subscriptions_per_session = 6,
              .sessions = 7,
              .channels = 0,
              .handshakes_per_second = 9,
              .handshake_burst = 10};
  c.auth = {
      .secret = "0123456789abcdef0123456789abcdef\"!", .audience = "aud \"x\"", .max_failures = 1};
  c.cluster = {.enabled = true,
               .node = "n1",
               .listen = "127.0.0.1:0",
               .peers = {"10.0.0.2:7070", "[fe80::1]:7070"},
               .public_url = "ws://n1.example:8080/ws",
               .heartbeat_interval = 250ms,
               .peer_timeout = 3s,
               .policy = "fast"};
  c.server.drain_timeout = 45s;
  c.server.compression = {
      .enabled = true, .level = 6, .window_bits = 10, .context_takeover = false, .threshold = 0};
  return c;
}

TEST(ConfigLoader, ToTomlRoundTripsANonDefaultConfig) {
  auto c = non_default_config();
  auto text = to_toml(c);
  auto r = load_config_string(text);
  ASSERT_TRUE(r.ok()) << all_errors(r) << text;
  EXPECT_EQ(r.cfg, c) << text;
}

TEST(ConfigLoader, ToTomlRoundTripsTheDefaults) {
  auto r = load_config_string(to_toml(config{}));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg, config{});
}

TEST(ConfigLoader, ToTomlWritesDurationsSizesPoliciesAndUpstreams) {
  auto text = to_toml(non_default_config());
  for (auto expected :
       {"handshake_timeout = \"1500ms\"",
        "resume_window = \"2m\"",
        "replay_buffer_bytes = \"3MiB\"",
        "max_message_bytes = \"1000\"",
        "send_queue_bytes = \"3MiB\"",
        "[policies.fast]",
        "[policies.root]",
        "[policies.upstream]",
        "[policies.cluster]",
        "[[upstream]]",
        "backoff_multiplier = 1.5",
        "backoff_multiplier = 2.0",
        "peers = [\"10.0.0.2:7070\", \"[fe80::1]:7070\"]",
        "enabled = true",
        "[api]",
        "subprotocols = [\"v2.quotes\", \"quotes\"]",
        "subprotocols = []",
        "headers = {}",
        "headers = { Authorization = \"Bearer \\\"x\\\"\\t\\\\y\", \"X.Tenant!\" = \"a\", "
        "x-empty = \"\" }",
        "connect_timeout = \"1500ms\"",
        "heartbeat_timeout = \"0ms\"",
        "heartbeat_timeout = \"30s\"",
        "ca_file = \"\"",
        "compression = true",
        "compression = false",
        "[server.tls]",
        "min_version = \"1.3\"",
        "[server.compression]",
        "window_bits = 10",
        "context_takeover = false",
        "threshold = \"0\"",
        "allowed_origins = [\"https://app.example\", \"http://[::1]:3000\"]",
        "[limits]",
        "handshake_burst = 10",
        "[auth]",
        "max_failures = 1",
        "repeat_interval = \"250ms\""})
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
}

TEST(ConfigLoader, CompressionIsOffByDefaultAndReadFromItsTable) {
  EXPECT_FALSE(config{}.server.compression.enabled);
  auto r = load_config_string(
      "[server.compression]\nenabled = true\nlevel = 9\nwindow_bits = 9\n"
      "context_takeover = false\nthreshold = \"1KiB\"\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.cfg.server.compression, (compression_config{.enabled = true,
                                                          .level = 9,
                                                          .window_bits = 9,
                                                          .context_takeover = false,
                                                          .threshold = 1024}));
}

TEST(ConfigLoader, CompressionRejectsLevelsAndWindowsOutsideZlibsRange) {
  auto level = load_config_string("[server.compression]\nlevel = 0\n");
  EXPECT_TRUE(has_error(level, "server.compression.level", 2, "between 1 and 9"));
  auto high = load_config_string("[server.compression]\nlevel = 10\n");
  EXPECT_TRUE(has_error(high, "server.compression.level", 2, "between 1 and 9"));
  auto bits = load_config_string("[server.compression]\nwindow_bits = 8\n");
  EXPECT_TRUE(has_error(bits, "server.compression.window_bits", 2, "between 9 and 15"));
  auto flag = load_config_string("[server.compression]\nenabled = \"yes\"\n");
  EXPECT_TRUE(has_error(flag, "server.compression.enabled", 2, "true or false"));
  auto size = load_config_string("[server.compression]\nthreshold = \"big\"\n");
  EXPECT_TRUE(has_error(size, "server.compression.threshold", 2, ""));
}

}  // namespace
}  // namespace wsvisor
