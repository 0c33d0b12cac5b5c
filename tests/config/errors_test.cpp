// Every class of config error names the key path and the line. Each TOML
// text starts on line 1 right after R"(, so line numbers read off directly.

#include "config/loader.hpp"

#include <gtest/gtest.h>

#include "tests/config/error_matchers.hpp"

namespace wsvisor {
namespace {

using testing::all_errors;
using testing::has_error;

TEST(ConfigErrors, ReportsATomlSyntaxErrorWithItsLine) {
  auto r = load_config_string(R"([server]
io_threads = 2
listen = "127.0.0.1:8080
)");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].line, 3);
  EXPECT_EQ(r.errors[0].key, "");
  EXPECT_FALSE(r.errors[0].message.empty());
}

TEST(ConfigErrors, RejectsUnknownKeyWithSuggestion) {
  auto r = load_config_string(R"([session]
resume_window = "5s"
resume_windw = "5s"
)");
  EXPECT_TRUE(has_error(r, "session.resume_windw", 3, "did you mean `resume_window`?"));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
}

TEST(ConfigErrors, RejectsUnknownTableWithSuggestion) {
  auto r = load_config_string(R"([sesion]
resume_window = "5s"
)");
  EXPECT_TRUE(has_error(r, "sesion", 1, "unknown table; did you mean `session`?"));
}

TEST(ConfigErrors, SuggestsByCommonPrefixAndListsKeysWhenNothingIsClose) {
  auto r = load_config_string(R"([policies.upstream]
backoff = "1s"
[server]
colour = "blue"
)");
  EXPECT_TRUE(has_error(r, "policies.upstream.backoff", 2, "did you mean `backoff_"));
  EXPECT_TRUE(has_error(r, "server.colour", 4, "expected one of: listen, path,"));
}

TEST(ConfigErrors, RejectsUnknownKeysInPoliciesUpstreamsAndCluster) {
  auto r = load_config_string(R"([policies.root]
max_restart = 3
[[upstream]]
name = "a"
url = "ws://h"
channel = "c"
bufer = 3
[cluster]
peer = ["a:1"]
)");
  EXPECT_TRUE(has_error(r, "policies.root.max_restart", 2, "did you mean `max_restarts`?"));
  EXPECT_TRUE(has_error(r, "upstream[0].bufer", 7, "did you mean `buffer`?"));
  EXPECT_TRUE(has_error(r, "cluster.peer", 9, "did you mean `peers`?"));
}

TEST(ConfigErrors, RejectsValuesOfTheWrongType) {
  auto r = load_config_string(R"([session]
resume_window = 30
replay_buffer = 1.5
[cluster]
enabled = "true"
node = 7
peers = "a:1"
[policies.root]
backoff_multiplier = "2"
[log]
level = 3
)");
  EXPECT_TRUE(
      has_error(r, "session.resume_window", 2, "expected a duration like \"30s\", got integer 30"));
  EXPECT_TRUE(has_error(r, "session.replay_buffer", 3, "expected an integer, got float 1.5"));
  EXPECT_TRUE(has_error(r, "cluster.enabled", 5, "expected true or false, got \"true\""));
  EXPECT_TRUE(has_error(r, "cluster.node", 6, "expected a string, got integer 7"));
  EXPECT_TRUE(has_error(r, "cluster.peers", 7, "expected an array of strings"));
  EXPECT_TRUE(has_error(r, "policies.root.backoff_multiplier", 9, "expected a number"));
  EXPECT_TRUE(has_error(r, "log.level", 11, "got integer 3"));
  EXPECT_EQ(r.errors.size(), 7u) << all_errors(r);
}

TEST(ConfigErrors, RejectsATableGivenAsAValueAndAPlainUpstreamTable) {
  auto r = load_config_string(R"(session = 5
[upstream]
name = "a"
)");
  EXPECT_TRUE(has_error(r, "session", 1, "expected a table, got integer 5"));
  EXPECT_TRUE(has_error(r, "upstream", 2, "expected [[upstream]] tables"));
}

TEST(ConfigErrors, RejectsUnparsableDurationsAndSizes) {
  auto r = load_config_string(R"([session]
resume_window = "soon"
heartbeat_interval = "1.5s"
replay_buffer_bytes = "4MB"
[server]
max_message_bytes = true
)");
  EXPECT_TRUE(
      has_error(r, "session.resume_window", 2, "expected a duration like \"30s\", got \"soon\""));
  EXPECT_TRUE(has_error(r, "session.heartbeat_interval", 3, "got \"1.5s\""));
  EXPECT_TRUE(has_error(r, "session.replay_buffer_bytes", 4, "expected a size like \"64KiB\""));
  EXPECT_TRUE(has_error(r, "server.max_message_bytes", 6, "got true"));
  EXPECT_EQ(r.errors.size(), 4u) << all_errors(r);
}

TEST(ConfigErrors, RejectsOutOfRangeValues) {
  auto r = load_config_string(R"([server]
max_message_bytes = 63
max_connections = 0
io_threads = 65
actor_threads = 257
handshake_timeout = "0ms"
[session]
resume_window = "25h"
replay_buffer = 0
replay_buffer_bytes = "1023B"
[policies.upstream]
backoff_multiplier = 0.5
max_restarts = -1
[[upstream]]
name = "a"
url = "ws://h"
channel = "c"
buffer = -1
)");
  EXPECT_TRUE(
      has_error(r, "server.max_message_bytes", 2, "must be between 64 bytes and 64MiB, got 63"));
  EXPECT_TRUE(has_error(r, "server.max_connections", 3, "must be at least 1, got 0"));
  EXPECT_TRUE(has_error(r, "server.io_threads", 4, "must be between 0 and 64, got 65"));
  EXPECT_TRUE(has_error(r, "server.actor_threads", 5, "must be between 0 and 256, got 257"));
  EXPECT_TRUE(has_error(r, "server.handshake_timeout", 6, "must be between 1ms and 24h"));
  EXPECT_TRUE(has_error(r, "session.resume_window", 8, "got \"25h\""));
  EXPECT_TRUE(has_error(r, "session.replay_buffer", 9, "must be at least 1"));
  EXPECT_TRUE(has_error(r, "session.replay_buffer_bytes", 10, "must be between 1KiB and 1GiB"));
  EXPECT_TRUE(
      has_error(r, "policies.upstream.backoff_multiplier", 12, "between 1.0 and 100.0, got 0.5"));
  EXPECT_TRUE(has_error(r, "policies.upstream.max_restarts", 13, "got -1"));
  EXPECT_TRUE(has_error(r, "upstream[0].buffer", 18, "must be at least 0, got -1"));
  EXPECT_EQ(r.errors.size(), 11u) << all_errors(r);
}

TEST(ConfigErrors, RejectsABadLogRepeatIntervalNamingTheKeyAndTheValue) {
  auto r = load_config_string(R"([log]
repeat_interval = "25h"
)");
  EXPECT_TRUE(has_error(r, "log.repeat_interval", 2, "must be between 0ms and 24h, got \"25h\""));
  auto unitless = load_config_string("[log]\nrepeat_interval = 10\n");
  EXPECT_TRUE(has_error(unitless, "log.repeat_interval", 2,
                        "expected a duration like \"30s\", got integer 10"));
  auto negative = load_config_string("[log]\nrepeat_interval = \"-1s\"\n");
  EXPECT_TRUE(has_error(negative, "log.repeat_interval", 2, "got \"-1s\""));
  EXPECT_EQ(r.errors.size() + unitless.errors.size() + negative.errors.size(), 3u);
}

TEST(ConfigErrors, AcceptsTheEdgesOfEveryRange) {
  auto r = load_config_string(R"([server]
listen = "127.0.0.1:0"
max_message_bytes = "64MiB"
send_queue_bytes = "1GiB"
io_threads = 64
actor_threads = 256
handshake_timeout = "1ms"
[session]
resume_window = "24h"
replay_buffer_bytes = "1KiB"
heartbeat_interval = "1ms"
heartbeat_timeout = "2ms"
[policies.upstream]
backoff_multiplier = 100.0
max_restarts = 4294967295
[cluster]
listen = "localhost:65535"
)");
  EXPECT_TRUE(r.ok()) << all_errors(r);
  auto smallest_queue =
      load_config_string("[server]\nsend_queue_bytes = \"1KiB\"\nmax_message_bytes = \"1KiB\"\n");
  EXPECT_TRUE(smallest_queue.ok()) << all_errors(smallest_queue);
  auto too_far = load_config_string("[server]\nlisten = \"127.0.0.1:65536\"\n");
  EXPECT_TRUE(has_error(too_far, "server.listen", 2, "expected host:port"));
}

TEST(ConfigErrors, RejectsBadEnumNamesListingTheAcceptedOnes) {
  auto r = load_config_string(R"([log]
level = "loud"
format = "xml"
[policies.root]
restart = "forever"
strategy = "one-for-one"
jitter = "some"
on_give_up = "restart"
)");
  EXPECT_TRUE(has_error(r, "log.level", 2,
                        "one of trace|debug|info|warn|error|critical|off, got \"loud\""));
  EXPECT_TRUE(has_error(r, "log.format", 3, "one of text|json"));
  EXPECT_TRUE(has_error(r, "policies.root.restart", 5, "one of permanent|transient|temporary"));
  EXPECT_TRUE(
      has_error(r, "policies.root.strategy", 6, "one of one_for_one|one_for_all|rest_for_one"));
  EXPECT_TRUE(has_error(r, "policies.root.jitter", 7, "one of none|full|equal|decorrelated"));
  EXPECT_TRUE(has_error(r, "policies.root.on_give_up", 8, "one of escalate|stop"));
  auto s = load_config_string("[server]\nactor_scheduler = \"fifo\"\n");
  EXPECT_TRUE(
      has_error(s, "server.actor_scheduler", 2, "one of io|auto|stealing|sharing, got \"fifo\""));
}

TEST(ConfigErrors, RejectsMalformedAddressesUrlsPathsAndNames) {
  auto r = load_config_string(R"([server]
listen = "localhost"
path = "ws"
[[upstream]]
name = "feed/1"
url = "http://example.com/"
channel = "a b"
[[upstream]]
name = "ok"
url = "ws:///path"
channel = ""
[cluster]
listen = "[::1:7070"
peers = ["10.0.0.2:7070", "999.1.1.1:80", "::1:80"]
public_url = "https://example.com"
node = "a b"
)");
  EXPECT_TRUE(has_error(r, "server.listen", 2, "expected host:port"));
  EXPECT_TRUE(has_error(r, "server.path", 3, "starting with \"/\""));
  EXPECT_TRUE(has_error(r, "upstream[0].name", 5, "got \"feed/1\""));
  EXPECT_TRUE(has_error(r, "upstream[0].url", 6, "expected a ws:// or wss:// URL"));
  EXPECT_TRUE(has_error(r, "upstream[0].channel", 7, "got \"a b\""));
  EXPECT_TRUE(has_error(r, "upstream[1].url", 10, "with a host"));
  EXPECT_TRUE(has_error(r, "upstream[1].channel", 11, "got \"\""));
  EXPECT_TRUE(has_error(r, "cluster.listen", 13, "expected host:port"));
  EXPECT_TRUE(has_error(r, "cluster.peers[1]", 14, "got \"999.1.1.1:80\""));
  EXPECT_TRUE(has_error(r, "cluster.peers[2]", 14, "got \"::1:80\""));
  EXPECT_TRUE(has_error(r, "cluster.public_url", 15, "ws:// or wss://"));
  EXPECT_TRUE(has_error(r, "cluster.node", 16, "got \"a b\""));
  EXPECT_EQ(r.errors.size(), 12u) << all_errors(r);
}

TEST(ConfigErrors, RejectsBackoffMinAboveBackoffMax) {
  auto r = load_config_string(R"([policies.upstream]
backoff_max = "100ms"
)");
  EXPECT_TRUE(has_error(r, "policies.upstream.backoff_max", 2,
                        "backoff_min (200ms) must not exceed backoff_max (100ms)"));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
}

TEST(ConfigErrors, RejectsASendQueueOutsideItsRange) {
  auto r = load_config_string("[server]\nsend_queue_bytes = \"1023B\"\n");
  EXPECT_TRUE(has_error(r, "server.send_queue_bytes", 2, "must be between 1KiB and 1GiB"));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
  auto big = load_config_string("[server]\nsend_queue_bytes = \"2GiB\"\n");
  EXPECT_TRUE(has_error(big, "server.send_queue_bytes", 2, "must be between 1KiB and 1GiB"));
}

TEST(ConfigErrors, RejectsASendQueueSmallerThanTheLargestMessage) {
  // Reported at the key the file set: here only max_message_bytes.
  auto r = load_config_string("[server]\nmax_message_bytes = \"2MiB\"\n");
  EXPECT_TRUE(has_error(r, "server.max_message_bytes", 2,
                        "send_queue_bytes (1MiB) must be at least max_message_bytes (2MiB)"));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
  auto both = load_config_string(
      "[server]\nsend_queue_bytes = \"64KiB\"\nmax_message_bytes = \"128KiB\"\n");
  EXPECT_TRUE(has_error(both, "server.send_queue_bytes", 2, "must be at least max_message_bytes"));
  EXPECT_EQ(both.errors.size(), 1u) << all_errors(both);
}

TEST(ConfigErrors, RejectsHeartbeatTimeoutNotAboveTheInterval) {
  auto r = load_config_string(R"([session]
heartbeat_interval = "30s"
heartbeat_timeout = "30s"
)");
  EXPECT_TRUE(
      has_error(r, "session.heartbeat_timeout", 3, "must be greater than heartbeat_interval"));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
}

TEST(ConfigErrors, RejectsClusterHeartbeatNotBelowPeerTimeout) {
  auto r = load_config_string(R"([cluster]
heartbeat_interval = "5s"
)");
  EXPECT_TRUE(has_error(r, "cluster.heartbeat_interval", 2, "must be less than peer_timeout (5s)"));
}

TEST(ConfigErrors, RejectsAnEnabledClusterWithoutPublicUrl) {
  auto r = load_config_string(R"([cluster]
node = "a"
enabled = true
)");
  EXPECT_TRUE(has_error(r, "cluster.enabled", 3, "cluster.public_url"));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
}

TEST(ConfigErrors, StaysQuietAboutPairsWhoseValueWasAlreadyRejected) {
  auto r = load_config_string(R"([session]
heartbeat_interval = "soon"
heartbeat_timeout = "1s"
)");
  EXPECT_TRUE(has_error(r, "session.heartbeat_interval", 2));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
}

TEST(ConfigErrors, RejectsReferencesToUndefinedPoliciesNamingTheKnownOnes) {
  auto r = load_config_string(R"([[upstream]]
name = "a"
url = "ws://h"
channel = "c"
policy = "fastt"
[cluster]
policy = "clustr"
)");
  EXPECT_TRUE(has_error(r, "upstream[0].policy", 5,
                        "unknown policy \"fastt\"; defined policies: cluster, root, upstream"));
  EXPECT_TRUE(has_error(r, "cluster.policy", 7, "unknown policy \"clustr\""));
}

TEST(ConfigErrors, RejectsBadPolicyNamesAndNonTablePolicies) {
  auto r = load_config_string(R"([policies."a.b"]
max_restarts = 1
[policies]
fast = 3
)");
  EXPECT_TRUE(has_error(r, "policies.\"a.b\"", 1, "policy name"));
  EXPECT_TRUE(has_error(r, "policies.fast", 4, "expected a table"));
}

TEST(ConfigErrors, RejectsDuplicateUpstreamNames) {
  auto r = load_config_string(R"([[upstream]]
name = "feed"
url = "ws://a"
channel = "a"
[[upstream]]
name = "feed"
url = "ws://b"
channel = "b"
)");
  EXPECT_TRUE(has_error(r, "upstream[1].name", 6, "duplicate upstream name \"feed\""));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
}

TEST(ConfigErrors, RejectsAnUpstreamMissingRequiredKeys) {
  auto r = load_config_string(R"([[upstream]]
name = "a"
url = "ws://a"
channel = "a"

[[upstream]]
url = "ws://b"
)");
  EXPECT_TRUE(has_error(r, "upstream[1].name", 6, "missing required key `name`"));
  EXPECT_TRUE(has_error(r, "upstream[1].channel", 6, "missing required key `channel`"));
  EXPECT_EQ(r.errors.size(), 2u) << all_errors(r);
}

TEST(ConfigErrors, RejectsAShortOrSpacedApiTokenWithoutShowingIt) {
  auto r = load_config_string(R"([api]
token = "tooshort"
)");
  EXPECT_TRUE(has_error(r, "api.token", 2, "must be empty or at least 16 characters, got 8"));
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors.at(0).message.find("tooshort"), std::string::npos);
  auto spaced = load_config_string(R"([api]
token = "long enough but spaced"
)");
  EXPECT_TRUE(has_error(spaced, "api.token", 2, "must not contain whitespace"));
  EXPECT_EQ(spaced.errors.at(0).message.find("spaced"), std::string::npos);
  auto tab = load_config_string("[api]\ntoken = \"0123456789abcdef\\t\"\n");
  EXPECT_TRUE(has_error(tab, "api.token", 2, "must not contain whitespace"));
  auto typed = load_config_string("[api]\ntoken = 1234567890123456\n");
  EXPECT_TRUE(has_error(typed, "api.token", 2, "expected a string, got integer"));
  auto unknown = load_config_string("[api]\ntokens = \"x\"\n");
  EXPECT_TRUE(has_error(unknown, "api.tokens", 2, "did you mean `token`?"));
}

TEST(ConfigErrors, AcceptsAnEmptyApiTokenAndOneOfSixteenCharacters) {
  auto empty = load_config_string("[api]\ntoken = \"\"\n");
  EXPECT_TRUE(empty.ok()) << all_errors(empty);
  auto sixteen = load_config_string("[api]\ntoken = \"0123456789abcdef\"\n");
  ASSERT_TRUE(sixteen.ok()) << all_errors(sixteen);
  EXPECT_EQ(sixteen.cfg.api.token, "0123456789abcdef");
}

TEST(ConfigErrors, ReportsAllErrorsAtOnceInLineOrder) {
  auto r = load_config_string(R"([session]
resume_window = "soon"
[server]
io_threads = 65
[log]
formt = "json"
)");
  ASSERT_EQ(r.errors.size(), 3u) << all_errors(r);
  EXPECT_EQ(r.errors[0].key, "session.resume_window");
  EXPECT_EQ(r.errors[0].line, 2);
  EXPECT_EQ(r.errors[1].key, "server.io_threads");
  EXPECT_EQ(r.errors[1].line, 4);
  EXPECT_EQ(r.errors[2].key, "log.formt");
  EXPECT_EQ(r.errors[2].line, 6);
}

}  // namespace
}  // namespace wsvisor
