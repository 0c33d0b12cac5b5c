// End-to-end tests of the `wsvisor` executable: command line, configuration
// errors, logging and signals, observed from outside as an operator would.

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tls_cert.hpp"
#include "tests/support/tls_client.hpp"
#include "tests/support/ws_client.hpp"

namespace wsvisor {
namespace {

using namespace std::chrono_literals;
using test::child_process;
using test::run_to_exit;

const std::string binary = WSVISOR_BINARY;

std::string write_temp(const std::string& name, const std::string& text) {
  auto path =
      std::filesystem::temp_directory_path() / ("wsvisor-" + std::to_string(getpid()) + "-" + name);
  std::ofstream{path} << text;
  return path.string();
}

// Waits for the "listening" event and returns the port it names.
std::uint16_t await_listening(child_process& p) {
  auto port = test::await_loopback_port(p, "listening");
  if (port == 0) ADD_FAILURE() << "no listening line with a port; stderr:\n" << p.stderr_text();
  return port;
}

// A WebSocket client with a session: hello sent, welcome received.
std::unique_ptr<test::ws_client> client_with_session(std::uint16_t port) {
  auto c = std::make_unique<test::ws_client>();
  auto hs = c->connect(port, "/ws", {"wsvisor.v1"});
  EXPECT_TRUE(hs.ok) << hs.error;
  EXPECT_EQ(c->send_text(R"({"type":"hello"})"), "");
  auto welcome = c->receive();
  EXPECT_NE(welcome.text.find("\"welcome\""), std::string::npos) << welcome.text;
  return c;
}

// What a client of a draining node must see: `goaway` with reason
// "shutdown" and a retry_ms within the spread window, then close 1001.
void expect_goaway_then_1001(test::ws_client& c) {
  auto frame = c.receive(10s);
  ASSERT_EQ(frame.type, test::ws_event::kind::text) << frame.text;
  auto v = boost::json::parse(frame.text).as_object();
  EXPECT_EQ(v.at("type"), "goaway") << frame.text;
  EXPECT_EQ(v.at("reason"), "shutdown") << frame.text;
  auto retry = v.at("retry_ms").to_number<std::int64_t>();
  EXPECT_GE(retry, 0);
  EXPECT_LE(retry, 1000);  // a few clients: the one-second floor of the window
  EXPECT_FALSE(v.contains("url")) << frame.text;
  auto closed = c.receive(10s);
  EXPECT_EQ(closed.type, test::ws_event::kind::closed);
  EXPECT_EQ(closed.close_code, 1001);
}

// The drain has begun: every client was sent its goaway.
void await_goaway_sent(child_process& p) {
  EXPECT_TRUE(p.wait_for_stderr_line([](const std::string& l) {
    return l.find("sending goaway") != std::string::npos;
  })) << p.stderr_text();
}

// A node whose clients' closing handshakes may take a minute: a client that
// never answers its close holds the drain until `drain_timeout` passes.
std::vector<std::string> patient_node(const std::string& drain_timeout) {
  return {"--set", "server.listen=127.0.0.1:0",   "--set", "server.drain_timeout=" + drain_timeout,
          "--set", "server.handshake_timeout=60s"};
}

void drains_clients_then_exits_zero_on(int signo) {
  child_process p{binary, {"--set", "server.listen=127.0.0.1:0"}};
  auto port = await_listening(p);
  ASSERT_NE(port, 0);
  auto a = client_with_session(port);
  auto b = client_with_session(port);
  test::http_session probe{port};
  EXPECT_EQ(probe.send({.target = "/readyz"}).status, 200);

  p.send_signal(signo);
  // The clients have not read their goaway yet, so the drain waits for them.
  await_goaway_sent(p);
  auto readyz = probe.send({.target = "/readyz"});
  EXPECT_EQ(readyz.status, 503);
  EXPECT_EQ(boost::json::parse(readyz.body).as_object().at("draining"), true) << readyz.body;
  EXPECT_NE(test::http_request(port, "GET", "/healthz", 2s).error, "")
      << "the listener still accepts during the drain";

  expect_goaway_then_1001(*a);
  expect_goaway_then_1001(*b);
  EXPECT_EQ(p.wait_exit(), 0) << p.stderr_text();
  EXPECT_NE(p.stderr_text().find("every client left"), std::string::npos) << p.stderr_text();
  EXPECT_NE(p.stderr_text().find("stopped"), std::string::npos) << p.stderr_text();
}

TEST(WsvisorProcess, SigtermSendsEveryClientGoawayThenClose1001AndExitsZero) {
  drains_clients_then_exits_zero_on(SIGTERM);
}

TEST(WsvisorProcess, SigintDrainsLikeSigterm) { drains_clients_then_exits_zero_on(SIGINT); }

TEST(WsvisorProcess, DrainTimeoutBoundsADrainWhoseClientsDoNotLeave) {
  // The client never reads, so it never answers the close: only the drain's
  // bound ends the wait (the close handshake's own bound is far longer).
  child_process p{binary, patient_node("1s")};
  auto port = await_listening(p);
  ASSERT_NE(port, 0);
  auto stuck = client_with_session(port);
  auto signalled = std::chrono::steady_clock::now();
  p.send_signal(SIGTERM);
  auto status = p.wait_exit(30s);
  auto took = std::chrono::steady_clock::now() - signalled;
  EXPECT_EQ(status, 0) << p.stderr_text();
  EXPECT_GE(took, 1s);
  // The bound holds to the exit, so that TimeoutStopSec can be sized from it
  // (the close frames' flush after the tree stopped used to add a second).
  // The margin is the process's own teardown, under ASan in the tests.
  EXPECT_LT(took, 1s + 400ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                              << " ms";
  EXPECT_NE(p.stderr_text().find("drain bound passed"), std::string::npos) << p.stderr_text();
}

TEST(WsvisorProcess, ASecondSignalDuringADrainExitsAtOnce) {
  child_process p{binary, patient_node("60s")};
  auto port = await_listening(p);
  ASSERT_NE(port, 0);
  auto stuck = client_with_session(port);
  p.send_signal(SIGTERM);
  await_goaway_sent(p);
  p.send_signal(SIGINT);
  EXPECT_EQ(p.wait_exit(10s), 128 + SIGINT) << p.stderr_text();
  EXPECT_NE(p.stderr_text().find("second signal; exiting at once"), std::string::npos)
      << p.stderr_text();
}

// A unix datagram socket standing in for systemd's notification socket.
class notify_socket {
 public:
  notify_socket()
      : path_(std::filesystem::temp_directory_path() /
              ("wsvisor-notify-" + std::to_string(getpid()))) {
    std::filesystem::remove(path_);
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      ADD_FAILURE() << "cannot bind " << path_;
  }
  ~notify_socket() {
    close(fd_);
    std::filesystem::remove(path_);
  }
  std::string path() const { return path_.string(); }

  /// Datagrams until one holds `line` (a whole line); false at the deadline.
  bool await(const std::string& line, std::chrono::milliseconds timeout = 20s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      auto got = recv(fd_, buf, sizeof buf, 0);
      if (got <= 0) continue;
      std::string datagram{buf, static_cast<std::size_t>(got)};
      received_.push_back(datagram);
      std::istringstream lines{datagram};
      for (std::string l; std::getline(lines, l);)
        if (l == line) return true;
    }
  }
  const std::vector<std::string>& received() const { return received_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::vector<std::string> received_;
};

TEST(WsvisorProcess, TellsSystemdReadyOnceServingAndStoppingOnSigterm) {
  notify_socket sock;
  // posix_spawn passes this process's environment on: set for one child only.
  setenv("NOTIFY_SOCKET", sock.path().c_str(), 1);
  child_process p{binary, {"--set", "server.listen=127.0.0.1:0"}};
  unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(sock.await("READY=1")) << p.stderr_text();
  // READY=1 came after the listener was bound: the port answers at once.
  auto port = await_listening(p);
  ASSERT_NE(port, 0);
  EXPECT_EQ(test::http_request(port, "GET", "/readyz").status, 200);
  p.send_signal(SIGTERM);
  EXPECT_TRUE(sock.await("STOPPING=1")) << p.stderr_text();
  EXPECT_EQ(p.wait_exit(), 0) << p.stderr_text();
  bool status_seen = false;
  for (auto& d : sock.received()) status_seen = status_seen || d.starts_with("STATUS=");
  EXPECT_TRUE(status_seen);
}

TEST(WsvisorProcess, TellsSystemdReloadingThenReadyAroundASighupReload) {
  notify_socket sock;
  test::temp_file file{"[server]\nlisten = \"127.0.0.1:0\"\n"};
  setenv("NOTIFY_SOCKET", sock.path().c_str(), 1);
  child_process p{binary, {"--config", file.path()}};
  unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(sock.await("READY=1")) << p.stderr_text();
  p.send_signal(SIGHUP);
  // systemd holds `systemctl reload` from RELOADING=1 until the next READY=1.
  EXPECT_TRUE(sock.await("RELOADING=1")) << p.stderr_text();
  EXPECT_TRUE(sock.await("READY=1")) << p.stderr_text();
  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(), 0) << p.stderr_text();
  EXPECT_NE(p.stderr_text().find("configuration reloaded"), std::string::npos) << p.stderr_text();
}

TEST(WsvisorProcess, ServesHealthzAndExitsZeroOnSigterm) {
  child_process p{binary, {"--set", "server.listen=127.0.0.1:0"}};
  auto port = await_listening(p);
  ASSERT_NE(port, 0);
  auto r = test::http_request(port, "GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(), 0) << p.stderr_text();
  EXPECT_NE(p.stderr_text().find("shutting down"), std::string::npos);
  EXPECT_NE(p.stderr_text().find("cause=SIGTERM"), std::string::npos);
}

TEST(WsvisorProcess, RunsItsActorsOnOneIoThreadPerUsableCpuByDefault) {
  auto listening = [](child_process& p) {
    return p.wait_for_stderr_line(
        [](const std::string& l) { return l.find("listening") != std::string::npos; });
  };
  // taskset (util-linux, on every Debian) pins the process to one CPU.
  child_process pinned{"/usr/bin/taskset",
                       {"-c", "0", binary, "--set", "server.listen=127.0.0.1:0"}};
  auto line = listening(pinned);
  ASSERT_TRUE(line) << pinned.stderr_text();
  EXPECT_NE(line->find("actor_scheduler=io io_threads=1 "), std::string::npos) << *line;
  auto port = std::stoi(line->substr(line->find("127.0.0.1:") + 10));
  EXPECT_EQ(test::http_request(static_cast<std::uint16_t>(port), "GET", "/healthz").status, 200);
  pinned.send_signal(SIGTERM);
  EXPECT_EQ(pinned.wait_exit(), 0);

  cpu_set_t cpus;
  ASSERT_EQ(sched_getaffinity(0, sizeof cpus, &cpus), 0);
  child_process unpinned{binary, {"--set", "server.listen=127.0.0.1:0"}};
  line = listening(unpinned);
  ASSERT_TRUE(line) << unpinned.stderr_text();
  EXPECT_NE(line->find("io_threads=" + std::to_string(CPU_COUNT(&cpus)) + " "), std::string::npos)
      << *line;
  unpinned.send_signal(SIGTERM);
  EXPECT_EQ(unpinned.wait_exit(), 0);
}

TEST(WsvisorProcess, AutoSchedulerSharesWorkWhenPinnedToOneCpu) {
  child_process pinned{"/usr/bin/taskset",
                       {"-c", "0", binary, "--set", "server.listen=127.0.0.1:0", "--set",
                        "server.actor_scheduler=\"auto\""}};
  auto line = pinned.wait_for_stderr_line(
      [](const std::string& l) { return l.find("listening") != std::string::npos; });
  ASSERT_TRUE(line) << pinned.stderr_text();
  EXPECT_NE(line->find("actor_scheduler=sharing"), std::string::npos) << *line;
  EXPECT_NE(line->find("thread_policy=batch"), std::string::npos) << *line;
  pinned.send_signal(SIGTERM);
  EXPECT_EQ(pinned.wait_exit(), 0);

  child_process forced{
      binary,
      {"--set", "server.listen=127.0.0.1:0", "--set", "server.actor_scheduler=\"stealing\""}};
  line = forced.wait_for_stderr_line(
      [](const std::string& l) { return l.find("listening") != std::string::npos; });
  ASSERT_TRUE(line) << forced.stderr_text();
  EXPECT_NE(line->find("actor_scheduler=stealing"), std::string::npos) << *line;
  EXPECT_NE(line->find("thread_policy=normal"), std::string::npos) << *line;
  auto port = std::stoi(line->substr(line->find("127.0.0.1:") + 10));
  EXPECT_EQ(test::http_request(static_cast<std::uint16_t>(port), "GET", "/healthz").status, 200);
  forced.send_signal(SIGTERM);
  EXPECT_EQ(forced.wait_exit(), 0);
}

TEST(WsvisorProcess, ExitsZeroOnSigint) {
  child_process p{binary, {"--set", "server.listen=127.0.0.1:0"}};
  ASSERT_NE(await_listening(p), 0);
  p.send_signal(SIGINT);
  EXPECT_EQ(p.wait_exit(), 0) << p.stderr_text();
}

TEST(WsvisorProcess, VersionEndpointListsTheLibraries) {
  child_process p{binary, {"--set", "server.listen=127.0.0.1:0"}};
  auto port = await_listening(p);
  auto v = boost::json::parse(test::http_request(port, "GET", "/version").body).as_object();
  EXPECT_TRUE(v.contains("wsvisor"));
  EXPECT_EQ(v.at("caf"), "0.17.6");
  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(), 0);
}

TEST(WsvisorProcess, BadConfigExitsTwoNamingEveryKeyAndStartsNothing) {
  auto file = write_temp("bad.toml",
                         "[session]\n"
                         "resume_window = \"soon\"\n"
                         "[server]\n"
                         "listen = \"127.0.0.1:0\"\n"
                         "max_conections = 5\n");
  auto r = run_to_exit(binary, {"--config", file});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("session.resume_window"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(":2:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("server.max_conections"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("max_connections"), std::string::npos) << r.err;  // did you mean
  EXPECT_EQ(r.err.find("listening"), std::string::npos) << r.err;
  std::filesystem::remove(file);
}

TEST(WsvisorProcess, BadOverrideExitsTwoNamingTheKey) {
  auto r = run_to_exit(binary, {"--set", "session.heartbeat_timeout=1s", "--check-config"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("session.heartbeat_timeout"), std::string::npos) << r.err;
}

TEST(WsvisorProcess, MissingConfigFileExitsTwoNamingThePath) {
  auto r = run_to_exit(binary, {"--config", "/nonexistent/wsvisor.toml"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("/nonexistent/wsvisor.toml"), std::string::npos) << r.err;
}

TEST(WsvisorProcess, CheckConfigPrintsTheEffectiveConfigAsToml) {
  auto file = write_temp("good.toml", "[session]\nresume_window = \"5s\"\n");
  auto r = run_to_exit(binary, {"--check-config", file, "--set", "session.replay_buffer=7"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("resume_window = \"5s\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("replay_buffer = 7"), std::string::npos) << r.out;
  // The printed configuration is itself a valid configuration file.
  auto again = write_temp("again.toml", r.out);
  EXPECT_EQ(run_to_exit(binary, {"--check-config", again}).out, r.out);
  std::filesystem::remove(file);
  std::filesystem::remove(again);
}

TEST(WsvisorProcess, UnknownOptionExitsTwo) {
  auto r = run_to_exit(binary, {"--frobnicate"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos) << r.err;
}

TEST(WsvisorProcess, VersionAndHelpExitZero) {
  auto v = run_to_exit(binary, {"--version"});
  EXPECT_EQ(v.status, 0);
  EXPECT_NE(v.out.find("caf 0.17.6"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("openssl"), std::string::npos) << v.out;
  auto h = run_to_exit(binary, {"--help"});
  EXPECT_EQ(h.status, 0);
  EXPECT_NE(h.out.find("--check-config"), std::string::npos) << h.out;
}

TEST(WsvisorProcess, ListenFailureExitsOneNamingTheAddress) {
  child_process first{binary, {"--set", "server.listen=127.0.0.1:0"}};
  auto port = await_listening(first);
  auto taken = "127.0.0.1:" + std::to_string(port);
  auto r = run_to_exit(binary, {"--set", "server.listen=" + taken});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(taken), std::string::npos) << r.err;
  first.send_signal(SIGTERM);
  EXPECT_EQ(first.wait_exit(), 0);
}

TEST(WsvisorProcess, ServesHttpsWithTheConfiguredCertificate) {
  auto cert = test::make_self_signed_cert();
  test::temp_file cert_file{cert.cert_pem};
  test::temp_file key_file{cert.key_pem};
  child_process p{
      binary,
      {"--set", "server.listen=127.0.0.1:0", "--set", "server.tls.cert=" + cert_file.path(),
       "--set", "server.tls.key=" + key_file.path(), "--set", "server.tls.min_version=1.3"}};
  auto port = await_listening(p);
  ASSERT_NE(port, 0);
  auto r = test::https_get(port, "/healthz", {.ca_file = cert_file.path()});
  EXPECT_EQ(r.status, 200) << r.error;
  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(), 0) << p.stderr_text();
}

TEST(WsvisorProcess, AnUnusableTlsKeyExitsOneNamingTheFile) {
  auto cert = test::make_self_signed_cert();
  test::temp_file cert_file{cert.cert_pem};
  test::temp_file not_a_key{"this is not a key\n"};  // readable, so the loader lets it pass
  auto r = run_to_exit(
      binary, {"--set", "server.listen=127.0.0.1:0", "--set", "server.tls.cert=" + cert_file.path(),
               "--set", "server.tls.key=" + not_a_key.path()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("server.tls.key " + not_a_key.path()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cannot start"), std::string::npos) << r.err;
}

TEST(WsvisorProcess, JsonLogFormatWritesOneObjectPerLine) {
  child_process p{binary, {"--set", "server.listen=127.0.0.1:0", "--set", "log.format=json"}};
  auto line = p.wait_for_stderr_line(
      [](const std::string& l) { return l.find("listening") != std::string::npos; });
  ASSERT_TRUE(line) << p.stderr_text();
  p.send_signal(SIGTERM);
  ASSERT_EQ(p.wait_exit(), 0);
  std::istringstream lines{p.stderr_text()};
  int count = 0;
  for (std::string l; std::getline(lines, l); ++count) {
    auto v = boost::json::parse(l).as_object();  // throws, failing the test, if not JSON
    EXPECT_TRUE(v.contains("time") && v.contains("level") && v.contains("logger") &&
                v.contains("message") && v.contains("fields"))
        << l;
  }
  EXPECT_GE(count, 3);  // listening, shutting down, stopped at least
}

}  // namespace
}  // namespace wsvisor
