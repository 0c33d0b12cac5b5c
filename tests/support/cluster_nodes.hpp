#pragma once

/// Several `wsvisor` processes on loopback forming a cluster, for end-to-end
/// tests: each node gets fixed ports picked up front (so that a restarted
/// node comes back where its peers look for it), a generated TOML file, and
/// a log that the test awaits lines in, by predicate and with a deadline.
///
/// Each running node's stdout and stderr are drained by a thread of its own,
/// so a node never blocks on a full pipe however long the test looks away.
/// The log of a node is one text across its runs (a restart appends a
/// `[harness]` line and the new run's output); positions in it (`mark`,
/// `log_hit::end`) stay valid across restarts, which is what lets a test
/// await "the next `peer up` after this point" without mistaking an older
/// line for it, and await several lines in any order.
///
/// Threading: one test thread drives a node; the pump thread only appends to
/// the log. Every wait is bounded; nothing sleeps.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace wsvisor::test {

class child_process;

using ms = std::chrono::milliseconds;

/// `n` distinct loopback TCP ports that were free a moment ago (all bound
/// together, then closed), below the kernel's ephemeral range when it leaves
/// room (see the .cpp), so that no outgoing connection takes one meanwhile.
std::vector<std::uint16_t> free_ports(std::size_t n);

/// One line of wsvisor's text log: `TIME LEVEL [logger] message k=v k="v w"`.
struct log_line {
  std::string level;
  std::string logger;
  std::string message;
  std::map<std::string, std::string, std::less<>> fields;  // quoted values unquoted

  /// Nullopt when the line does not have that shape (a sanitizer report, say).
  static std::optional<log_line> parse(std::string_view line);
  /// The field's value, or empty when absent.
  std::string field(std::string_view key) const;
};

using line_predicate = std::function<bool(const std::string&)>;

/// A line whose message contains `message` and that has every field with
/// exactly the given value, e.g. log_event("peer up", {{"peer", "b"}}).
line_predicate log_event(std::string message,
                         std::vector<std::pair<std::string, std::string>> fields = {});

/// A line found in a node's log: its text, the position just after it (to
/// await what follows it) and when the test saw it.
struct log_hit {
  std::string line;
  std::size_t end = 0;
  std::chrono::steady_clock::time_point at;
};

/// What goes into a node's configuration file; change before `start`.
struct node_settings {
  std::vector<std::string> peers;  // host:port of other nodes' middleman
  ms heartbeat_interval{200};
  ms peer_timeout{1000};
  ms resume_window{30'000};
  ms backoff_min{100};  // [policies.cluster]
  ms backoff_max{1000};
  std::uint32_t ready_min_peers = 0;  // [cluster]
  std::uint32_t replicas = 1;         // [cluster]
  std::string extra_toml;             // appended verbatim (more tables)
};

class cluster_node {
 public:
  /// Picks the node's HTTP and cluster ports; starts nothing.
  cluster_node(std::string binary, std::string name, std::uint16_t http_port,
               std::uint16_t cluster_port);
  cluster_node(std::string binary, std::string name);
  /// Kills the process if it still runs (SIGCONT + SIGKILL) and removes the
  /// configuration file.
  ~cluster_node();
  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;

  const std::string& name() const { return name_; }
  std::uint16_t http_port() const { return http_port_; }
  std::uint16_t cluster_port() const { return cluster_port_; }
  std::string cluster_address() const;  // 127.0.0.1:CPORT
  std::string public_url() const;       // ws://127.0.0.1:HTTP/ws
  node_settings& settings() { return settings_; }
  std::string config_text() const;
  const std::filesystem::path& config_path() const { return config_path_; }

  /// Writes the configuration and starts the process (again, after an exit:
  /// same ports, same file). Throws if a run is still going.
  void start();
  /// Awaits `listening` (with this node's HTTP address) and `cluster
  /// listening` (with its cluster address) in the current run.
  bool await_ready(ms timeout = ms{20'000});

  bool running() const;  // started and not yet reaped
  pid_t pid() const;

  void kill9();         // SIGKILL, then waits (bounded) until reaped
  void freeze();        // SIGSTOP
  void thaw();          // SIGCONT
  void send_sigterm();  // SIGTERM without waiting (see wait_exit)
  /// SIGTERM, then the exit status (nullopt if it did not exit in time).
  std::optional<int> terminate(ms timeout = ms{30'000});
  /// Waits until the current run has exited; its status, or nullopt on timeout.
  std::optional<int> wait_exit(ms timeout = ms{30'000});

  /// The end of the log as read so far: await from here for what happens next.
  std::size_t mark() const;
  /// Where the current run's output begins in the log.
  std::size_t run_start() const;

  /// The first complete line at or after `from` (default: the current run's
  /// start) satisfying `pred`, or nullopt at the deadline or once the run
  /// has exited without one.
  std::optional<log_hit> await_line(const line_predicate& pred, ms timeout,
                                    std::optional<std::size_t> from = std::nullopt);
  std::optional<log_hit> await_peer_up(const std::string& peer, ms timeout,
                                       std::optional<std::size_t> from = std::nullopt);
  std::optional<log_hit> await_peer_down(const std::string& peer, ms timeout,
                                         std::optional<std::size_t> from = std::nullopt);

  /// Every complete line at or after `from` satisfying `pred` (no waiting).
  std::vector<std::string> lines(const line_predicate& pred, std::size_t from = 0) const;

  std::string log() const;                         // every run's output so far
  std::string tail(std::size_t lines = 60) const;  // its last lines

 private:
  static void no_leak_check_in_nodes();
  void pump(child_process* proc);

  std::string binary_;
  std::string name_;
  std::uint16_t http_port_;
  std::uint16_t cluster_port_;
  node_settings settings_;
  std::filesystem::path config_path_;
  int runs_ = 0;

  std::unique_ptr<child_process> proc_;
  std::thread pump_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::string log_;  // guarded by mutex_
  std::size_t run_start_ = 0;
  bool exited_ = true;  // the current run has been reaped (or none started)
  std::optional<int> status_;
  pid_t pid_ = -1;
};

/// N nodes named by the caller. `full`: every node lists every other as a
/// peer (one configuration for all, as behind a load balancer) and every
/// pair is expected to link; `star`: the first node (the hub) lists none,
/// every other node lists only the hub, and only hub links are expected
/// (wsvisor does not gossip peers: spokes never meet). Changing a node's
/// `settings().peers` (to route a link through a proxy, say) does not change
/// which links are expected.
class cluster {
 public:
  enum class mesh { full, star };

  cluster(std::string binary, const std::vector<std::string>& names, mesh m = mesh::full);

  std::size_t size() const { return nodes_.size(); }
  cluster_node& operator[](std::size_t i) { return *nodes_.at(i); }
  cluster_node& node(const std::string& name);
  std::vector<std::unique_ptr<cluster_node>>& nodes() { return nodes_; }

  /// Starts every node, awaits each one ready, then `await_connected`.
  /// False (with ADD_FAILURE saying what is missing) on failure.
  bool start(ms timeout = ms{30'000});

  /// Both ends of every expected link between running nodes have logged
  /// `peer up` for the other in their current run.
  bool await_connected(ms timeout);

  /// After `n` came back (restarted, thawed, healed): every running node
  /// linked to it has logged `peer up peer=n` at or after its position in
  /// `from` (node order, as from marks()), and `n` has logged `peer up` for
  /// each of them at or after from[n].
  bool await_rejoined(cluster_node& n, ms timeout, const std::vector<std::size_t>& from);

  /// Every node's mark(), in node order.
  std::vector<std::size_t> marks() const;

  /// Each node's last lines, headed by its name: for failure messages.
  std::string tails(std::size_t lines = 40) const;

 private:
  bool expected_link(std::size_t i, std::size_t j) const {
    return i != j && (mesh_ == mesh::full || i == 0 || j == 0);
  }

  mesh mesh_;
  std::vector<std::unique_ptr<cluster_node>> nodes_;
};

/// The port of a `ws://127.0.0.1:PORT/...` URL (0 if it has none).
std::uint16_t port_of_url(std::string_view url);

}  // namespace wsvisor::test
