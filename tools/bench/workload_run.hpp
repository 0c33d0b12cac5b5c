#pragma once

/// What the workloads (workloads.cpp: roundtrip, idle, detached, connrate;
/// workloads_fanout.cpp: fanout, storm; workloads_failover.cpp: failover)
/// share: the generator's threads and
/// clients (`run`), the CPU meter, the measured window, and the pieces of
/// the JSON every workload writes. Internal to wsbench_core.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include "tools/bench/client.hpp"
#include "tools/bench/stats.hpp"
#include "tools/bench/workloads.hpp"

namespace wsbench::detail {

namespace asio = boost::asio;
namespace json = boost::json;

using steady = std::chrono::steady_clock;
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch())
      .count();
}

inline void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

/// Polls `done` (cheap atomic reads) until it holds or `timeout_s` passes.
/// The orchestrating thread only; the clients themselves never poll.
inline bool wait_until(const std::function<bool()>& done, double timeout_s) {
  auto deadline = steady::now() + std::chrono::duration<double>(timeout_s);
  while (!done()) {
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  return true;
}

/// What one generator thread counts; merged after the threads have stopped.
struct thread_stats {
  latencies lat;
  std::uint64_t count = 0;
  std::uint64_t unexpected = 0;
};

/// The generator's threads (one io_context each), the clients (client i lives
/// on context i % threads) and the counters the orchestrating thread watches.
class run {
 public:
  explicit run(const options& o) : o_{o} {
    int n = std::max(1, o.threads);
    for (int i = 0; i < n; ++i) {
      ctx_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(asio::make_work_guard(*ctx_.back()));
      gates_.push_back(
          std::make_unique<asio::steady_timer>(*ctx_.back(), steady::time_point::max()));
    }
    stats.resize(ctx_.size());
    for (auto& c : ctx_) threads_.emplace_back([c = c.get()] { c->run(); });
  }

  ~run() {
    stop_threads();
    clients.clear();  // before their io_contexts
  }

  std::size_t threads() const { return ctx_.size(); }
  asio::io_context& ctx_of(std::uint32_t i) { return *ctx_[i % ctx_.size()]; }
  thread_stats& stats_of(std::uint32_t i) { return stats[i % ctx_.size()]; }

  /// Client i, connecting to node `node` of a cluster (node i by default:
  /// round robin over the nodes; a single server is node 0 whatever i is).
  client& add_client(std::uint32_t i) { return add_client(i, i); }
  client& add_client(std::uint32_t i, std::uint32_t node) {
    clients.push_back(std::make_unique<client>(ctx_of(i), o_.to, i, node));
    return *clients.back();
  }

  /// Runs `t` on client i's context; an escaping exception is recorded.
  void spawn(std::uint32_t i, task<void> t) {
    asio::co_spawn(ctx_of(i), std::move(t), [this](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        note_error(ex.what());
      }
    });
  }

  /// A client that could not connect, upgrade or start its session.
  void failed(const client& c) {
    note_error(c.last_error().empty() ? "connection failed" : c.last_error());
    ++failures;
  }

  void note_error(const std::string& what) {
    std::lock_guard lock{error_mutex_};
    if (first_error.empty()) first_error = what;
  }

  /// Every client waits here after setting up; `open_gate` releases them all.
  task<void> gate(std::uint32_t i) {
    if (gate_open_) co_return;
    co_await gates_[i % ctx_.size()]->async_wait(use_tuple);
  }
  void open_gate() {
    gate_open_ = true;
    for (std::size_t i = 0; i < ctx_.size(); ++i)
      asio::post(*ctx_[i], [t = gates_[i].get()] { t->cancel(); });
  }

  /// Runs `f(client)` on each client's own thread (cuts, closes).
  void for_each_client(std::function<void(client&)> f) {
    for (std::size_t t = 0; t < ctx_.size(); ++t) {
      asio::post(*ctx_[t], [this, t, f] {
        for (auto& c : clients)
          if (c->index() % ctx_.size() == t) f(*c);
      });
    }
  }

  /// Spawns `make(i)` for i in [first, n) in batches of `o.batch`, waiting
  /// for each batch to be ready (or failed) before the next: a ramp that
  /// never overflows the server's accept backlog.
  void ramp(std::uint32_t n, const std::function<task<void>(std::uint32_t)>& make,
            std::uint32_t first = 0) {
    std::uint32_t batch = std::max<std::uint32_t>(1, o_.batch);
    for (std::uint32_t start = first; start < n; start += batch) {
      std::uint32_t end = std::min(n, start + batch);
      for (std::uint32_t i = start; i < end; ++i) spawn(i, make(i));
      if (!wait_until([&] { return ready + failures >= end; }, o_.timeout_s))
        throw std::runtime_error("ramp-up stalled: " + std::to_string(ready.load()) + " of " +
                                 std::to_string(n) + " clients ready after " +
                                 std::to_string(o_.timeout_s) + " s");
    }
  }

  /// Cuts every connection and stops the threads; clients must not be used after.
  void stop_threads() {
    if (threads_.empty()) return;
    stopping = true;
    for_each_client([](client& c) { c.cut(); });
    for (auto& g : guards_) g.reset();
    for (auto& c : ctx_) asio::post(*c, [t = gates_[&c - &ctx_[0]].get()] { t->cancel(); });
    // Coroutines end once their sockets fail; a bounded grace, then force.
    wait_until(
        [&] { return std::all_of(ctx_.begin(), ctx_.end(), [](auto& c) { return c->stopped(); }); },
        5);
    for (auto& c : ctx_) c->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  latencies merged_latencies() {
    latencies all;
    for (auto& s : stats) all.merge(s.lat);
    all.finish();
    return all;
  }
  std::uint64_t merged(std::uint64_t thread_stats::*field) const {
    std::uint64_t sum = 0;
    for (auto& s : stats) sum += s.*field;
    return sum;
  }

  std::vector<thread_stats> stats;
  std::vector<std::unique_ptr<client>> clients;
  std::atomic<std::uint32_t> ready{0}, failures{0}, done{0};
  std::atomic<bool> measuring{false}, stop{false}, stopping{false};
  std::string first_error;

 private:
  const options& o_;
  std::vector<std::unique_ptr<asio::io_context>> ctx_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::unique_ptr<asio::steady_timer>> gates_;
  std::vector<std::thread> threads_;
  std::mutex error_mutex_;
  std::atomic<bool> gate_open_{false};
};

/// CPU time of the server's processes (a cluster's, summed), those alive.
inline double server_cpu_seconds(const std::vector<pid_t>& pids) {
  double sum = 0;
  for (auto pid : pids)
    if (auto s = sample_process(pid)) sum += s->cpu_s;
  return sum;
}

/// CPU used by the generator and by the server (every process of a cluster,
/// summed) over a measured window, in cores (1.0 = one core busy the whole
/// time): how the generator shows it is not the bottleneck.
class meter {
 public:
  explicit meter(const std::vector<pid_t>& servers) : servers_{servers} {}
  void start() {
    t0_ = steady::now();
    gen0_ = own_cpu_seconds();
    srv0_ = server_cpu_seconds(servers_);
  }
  void stop() {
    t1_ = steady::now();
    gen1_ = own_cpu_seconds();
    srv1_ = server_cpu_seconds(servers_);
  }
  double seconds() const { return std::chrono::duration<double>(t1_ - t0_).count(); }
  void put(json::object& out) const {
    double s = seconds();
    if (s <= 0) return;
    out["gen_cpu"] = round3((gen1_ - gen0_) / s);
    if (!servers_.empty()) out["server_cpu"] = round3((srv1_ - srv0_) / s);
  }

 private:
  static double round3(double v) {
    return static_cast<double>(static_cast<long long>(v * 1000 + 0.5)) / 1000;
  }
  std::vector<pid_t> servers_;
  steady::time_point t0_, t1_;
  double gen0_ = 0, gen1_ = 0, srv0_ = 0, srv1_ = 0;
};

/// Releases the clients, lets the warm-up pass, then counts for the
/// duration: what roundtrip, fanout and connrate measure.
inline meter measure(run& r, const options& o) {
  r.open_gate();
  sleep_s(o.warmup_s);
  meter m{o.server_pids};
  m.start();
  r.measuring = true;
  sleep_s(o.duration_s);
  r.measuring = false;
  m.stop();
  return m;
}

inline std::string path_for(const options& o, const char* raw_path) {
  if (!o.to.path.empty()) return o.to.path;
  switch (o.to.kind) {
    case dialect::wsvisor:
      return "/ws";
    case dialect::raw:
      return raw_path;
    case dialect::socketio:
      return "/socket.io/?EIO=4&transport=websocket";
  }
  return "/";
}

/// What a workload's coroutines share; passed by reference.
struct env {
  run& r;
  const options& o;
  std::string path;
};

inline json::object header(const options& o, const run& r) {
  json::object out;
  out["workload"] = o.workload;
  out["target"] = o.label.empty() ? to_string(o.to.kind) : o.label;
  out["dialect"] = to_string(o.to.kind);
  out["n"] = o.n;
  out["nodes"] = o.to.nodes();
  out["payload"] = o.payload;
  out["threads"] = r.threads();
  return out;
}

inline void put_latency(json::object& out, const std::string& prefix, run& r, const options& o) {
  auto lat = r.merged_latencies();
  out[prefix + "_p50_us"] = lat.percentile(50);
  out[prefix + "_p99_us"] = lat.percentile(99);
  out[prefix + "_p999_us"] = lat.percentile(99.9);
  out[prefix + "_samples"] = lat.size();
  if (!o.cdf_file.empty()) {
    std::ofstream f{o.cdf_file};
    f << "# percentile " << prefix << "_us\n" << lat.cdf();
  }
}

inline void put_errors(json::object& out, run& r) {
  out["failed_clients"] = r.failures.load();
  std::uint64_t errors = 0;
  for (auto& c : r.clients) errors += c->errors();
  out["protocol_errors"] = errors;
  if (!r.first_error.empty()) out["first_error"] = r.first_error;
}

/// The server's resident set (a cluster's processes, summed); 0 when no
/// process is given or one of them is gone.
inline std::uint64_t rss_kib(const std::vector<pid_t>& pids) {
  std::uint64_t sum = 0;
  for (auto pid : pids) {
    auto s = sample_process(pid);
    if (!s) return 0;
    sum += s->rss_kib;
  }
  return sum;
}

// ---- one publisher, n subscribers: what fanout and storm (workloads_fanout.cpp)
// and failover (workloads_failover.cpp) share -----------------------------

/// Subscribers count what they receive from the one publisher (client n,
/// src = n); `unique` counts first receipts across all subscribers.
struct fan_state {
  explicit fan_state(std::uint32_t n) : checks(n), wire_base(n, not_subscribed) {}
  static constexpr std::uint64_t not_subscribed = ~std::uint64_t{0};
  std::vector<sequence_check> checks;  // each touched by its subscriber's thread only
  // fan-out: each subscriber's client::bytes_received() once subscribed
  // (set before it counts as ready), so the bytes of the deliveries alone.
  std::vector<std::uint64_t> wire_base;
  std::atomic<std::uint64_t> unique{0}, sent{0};
  std::atomic<bool> publishing{true};
  // fan-out: the publisher sleeps until `unique` reaches `wake_at`.
  std::atomic<std::uint64_t> wake_at{0};
  std::atomic<bool> woken{true};
  asio::steady_timer* wake = nullptr;
  asio::io_context* publisher_ctx = nullptr;
};

/// Handles one delivery to subscriber i; true when it was new.
bool on_delivery(run& r, fan_state& f, std::uint32_t i, const std::string& payload,
                 bool record_latency);

/// Waits until every subscriber holds every message sent (`unique` reaches
/// `want`) or, when some were lost, until deliveries stop for a second.
void wait_delivered(const std::atomic<std::uint64_t>& unique, std::uint64_t want, double timeout_s);

/// The publisher (client n): connects, starts its session, drains what it
/// is sent, and waits at the gate. False when it could not connect.
task<bool> start_publisher(env& x);

/// The publisher at `o.rate` messages a second, numbered from 1, until
/// `f.publishing` turns false.
task<void> paced_publisher(env& x, fan_state& f, const std::string& channel);

/// sent, lost, duplicates, seq_errors and unexpected, over every subscriber.
void put_delivery(json::object& out, run& r, fan_state& f);

// ---- the workloads of workloads_fanout.cpp and workloads_failover.cpp,
// dispatched by run_workload -------------------------------------------------

json::object fanout(const options& o);
json::object storm(const options& o);
json::object failover(const options& o);

}  // namespace wsbench::detail
