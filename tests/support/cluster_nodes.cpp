#include "tests/support/cluster_nodes.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include "tests/support/process.hpp"

namespace wsvisor::test {

using clock = std::chrono::steady_clock;

// --- cluster_node ------------------------------------------------------------

namespace {

std::string toml_duration(ms d) { return "\"" + std::to_string(d.count()) + "ms\""; }

std::filesystem::path config_dir() {
  static std::atomic<int> counter{0};
  auto dir = std::filesystem::temp_directory_path() /
             ("wsvisor-cluster-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

cluster_node::cluster_node(std::string binary, std::string name, std::uint16_t http_port,
                           std::uint16_t cluster_port)
    : binary_(std::move(binary)),
      name_(std::move(name)),
      http_port_(http_port),
      cluster_port_(cluster_port),
      config_path_(config_dir() / (name_ + ".toml")) {}

cluster_node::cluster_node(std::string binary, std::string name)
    : cluster_node(std::move(binary), std::move(name), 0, 0) {
  auto ports = free_ports(2);
  http_port_ = ports[0];
  cluster_port_ = ports[1];
}

cluster_node::~cluster_node() {
  {
    std::lock_guard lock{mutex_};
    if (!exited_ && pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::kill(pid_, SIGCONT);
    }
  }
  if (pump_.joinable()) pump_.join();
  proc_.reset();
  std::error_code ec;
  std::filesystem::remove_all(config_path_.parent_path(), ec);
}

std::string cluster_node::cluster_address() const {
  return "127.0.0.1:" + std::to_string(cluster_port_);
}

std::string cluster_node::public_url() const {
  return "ws://127.0.0.1:" + std::to_string(http_port_) + "/ws";
}

std::string cluster_node::config_text() const {
  std::ostringstream t;
  t << "[server]\n"
    << "listen = \"127.0.0.1:" << http_port_ << "\"\n"
    << "[session]\n"
    << "resume_window = " << toml_duration(settings_.resume_window) << "\n"
    << "[cluster]\n"
    << "enabled = true\n"
    << "node = \"" << name_ << "\"\n"
    << "listen = \"" << cluster_address() << "\"\n"
    << "peers = [";
  for (std::size_t i = 0; i < settings_.peers.size(); ++i)
    t << (i ? ", " : "") << "\"" << settings_.peers[i] << "\"";
  t << "]\n"
    << "public_url = \"" << public_url() << "\"\n"
    << "heartbeat_interval = " << toml_duration(settings_.heartbeat_interval) << "\n"
    << "peer_timeout = " << toml_duration(settings_.peer_timeout) << "\n"
    << "ready_min_peers = " << settings_.ready_min_peers << "\n"
    << "replicas = " << settings_.replicas << "\n"
    << "[policies.cluster]\n"
    << "backoff_min = " << toml_duration(settings_.backoff_min) << "\n"
    << "backoff_max = " << toml_duration(settings_.backoff_max) << "\n"
    << "max_restarts = 0\n"
    << settings_.extra_toml;
  return t.str();
}

// Cluster nodes run without LeakSanitizer's exit check. About one exit in
// ten of a node that has carried cross-node traffic ends with LSan reporting
// a cycle inside CAF 0.17's BASP broker (its instance tables, a monitor, a
// queued mailbox element: all indirect leaks, nothing allocated by wsvisor),
// which turns exit status 0 into 134. wsvisor's own code still runs under
// LSan in-process: the actor tests (sessions, adoption, the broker) and
// ClusterMessages, which uses a real middleman connection. ASan and UBSan stay
// on in the nodes. The test process reads ASAN_OPTIONS at its own start, so
// changing it here affects only the children.
void cluster_node::no_leak_check_in_nodes() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* current = std::getenv("ASAN_OPTIONS");
    std::string options = current ? current : "";
    options += options.empty() ? "detect_leaks=0" : ":detect_leaks=0";
    setenv("ASAN_OPTIONS", options.c_str(), 1);
  });
}

void cluster_node::start() {
  {
    std::lock_guard lock{mutex_};
    if (!exited_) throw std::logic_error("node " + name_ + " is still running");
  }
  if (pump_.joinable()) pump_.join();
  proc_.reset();
  {
    std::ofstream out{config_path_};
    out << config_text();
    if (!out) throw std::runtime_error("cannot write " + config_path_.string());
  }
  ++runs_;
  {
    std::lock_guard lock{mutex_};
    log_ += "[harness] node " + name_ + " run " + std::to_string(runs_) + " starts\n";
    run_start_ = log_.size();
    status_.reset();
  }
  no_leak_check_in_nodes();
  proc_ = std::make_unique<child_process>(
      binary_, std::vector<std::string>{"--config", config_path_.string()});
  {
    std::lock_guard lock{mutex_};
    exited_ = false;
    pid_ = proc_->pid();
  }
  pump_ = std::thread{[this, p = proc_.get()] { pump(p); }};
}

// The only thread that touches the child_process while it runs: it reads
// both pipes (a line at a time, so that awaiting tests wake promptly), copies
// what arrived into the log, and reaps the process once both pipes close.
void cluster_node::pump(child_process* proc) {
  const auto any_line = [](const std::string&) { return true; };
  constexpr ms slice{100};
  std::size_t copied = 0;
  auto publish = [&] {
    const auto& err = proc->stderr_text();
    if (err.size() == copied) return;
    {
      std::lock_guard lock{mutex_};
      log_.append(err, copied, std::string::npos);
    }
    copied = err.size();
    cv_.notify_all();
  };
  for (;;) {
    auto t0 = clock::now();
    auto got = proc->wait_for_stderr_line(any_line, slice);
    publish();
    // A timeout takes the whole slice; an early nullopt means both pipes closed.
    if (!got && clock::now() - t0 < slice - ms{10}) break;
  }
  auto status = proc->wait_exit(ms{30'000});
  publish();
  {
    std::lock_guard lock{mutex_};
    const auto& out = proc->stdout_text();
    if (!out.empty()) log_ += "[harness] stdout of " + name_ + ":\n" + out + "\n";
    log_ += "[harness] node " + name_ +
            " exited: " + (status ? std::to_string(*status) : std::string{"not reaped"}) + "\n";
    exited_ = true;
    status_ = status;
  }
  cv_.notify_all();
}

bool cluster_node::await_ready(ms timeout) {
  auto deadline = clock::now() + timeout;
  auto left = [&] { return std::chrono::duration_cast<ms>(deadline - clock::now()); };
  auto http = "127.0.0.1:" + std::to_string(http_port_);
  auto listening = await_line(
      [&](const std::string& text) {
        auto l = log_line::parse(text);
        return l && l->message == "listening" && text.find(http) != std::string::npos;
      },
      left());
  if (!listening) {
    ADD_FAILURE() << "node " << name_ << " did not log `listening` on " << http << ":\n" << tail();
    return false;
  }
  if (!await_line(log_event("cluster listening", {{"node", name_}, {"address", cluster_address()}}),
                  left())) {
    ADD_FAILURE() << "node " << name_ << " did not log `cluster listening node=" << name_
                  << " address=" << cluster_address() << "`:\n"
                  << tail();
    return false;
  }
  return true;
}

bool cluster_node::running() const {
  std::lock_guard lock{mutex_};
  return !exited_;
}

pid_t cluster_node::pid() const {
  std::lock_guard lock{mutex_};
  return pid_;
}

void cluster_node::kill9() {
  {
    std::lock_guard lock{mutex_};
    if (exited_) return;
    ::kill(pid_, SIGKILL);
  }
  if (!wait_exit(ms{10'000})) ADD_FAILURE() << "node " << name_ << " survived SIGKILL for 10 s";
}

void cluster_node::freeze() {
  std::lock_guard lock{mutex_};
  if (!exited_) ::kill(pid_, SIGSTOP);
}

void cluster_node::thaw() {
  std::lock_guard lock{mutex_};
  if (!exited_) ::kill(pid_, SIGCONT);
}

void cluster_node::send_sigterm() {
  std::lock_guard lock{mutex_};
  if (!exited_) ::kill(pid_, SIGTERM);
}

std::optional<int> cluster_node::terminate(ms timeout) {
  {
    std::lock_guard lock{mutex_};
    if (exited_) return status_;
    ::kill(pid_, SIGTERM);
  }
  return wait_exit(timeout);
}

std::optional<int> cluster_node::wait_exit(ms timeout) {
  std::unique_lock lock{mutex_};
  if (!cv_.wait_for(lock, timeout, [this] { return exited_; })) return std::nullopt;
  lock.unlock();
  if (pump_.joinable()) pump_.join();
  lock.lock();
  return status_;
}

std::size_t cluster_node::mark() const {
  std::lock_guard lock{mutex_};
  return log_.size();
}

std::size_t cluster_node::run_start() const {
  std::lock_guard lock{mutex_};
  return run_start_;
}

std::optional<log_hit> cluster_node::await_line(const line_predicate& pred, ms timeout,
                                                std::optional<std::size_t> from) {
  auto deadline = clock::now() + timeout;
  std::unique_lock lock{mutex_};
  auto pos = from.value_or(run_start_);
  for (;;) {
    for (auto nl = log_.find('\n', pos); nl != std::string::npos; nl = log_.find('\n', pos)) {
      auto line = log_.substr(pos, nl - pos);
      pos = nl + 1;
      if (pred(line)) return log_hit{std::move(line), pos, clock::now()};
    }
    if (exited_) return std::nullopt;  // everything of this run is in the log
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      // One more look: lines may have landed just before the deadline.
      for (auto nl = log_.find('\n', pos); nl != std::string::npos; nl = log_.find('\n', pos)) {
        auto line = log_.substr(pos, nl - pos);
        pos = nl + 1;
        if (pred(line)) return log_hit{std::move(line), pos, clock::now()};
      }
      return std::nullopt;
    }
  }
}

std::optional<log_hit> cluster_node::await_peer_up(const std::string& peer, ms timeout,
                                                   std::optional<std::size_t> from) {
  return await_line(log_event("peer up", {{"peer", peer}}), timeout, from);
}

std::optional<log_hit> cluster_node::await_peer_down(const std::string& peer, ms timeout,
                                                     std::optional<std::size_t> from) {
  return await_line(log_event("peer down", {{"peer", peer}}), timeout, from);
}

std::vector<std::string> cluster_node::lines(const line_predicate& pred, std::size_t from) const {
  std::lock_guard lock{mutex_};
  std::vector<std::string> out;
  auto pos = from;
  for (auto nl = log_.find('\n', pos); nl != std::string::npos; nl = log_.find('\n', pos)) {
    auto line = log_.substr(pos, nl - pos);
    pos = nl + 1;
    if (pred(line)) out.push_back(std::move(line));
  }
  return out;
}

std::string cluster_node::log() const {
  std::lock_guard lock{mutex_};
  return log_;
}

std::string cluster_node::tail(std::size_t lines) const {
  std::lock_guard lock{mutex_};
  auto pos = log_.size();
  if (pos > 0 && log_[pos - 1] == '\n') --pos;
  for (std::size_t n = 0; n < lines && pos > 0; ++n) {
    auto nl = log_.rfind('\n', pos - 1);
    if (nl == std::string::npos) {
      pos = 0;
      break;
    }
    pos = nl;
  }
  return log_.substr(pos == 0 ? 0 : pos + 1);
}

// --- cluster -----------------------------------------------------------------

cluster::cluster(std::string binary, const std::vector<std::string>& names, mesh m) : mesh_(m) {
  auto ports = free_ports(2 * names.size());
  for (std::size_t i = 0; i < names.size(); ++i)
    nodes_.push_back(
        std::make_unique<cluster_node>(binary, names[i], ports[2 * i], ports[2 * i + 1]));
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    auto& peers = nodes_[i]->settings().peers;
    for (std::size_t j = 0; j < nodes_.size(); ++j) {
      bool lists = m == mesh::full ? i != j : i != 0 && j == 0;  // the hub lists none
      if (lists) peers.push_back(nodes_[j]->cluster_address());
    }
  }
}

cluster_node& cluster::node(const std::string& name) {
  for (auto& n : nodes_)
    if (n->name() == name) return *n;
  throw std::out_of_range("no node " + name);
}

bool cluster::start(ms timeout) {
  auto deadline = clock::now() + timeout;
  for (auto& n : nodes_) n->start();
  for (auto& n : nodes_)
    if (!n->await_ready(std::chrono::duration_cast<ms>(deadline - clock::now()))) return false;
  return await_connected(std::chrono::duration_cast<ms>(deadline - clock::now()));
}

bool cluster::await_connected(ms timeout) {
  auto deadline = clock::now() + timeout;
  bool ok = true;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    auto& x = nodes_[i];
    if (!x->running()) continue;
    for (std::size_t j = 0; j < nodes_.size(); ++j) {
      auto& y = nodes_[j];
      if (!expected_link(i, j) || !y->running()) continue;
      auto left = std::max(ms{0}, std::chrono::duration_cast<ms>(deadline - clock::now()));
      if (!x->await_peer_up(y->name(), left)) {
        ADD_FAILURE() << "node " << x->name() << " did not log `peer up peer=" << y->name()
                      << "` in time";
        ok = false;
      }
    }
  }
  if (!ok) ADD_FAILURE() << tails();
  return ok;
}

bool cluster::await_rejoined(cluster_node& n, ms timeout, const std::vector<std::size_t>& from) {
  auto deadline = clock::now() + timeout;
  auto left = [&] {
    return std::max(ms{0}, std::chrono::duration_cast<ms>(deadline - clock::now()));
  };
  auto from_of = [&](const cluster_node& x) {
    for (std::size_t i = 0; i < nodes_.size() && i < from.size(); ++i)
      if (nodes_[i].get() == &x) return std::optional<std::size_t>{from[i]};
    return std::optional<std::size_t>{};
  };
  std::size_t k = 0;
  while (k < nodes_.size() && nodes_[k].get() != &n) ++k;
  bool ok = true;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    auto& x = nodes_[i];
    if (!expected_link(i, k) || !x->running()) continue;
    if (!x->await_peer_up(n.name(), left(), from_of(*x))) {
      ADD_FAILURE() << "node " << x->name() << " did not log `peer up peer=" << n.name()
                    << "` in time";
      ok = false;
    }
    if (!n.await_peer_up(x->name(), left(), from_of(n))) {
      ADD_FAILURE() << "node " << n.name() << " did not log `peer up peer=" << x->name()
                    << "` in time";
      ok = false;
    }
  }
  if (!ok) ADD_FAILURE() << tails();
  return ok;
}

std::vector<std::size_t> cluster::marks() const {
  std::vector<std::size_t> out;
  for (const auto& n : nodes_) out.push_back(n->mark());
  return out;
}

std::string cluster::tails(std::size_t lines) const {
  std::string out;
  for (const auto& n : nodes_)
    out += "\n===== node " + n->name() + " (last " + std::to_string(lines) + " lines) =====\n" +
           n->tail(lines);
  return out;
}

}  // namespace wsvisor::test
