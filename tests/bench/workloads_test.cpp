// Every workload of the load generator, run as the benchmark runs it (the
// wsbench binary against a server process) at a tiny scale. What is checked
// is the generator's counting, never a speed: messages counted, nothing
// lost or repeated where the server loses nothing, and loss or repeats
// reported where a peer drops or repeats messages on purpose.

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "tests/support/cluster_nodes.hpp"
#include "tests/support/process.hpp"

namespace wsbench {
namespace {

using namespace std::chrono_literals;
using wsvisor::test::child_process;
namespace json = boost::json;
namespace fs = std::filesystem;

/// A server under test and the port it listens on.
struct server {
  std::unique_ptr<child_process> proc;
  std::uint16_t port = 0;
  std::string pid() const { return std::to_string(proc->pid()); }
};

server start_wsvisor(std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--set", "server.listen=127.0.0.1:0", "--set", "log.level=info"};
  args.insert(args.end(), extra.begin(), extra.end());
  server s{std::make_unique<child_process>(WSVISOR_BINARY, args)};
  auto line = s.proc->wait_for_stderr_line(
      [](const std::string& l) { return l.find("listening") != std::string::npos; });
  if (!line) {
    ADD_FAILURE() << "wsvisor did not start:\n" << s.proc->stderr_text();
    return s;
  }
  auto at = line->find("127.0.0.1:");
  if (at != std::string::npos)
    s.port = static_cast<std::uint16_t>(std::stoi(line->substr(at + 10)));
  return s;
}

/// The peers of tools/bench print "listening PORT" on stdout.
server start_peer(const std::string& program, std::vector<std::string> args) {
  server s{std::make_unique<child_process>(program, args)};
  auto line = s.proc->wait_for_stdout_line(
      [](const std::string& l) { return l.rfind("listening ", 0) == 0; });
  if (!line) {
    ADD_FAILURE() << program << " did not start:\n"
                  << s.proc->stdout_text() << s.proc->stderr_text();
    return s;
  }
  s.port = static_cast<std::uint16_t>(std::stoi(line->substr(10)));
  return s;
}

/// Runs wsbench with `all` to completion, calling `meanwhile` while it runs,
/// and returns its JSON object.
json::object run_wsbench(const std::vector<std::string>& all,
                         const std::function<void()>& meanwhile) {
  child_process b{WSBENCH_BINARY, all};
  std::optional<int> status;
  auto deadline = std::chrono::steady_clock::now() + 90s;
  while (!(status = b.wait_exit(20ms)) && std::chrono::steady_clock::now() < deadline) meanwhile();
  EXPECT_EQ(status, 0) << b.stderr_text();
  boost::system::error_code ec;
  auto v = json::parse(b.stdout_text(), ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "not one JSON object: " << b.stdout_text() << "\n" << b.stderr_text();
    return {};
  }
  return v.get_object();
}

/// Likewise while `s` runs.
json::object run_wsbench(const server& s, const std::vector<std::string>& all) {
  // The server's output is drained while the generator runs: a server that
  // logs every session would otherwise fill its pipe and stall.
  return run_wsbench(
      all, [&] { s.proc->wait_for_stderr_line([](const std::string&) { return false; }, 20ms); });
}

/// Runs wsbench against `s` with short windows and returns its JSON object.
json::object bench(const server& s, const std::string& dialect, std::vector<std::string> args) {
  std::vector<std::string> all{"--dialect",    dialect, "--port",   std::to_string(s.port),
                               "--server-pid", s.pid(), "--warmup", "0.2",
                               "--duration",   "0.5",   "--settle", "0.2",
                               "--timeout",    "30"};
  all.insert(all.end(), args.begin(), args.end());
  return run_wsbench(s, all);
}

std::uint64_t u(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) {
    ADD_FAILURE() << "no " << key << " in " << json::serialize(o);
    return 0;
  }
  return v->is_double() ? static_cast<std::uint64_t>(v->get_double())
                        : v->to_number<std::uint64_t>();
}

double d(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) {
    ADD_FAILURE() << "no " << key << " in " << json::serialize(o);
    return 0;
  }
  return v->to_number<double>();
}

void expect_clean(const json::object& r) {
  EXPECT_EQ(u(r, "failed_clients"), 0u) << json::serialize(r);
  EXPECT_EQ(u(r, "protocol_errors"), 0u) << json::serialize(r);
  EXPECT_FALSE(r.contains("first_error")) << json::serialize(r);
}

void expect_round_trips(const json::object& r) {
  expect_clean(r);
  EXPECT_GT(u(r, "messages"), 0u);
  EXPECT_EQ(u(r, "rtt_samples"), u(r, "messages"));
  EXPECT_EQ(u(r, "unexpected"), 0u);
  EXPECT_GT(d(r, "rate"), 0);
  EXPECT_LE(d(r, "rtt_p50_us"), d(r, "rtt_p99_us"));
  EXPECT_TRUE(r.contains("gen_cpu") && r.contains("server_cpu")) << json::serialize(r);
}

void expect_lossless_fanout(const json::object& r) {
  expect_clean(r);
  EXPECT_GT(u(r, "sent"), 0u);
  EXPECT_GT(u(r, "delivered"), 0u);
  EXPECT_EQ(u(r, "lost"), 0u) << json::serialize(r);
  EXPECT_EQ(u(r, "duplicates"), 0u) << json::serialize(r);
  EXPECT_EQ(u(r, "seq_errors"), 0u);
  EXPECT_EQ(u(r, "unexpected"), 0u);
}

void expect_lossless_storm(const json::object& r, std::uint64_t n) {
  expect_clean(r);
  EXPECT_EQ(u(r, "resumed"), n) << json::serialize(r);
  EXPECT_EQ(u(r, "not_resumed"), 0u) << json::serialize(r);
  EXPECT_TRUE(r.at("all_resumed").as_bool());
  EXPECT_EQ(u(r, "resume_samples"), n);
  EXPECT_GT(u(r, "sent"), 0u);
  EXPECT_EQ(u(r, "lost"), 0u) << json::serialize(r);
  EXPECT_EQ(u(r, "duplicates"), 0u) << json::serialize(r);
  EXPECT_GT(d(r, "storm_ms"), 0);
}

// ---- wsvisor -----------------------------------------------------------------

TEST(BenchWorkloads, RoundTripAgainstWsvisorTimesEveryEcho) {
  auto s = start_wsvisor();
  expect_round_trips(bench(s, "wsvisor", {"--workload", "roundtrip", "-n", "3"}));
}

TEST(BenchWorkloads, FanOutAgainstWsvisorDeliversEveryMessageOnce) {
  auto s = start_wsvisor();
  auto r = bench(s, "wsvisor", {"--workload", "fanout", "-n", "5", "--ack-every", "4"});
  expect_lossless_fanout(r);
}

TEST(BenchWorkloads, RoundTripAndFanOutOverMessagePackCountLikeJson) {
  // The bench's wsvisor-msgpack rows: wsbench --format msgpack against a
  // real server, every frame a MessagePack map in a binary message.
  auto s = start_wsvisor();
  expect_round_trips(
      bench(s, "wsvisor", {"--workload", "roundtrip", "-n", "3", "--format", "msgpack"}));
  auto r = bench(s, "wsvisor",
                 {"--workload", "fanout", "-n", "4", "--ack-every", "4", "--format", "msgpack"});
  expect_lossless_fanout(r);
}

TEST(BenchWorkloads, FanOutWithDeflateCountsCompressedConnectionsAndFewerBytesOnTheWire) {
  // The bench's compression rows: market-tick payloads, subscribers that
  // offer permessage-deflate, bytes on the wire per delivery from TCP_INFO.
  auto plain = start_wsvisor();
  std::vector<std::string> args{"--workload", "fanout",   "-n",    "4",         "--payload",
                                "280",        "--filler", "ticks", "--deflate", "on"};
  auto off = bench(plain, "wsvisor", args);
  expect_lossless_fanout(off);
  EXPECT_EQ(u(off, "compressed_connections"), 0u);  // offered, not answered
  // A message frame holds at least its 280-byte payload.
  EXPECT_GT(d(off, "wire_bytes_per_delivery"), 280) << json::serialize(off);

  auto deflating = start_wsvisor({"--set", "server.compression.enabled=true"});
  auto on = bench(deflating, "wsvisor", args);
  expect_lossless_fanout(on);
  EXPECT_EQ(u(on, "compressed_connections"), 4u) << json::serialize(on);
  EXPECT_GT(d(on, "wire_bytes_per_delivery"), 0);
  EXPECT_LT(d(on, "wire_bytes_per_delivery"), d(off, "wire_bytes_per_delivery") * 0.8)
      << json::serialize(on) << "\n"
      << json::serialize(off);
}

TEST(BenchWorkloads, FanOutOverTheNodesOfAClusterDeliversEveryMessageOnce) {
  // --ports names a cluster's nodes: subscribers round robin, the publisher on
  // the first. One server named twice stands in for two nodes here; the
  // bench's cluster stage runs real ones (tools/bench/run_bench.py). Without
  // the per-connection rate limit, as in the bench: a fast machine publishes
  // past its burst within the warm-up.
  auto s = start_wsvisor({"--set", "limits.messages_per_second=0"});
  auto port = std::to_string(s.port);
  auto r = run_wsbench(s, {"--workload", "fanout", "--dialect", "wsvisor", "--ports",
                           port + "," + port, "--server-pid", s.pid() + "," + s.pid(), "-n", "5",
                           "--warmup", "0.2", "--duration", "0.5", "--timeout", "30"});
  EXPECT_EQ(u(r, "nodes"), 2u) << json::serialize(r);
  expect_lossless_fanout(r);
  EXPECT_TRUE(r.contains("server_cpu")) << json::serialize(r);
}

TEST(BenchWorkloads, FailoverKillsTheFirstNodeAndCountsItsSessionsBackWithNothingLost) {
  // The bench's cluster stage at a tiny scale: three real nodes with
  // replicas, wsbench kills the first under traffic, and the sessions it
  // carried resume on the others with every message once.
  wsvisor::test::cluster c{WSVISOR_BINARY, {"n1", "n2", "n3"}};
  ASSERT_TRUE(c.start());
  std::string ports, pids;
  for (auto& n : c.nodes()) {
    ports += (ports.empty() ? "" : ",") + std::to_string(n->http_port());
    pids += (pids.empty() ? "" : ",") + std::to_string(n->pid());
  }
  auto r = run_wsbench(
      {"--workload", "failover",     "--dialect", "wsvisor",    "--ports",
       ports,        "--server-pid", pids,        "--kill-pid", std::to_string(c[0].pid()),
       "-n",         "30",           "--warmup",  "1",          "--duration",
       "1",          "--rate",       "10",        "--timeout",  "30"},
      [] {});  // the nodes' own threads drain their output
  expect_clean(r);
  EXPECT_EQ(u(r, "killed_node"), 1u);
  EXPECT_EQ(u(r, "killed_sessions"), 10u) << json::serialize(r);
  EXPECT_EQ(u(r, "recovered"), 10u) << json::serialize(r);
  EXPECT_TRUE(r.at("all_back").as_bool()) << json::serialize(r);
  EXPECT_GT(u(r, "sent"), 0u);
  EXPECT_EQ(u(r, "lost"), 0u) << json::serialize(r);
  EXPECT_EQ(u(r, "duplicates"), 0u) << json::serialize(r);
}

TEST(BenchWorkloads, StormAgainstWsvisorResumesEverySessionWithoutLoss) {
  auto s = start_wsvisor();
  // Connections stay down 0.1 s: each session misses ~5 messages and gets
  // them from its replay buffer on resume.
  auto r = bench(s, "wsvisor",
                 {"--workload", "storm", "-n", "6", "--rate", "50", "--reconnect-delay", "0.1"});
  expect_lossless_storm(r, 6);
}

TEST(BenchWorkloads, StormNoticesSessionsThatCouldNotResume) {
  // A one-message replay buffer cannot hold the ~20 messages published while
  // the connections are down for 0.1 s: resumes fail with `overflow` and the
  // messages missed are lost. The generator must say so.
  auto s = start_wsvisor({"--set", "session.replay_buffer=1"});
  auto r = bench(s, "wsvisor",
                 {"--workload", "storm", "-n", "4", "--rate", "200", "--reconnect-delay", "0.1",
                  "--warmup", "0.3"});
  EXPECT_EQ(u(r, "resumed"), 4u) << json::serialize(r);
  EXPECT_EQ(u(r, "not_resumed"), 4u) << json::serialize(r);
  EXPECT_GT(u(r, "lost"), 0u) << json::serialize(r);
}

TEST(BenchWorkloads, IdleAndDetachedSessionsAreMeasuredFromTheServersRss) {
  auto s = start_wsvisor();
  auto idle = bench(s, "wsvisor", {"--workload", "idle", "-n", "20"});
  expect_clean(idle);
  EXPECT_EQ(u(idle, "sessions"), 20u);
  EXPECT_GT(u(idle, "rss_base_kib"), 0u);
  EXPECT_GE(u(idle, "rss_kib"), u(idle, "rss_base_kib"));
  auto detached = bench(s, "wsvisor", {"--workload", "detached", "-n", "20", "--batch", "5"});
  expect_clean(detached);
  EXPECT_EQ(u(detached, "sessions"), 20u);
}

TEST(BenchWorkloads, ConnectionRateCountsWholeSessionSetups) {
  auto s = start_wsvisor();
  auto r = bench(s, "wsvisor", {"--workload", "connrate", "--concurrency", "2"});
  expect_clean(r);
  EXPECT_GT(u(r, "sessions"), 0u);
  EXPECT_EQ(u(r, "setup_samples"), u(r, "sessions"));
  // Each session was ended by `bye`, so none is left waiting for a resume:
  // the server answered every one with a close, or the loop would have hung.
}

TEST(BenchWorkloads, BadArgumentsAreRefusedByName) {
  auto r = wsvisor::test::run_to_exit(
      WSBENCH_BINARY, {"--workload", "roundtrip", "--dialect", "mqtt", "--port", "1"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown dialect 'mqtt'"), std::string::npos) << r.err;
  auto w = wsvisor::test::run_to_exit(WSBENCH_BINARY,
                                      {"--workload", "soak", "--dialect", "raw", "--port", "1"});
  EXPECT_EQ(w.status, 1);
  EXPECT_NE(w.err.find("unknown workload 'soak'"), std::string::npos) << w.err;
  auto both = wsvisor::test::run_to_exit(WSBENCH_BINARY, {"--workload", "fanout", "--dialect",
                                                          "raw", "--port", "1", "--ports", "1,2"});
  EXPECT_EQ(both.status, 2);
  EXPECT_NE(both.err.find("--port and --ports exclude each other"), std::string::npos) << both.err;
  auto zero = wsvisor::test::run_to_exit(
      WSBENCH_BINARY, {"--workload", "fanout", "--dialect", "raw", "--ports", "1,0"});
  EXPECT_EQ(zero.status, 2);
  EXPECT_NE(zero.err.find("--ports out of range: 0"), std::string::npos) << zero.err;
}

// ---- the raw Beast peer, honest and faulty ---------------------------------------

TEST(BenchWorkloads, RawBeastPeerEchoesAndBroadcasts) {
  auto s = start_peer(BEAST_PEER_BINARY, {});
  expect_round_trips(bench(s, "raw", {"--workload", "roundtrip", "-n", "3"}));
  expect_lossless_fanout(bench(s, "raw", {"--workload", "fanout", "-n", "4"}));
  auto idle = bench(s, "raw", {"--workload", "idle", "-n", "10"});
  EXPECT_EQ(u(idle, "sessions"), 10u);
}

TEST(BenchWorkloads, FanOutReportsMessagesAPeerDrops) {
  auto s = start_peer(BEAST_PEER_BINARY, {"--fault", "drop", "--fault-every", "5"});
  auto r = bench(s, "raw", {"--workload", "fanout", "-n", "3"});
  EXPECT_GT(u(r, "lost"), 0u) << json::serialize(r);
  EXPECT_EQ(u(r, "duplicates"), 0u) << json::serialize(r);
}

TEST(BenchWorkloads, FanOutReportsMessagesAPeerRepeats) {
  auto s = start_peer(BEAST_PEER_BINARY, {"--fault", "duplicate", "--fault-every", "5"});
  auto r = bench(s, "raw", {"--workload", "fanout", "-n", "3"});
  EXPECT_GT(u(r, "duplicates"), 0u) << json::serialize(r);
  EXPECT_EQ(u(r, "lost"), 0u) << json::serialize(r);
}

TEST(BenchWorkloads, StormRefusesAPeerWithoutSessions) {
  auto s = start_peer(BEAST_PEER_BINARY, {});
  auto r = wsvisor::test::run_to_exit(WSBENCH_BINARY, {"--workload", "storm", "--dialect", "raw",
                                                       "--port", std::to_string(s.port)});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("storm needs sessions"), std::string::npos) << r.err;
}

#ifdef WSPP_PEER_BINARY
TEST(BenchWorkloads, WebSocketppPeerEchoesAndBroadcasts) {
  auto s = start_peer(WSPP_PEER_BINARY, {});
  expect_round_trips(bench(s, "raw", {"--workload", "roundtrip", "-n", "3"}));
  expect_lossless_fanout(bench(s, "raw", {"--workload", "fanout", "-n", "4"}));
}
#endif

// ---- the Node peers (npm ws and socket.io), installed by scripts/test -------------

bool node_peers_installed() {
  return fs::exists(fs::path{NODE_PEERS_DIR} / "node_modules" / "socket.io") &&
         fs::exists(fs::path{NODE_PEERS_DIR} / "node_modules" / "ws") &&
         fs::exists("/usr/bin/node");
}

server start_node_peer(const char* script) {
  return start_peer("/usr/bin/node", {(fs::path{NODE_PEERS_DIR} / script).string(), "--port", "0"});
}

TEST(BenchWorkloads, NodeWsPeerEchoesAndBroadcasts) {
  if (!node_peers_installed())
    GTEST_SKIP() << "npm ci --prefix tools/bench/node (scripts/test does it)";
  auto s = start_node_peer("ws_peer.js");
  expect_round_trips(bench(s, "raw", {"--workload", "roundtrip", "-n", "3"}));
  expect_lossless_fanout(bench(s, "raw", {"--workload", "fanout", "-n", "4"}));
}

TEST(BenchWorkloads, SocketIoPeerSpeaksEngineIoAndRecoversEverySession) {
  if (!node_peers_installed())
    GTEST_SKIP() << "npm ci --prefix tools/bench/node (scripts/test does it)";
  auto s = start_node_peer("socketio_peer.js");
  expect_round_trips(bench(s, "socketio", {"--workload", "roundtrip", "-n", "3"}));
  expect_lossless_fanout(bench(s, "socketio", {"--workload", "fanout", "-n", "4"}));
  // Its connection state recovery, driven through pid + offset.
  // Down 0.1 s, so recovery must replay what was missed (which Socket.IO
  // sends before its connect reply).
  expect_lossless_storm(
      bench(s, "socketio",
            {"--workload", "storm", "-n", "5", "--rate", "50", "--reconnect-delay", "0.1"}),
      5);
  auto rate = bench(s, "socketio", {"--workload", "connrate", "--concurrency", "2"});
  expect_clean(rate);
  EXPECT_GT(u(rate, "sessions"), 0u);
}

}  // namespace
}  // namespace wsbench
