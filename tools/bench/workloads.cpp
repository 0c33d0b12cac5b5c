#include "tools/bench/workloads.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <fstream>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tools/bench/stats.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace wsbench {

namespace {

using steady = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch())
      .count();
}

void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

/// Polls `done` (cheap atomic reads) until it holds or `timeout_s` passes.
/// The orchestrating thread only; the clients themselves never poll.
bool wait_until(const std::function<bool()>& done, double timeout_s) {
  auto deadline = steady::now() + std::chrono::duration<double>(timeout_s);
  while (!done()) {
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  return true;
}

/// Waits until every subscriber holds every message sent (`unique` reaches
/// `want`) or, when some were lost, until deliveries stop for a second.
void wait_delivered(const std::atomic<std::uint64_t>& unique, std::uint64_t want,
                    double timeout_s) {
  auto deadline = steady::now() + std::chrono::duration<double>(timeout_s);
  auto last = unique.load();
  auto quiet_since = steady::now();
  while (unique < want && steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
    auto now = unique.load();
    if (now != last) {
      last = now;
      quiet_since = steady::now();
    } else if (steady::now() - quiet_since > std::chrono::seconds{1}) {
      return;
    }
  }
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

  client& add_client(std::uint32_t i) {
    clients.push_back(std::make_unique<client>(ctx_of(i), o_.to, i));
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

/// CPU used by the generator and by the server over a measured window, in
/// cores (1.0 = one core busy the whole time): how the generator shows it
/// is not the bottleneck.
class meter {
 public:
  explicit meter(pid_t server) : server_{server} {}
  void start() {
    t0_ = steady::now();
    gen0_ = own_cpu_seconds();
    if (auto s = server_ ? sample_process(server_) : std::nullopt) srv0_ = s->cpu_s;
  }
  void stop() {
    t1_ = steady::now();
    gen1_ = own_cpu_seconds();
    if (auto s = server_ ? sample_process(server_) : std::nullopt) srv1_ = s->cpu_s;
  }
  double seconds() const { return std::chrono::duration<double>(t1_ - t0_).count(); }
  void put(json::object& out) const {
    double s = seconds();
    if (s <= 0) return;
    out["gen_cpu"] = round3((gen1_ - gen0_) / s);
    if (server_) out["server_cpu"] = round3((srv1_ - srv0_) / s);
  }

 private:
  static double round3(double v) {
    return static_cast<double>(static_cast<long long>(v * 1000 + 0.5)) / 1000;
  }
  pid_t server_;
  steady::time_point t0_, t1_;
  double gen0_ = 0, gen1_ = 0, srv0_ = 0, srv1_ = 0;
};

/// Releases the clients, lets the warm-up pass, then counts for the
/// duration: what roundtrip, fanout and connrate measure.
meter measure(run& r, const options& o) {
  r.open_gate();
  sleep_s(o.warmup_s);
  meter m{o.server_pid};
  m.start();
  r.measuring = true;
  sleep_s(o.duration_s);
  r.measuring = false;
  m.stop();
  return m;
}

std::string path_for(const options& o, const char* raw_path) {
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

json::object header(const options& o, const run& r) {
  json::object out;
  out["workload"] = o.workload;
  out["target"] = o.label.empty() ? to_string(o.to.kind) : o.label;
  out["dialect"] = to_string(o.to.kind);
  out["n"] = o.n;
  out["payload"] = o.payload;
  out["threads"] = r.threads();
  return out;
}

void put_latency(json::object& out, const std::string& prefix, run& r, const options& o) {
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

void put_errors(json::object& out, run& r) {
  out["failed_clients"] = r.failures.load();
  std::uint64_t errors = 0;
  for (auto& c : r.clients) errors += c->errors();
  out["protocol_errors"] = errors;
  if (!r.first_error.empty()) out["first_error"] = r.first_error;
}

std::uint64_t rss_kib(pid_t pid) {
  auto s = pid ? sample_process(pid) : std::nullopt;
  return s ? s->rss_kib : 0;
}

// ---- 1. round trip --------------------------------------------------------

json::object roundtrip(const options& o) {
  run r{o};
  env x{r, o, path_for(o, "/echo")};
  for (std::uint32_t i = 0; i < o.n; ++i) r.add_client(i);
  // Coroutine lambdas capture nothing: a capture would live in the lambda
  // object, which dies before the coroutine does. State comes through `x`.
  auto loop = [](env& x, std::uint32_t i) -> task<void> {
    auto& [r, o, path] = x;
    auto& c = *r.clients[i];
    auto& ts = r.stats_of(i);
    auto channel = "rt." + std::to_string(i);
    if (!co_await c.connect(path) || !co_await c.establish(false) || !co_await c.join(channel)) {
      r.failed(c);
      co_return;
    }
    ++r.ready;
    co_await r.gate(i);
    std::uint64_t k = 0;
    while (!r.stop) {
      auto t0 = now_ns();
      c.publish(channel, make_payload({i, ++k, t0}, o.payload), "echo");
      for (;;) {
        auto e = co_await c.next();
        if (e.type == client::event::closed) {
          if (!r.stopping) r.note_error("connection " + std::to_string(i) + " closed: " + e.reason);
          ++r.done;
          co_return;
        }
        if (e.type != client::event::delivered) continue;
        auto s = parse_payload(e.payload);
        if (s && s->src == i && s->k == k) break;
        ++ts.unexpected;
      }
      if (r.measuring) {
        ts.lat.add(now_ns() - t0);
        ++ts.count;
      }
    }
    ++r.done;
  };
  r.ramp(o.n, [&](std::uint32_t i) { return loop(x, i); });
  auto m = measure(r, o);
  r.stop = true;
  wait_until([&] { return r.done + r.failures >= o.n; }, 10);
  r.stop_threads();

  auto out = header(o, r);
  auto count = r.merged(&thread_stats::count);
  out["messages"] = count;
  out["rate"] = static_cast<double>(count) / m.seconds();
  out["unexpected"] = r.merged(&thread_stats::unexpected);
  put_latency(out, "rtt", r, o);
  m.put(out);
  out["server_rss_kib"] = rss_kib(o.server_pid);
  put_errors(out, r);
  return out;
}

// ---- 2. fan-out and 4. reconnect storm share a publisher ------------------

/// Subscribers count what they receive from the one publisher (src = n);
/// `unique` counts first receipts across all subscribers.
struct fan_state {
  explicit fan_state(std::uint32_t n) : checks(n) {}
  std::vector<sequence_check> checks;  // each touched by its subscriber's thread only
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
                 bool record_latency) {
  auto s = parse_payload(payload);
  auto& ts = r.stats_of(i);
  if (!s || s->src != r.clients.size() - 1) {
    ++ts.unexpected;
    return false;
  }
  auto before = f.checks[i].duplicates();
  f.checks[i].receive(s->k);
  if (f.checks[i].duplicates() != before) return false;
  if (record_latency && r.measuring) {
    ts.lat.add(now_ns() - s->t_ns);
    ++ts.count;
  }
  auto total = ++f.unique;
  if (total >= f.wake_at.load(std::memory_order_relaxed) && !f.woken.exchange(true))
    asio::post(*f.publisher_ctx, [t = f.wake] { t->cancel(); });
  return true;
}

/// Reads and drops what the publisher is sent (acks, pings are answered).
task<void> drain(client& c) {
  for (;;) {
    auto e = co_await c.next();
    if (e.type == client::event::closed) co_return;
  }
}

/// The publisher (client n): connects, starts its session, drains what it
/// is sent, and waits at the gate. False when it could not connect.
task<bool> start_publisher(env& x) {
  auto& [r, o, path] = x;
  auto& c = *r.clients[o.n];
  if (!co_await c.connect(path) || !co_await c.establish(false)) {
    r.failed(c);
    co_return false;
  }
  r.spawn(o.n, drain(c));
  ++r.ready;
  co_await r.gate(o.n);
  co_return true;
}

void put_delivery(json::object& out, run& r, fan_state& f) {
  std::uint64_t lost = 0, dups = 0, seq_errors = 0;
  auto sent = f.sent.load();
  for (auto& c : f.checks) {
    lost += c.lost(sent);
    dups += c.duplicates();
  }
  for (auto& c : r.clients) seq_errors += c->seq_errors();
  out["sent"] = sent;
  out["lost"] = lost;
  out["duplicates"] = dups;
  out["seq_errors"] = seq_errors;
  out["unexpected"] = r.merged(&thread_stats::unexpected);
}

json::object fanout(const options& o) {
  run r{o};
  fan_state f{o.n};
  env x{r, o, path_for(o, "/broadcast")};
  const std::string channel = "fan";
  for (std::uint32_t i = 0; i <= o.n; ++i) r.add_client(i);  // client n publishes
  auto subscriber = [](env& x, fan_state& f, const std::string& channel,
                       std::uint32_t i) -> task<void> {
    auto& [r, o, path] = x;
    auto& c = *r.clients[i];
    if (!co_await c.connect(path) || !co_await c.establish(false) || !co_await c.join(channel)) {
      r.failed(c);
      co_return;
    }
    ++r.ready;
    for (;;) {
      auto e = co_await c.next();
      if (e.type == client::event::closed) {
        if (!r.stopping) r.note_error("subscriber " + std::to_string(i) + " closed: " + e.reason);
        co_return;
      }
      if (e.type == client::event::delivered) on_delivery(r, f, i, e.payload, true);
    }
  };
  r.ramp(o.n, [&](std::uint32_t i) { return subscriber(x, f, channel, i); });

  asio::steady_timer wake{r.ctx_of(o.n)};
  f.wake = &wake;
  f.publisher_ctx = &r.ctx_of(o.n);
  auto publisher = [](env& x, fan_state& f, const std::string& channel) -> task<void> {
    auto& [r, o, path] = x;
    auto& c = *r.clients[o.n];
    auto& wake = *f.wake;
    if (!co_await start_publisher(x)) co_return;
    std::uint64_t k = 0;
    const std::uint64_t n = o.n, window = std::max<std::uint32_t>(1, o.window);
    while (f.publishing) {
      // At most `window` messages in flight: message k+1 waits until every
      // subscriber has message k+1-window. Bounded queues, full pipeline.
      std::uint64_t need = k + 1 > window ? (k + 1 - window) * n : 0;
      if (f.unique < need) {
        f.wake_at = need;
        f.woken = false;
        if (f.unique < need) {
          wake.expires_after(std::chrono::milliseconds{50});
          co_await wake.async_wait(use_tuple);
        }
        continue;
      }
      c.publish(channel, make_payload({o.n, ++k, now_ns()}, o.payload));
      f.sent = k;
    }
  };
  r.spawn(o.n, publisher(x, f, channel));
  if (!wait_until([&] { return r.ready + r.failures >= o.n + 1; }, o.timeout_s))
    throw std::runtime_error("the publisher did not connect");
  auto m = measure(r, o);
  f.publishing = false;
  // Let what is in flight arrive: bounded by the window, so this is quick.
  sleep_s(0.1);
  wait_delivered(f.unique, f.sent * (o.n - r.failures), 20);
  r.stop_threads();

  auto out = header(o, r);
  auto count = r.merged(&thread_stats::count);
  out["window"] = o.window;
  out["delivered"] = count;
  out["rate"] = static_cast<double>(count) / m.seconds();
  put_delivery(out, r, f);
  put_latency(out, "delivery", r, o);
  m.put(out);
  out["server_rss_kib"] = rss_kib(o.server_pid);
  put_errors(out, r);
  return out;
}

// ---- 3. idle memory: connected, and detached -------------------------------

json::object idle(const options& o, bool detached) {
  run r{o};
  env x{r, o, path_for(o, "/echo")};
  if (!rss_kib(o.server_pid))
    throw std::runtime_error("--server-pid is required to read the server's RSS");
  // A few sessions first, not counted: what a server pays once (code and
  // libraries paged in on first use, pools, a JIT) is not per session.
  constexpr std::uint32_t warm = 20;
  for (std::uint32_t i = 0; i < warm + o.n; ++i) r.add_client(i);
  auto open = [](env& x, bool detached, std::uint32_t i) -> task<void> {
    auto& c = *x.r.clients[i];
    if (!co_await c.connect(x.path) || !co_await c.establish(false)) {
      x.r.failed(c);
      co_return;
    }
    if (detached) c.cut();  // the session stays, waiting for a resume
    ++x.r.ready;
  };
  r.ramp(warm, [&](std::uint32_t i) { return open(x, detached, i); });
  sleep_s(std::min(o.settle_s, 1.0));
  auto base = rss_kib(o.server_pid);
  auto warmed = r.ready.load();
  r.ramp(
      warm + o.n, [&](std::uint32_t i) { return open(x, detached, i); }, warm);
  sleep_s(o.settle_s);
  auto rss = rss_kib(o.server_pid);
  auto out = header(o, r);
  r.stop_threads();
  auto sessions = r.ready.load() - warmed;
  out["sessions"] = sessions;
  out["rss_base_kib"] = base;
  out["rss_kib"] = rss;
  // Signed: a garbage-collected server may shrink meanwhile.
  out["bytes_per_session"] =
      sessions ? (static_cast<double>(rss) - static_cast<double>(base)) * 1024 / sessions : 0.0;
  put_errors(out, r);
  return out;
}

// ---- 4. reconnect storm ------------------------------------------------------

/// What the storm's subscribers count besides deliveries.
struct storm_state {
  std::atomic<bool> cutting{false};
  std::atomic<std::uint32_t> resumed{0}, not_resumed{0}, gave_up{0};
  std::atomic<std::int64_t> last_resume_ns{0};
  std::atomic<std::uint64_t> retries{0};
};

task<void> storm_subscriber(env& x, fan_state& f, storm_state& st, const std::string& channel,
                            std::uint32_t i) {
  auto& [r, o, path] = x;
  auto& c = *r.clients[i];
  auto& ts = r.stats_of(i);
  if (!co_await c.connect(path) || !co_await c.establish(false) || !co_await c.join(channel)) {
    r.failed(c);
    co_return;
  }
  ++r.ready;
  asio::steady_timer pause{r.ctx_of(i)};
  for (;;) {
    auto e = co_await c.next();
    if (e.type == client::event::delivered) {
      on_delivery(r, f, i, e.payload, false);
      continue;
    }
    if (e.type != client::event::closed) continue;
    if (r.stopping) co_return;
    if (!st.cutting) {
      r.note_error("subscriber " + std::to_string(i) + " closed before the cut: " + e.reason);
      co_return;
    }
    // Cut: reconnect (at once, or after --reconnect-delay) and resume; retry
    // briefly if the server is not accepting yet. The latency runs from the
    // first connect to the welcome.
    if (o.reconnect_delay_s > 0) {
      pause.expires_after(std::chrono::duration_cast<steady::duration>(
          std::chrono::duration<double>(o.reconnect_delay_s)));
      co_await pause.async_wait(use_tuple);
    }
    auto t0 = now_ns();
    bool ok = false;
    for (int attempt = 0; attempt < 100 && !ok && !r.stopping; ++attempt) {
      ok = co_await c.connect(path) && co_await c.establish(true);
      if (!ok) {
        ++st.retries;
        pause.expires_after(std::chrono::milliseconds{10 + 10 * std::min(attempt, 20)});
        co_await pause.async_wait(use_tuple);
      }
    }
    if (!ok) {
      ++st.gave_up;
      r.note_error("subscriber " + std::to_string(i) + " could not resume: " + c.last_error());
      co_return;
    }
    auto t1 = now_ns();
    ts.lat.add(t1 - t0);
    if (!c.resumed()) {
      ++st.not_resumed;
      if (!co_await c.join(channel)) co_return;  // a new session must subscribe again
    }
    auto prev = st.last_resume_ns.load();
    while (prev < t1 && !st.last_resume_ns.compare_exchange_weak(prev, t1)) {
    }
    ++st.resumed;
  }
}

task<void> storm_publisher(env& x, fan_state& f, const std::string& channel) {
  auto& [r, o, path] = x;
  auto& c = *r.clients[o.n];
  if (!co_await start_publisher(x)) co_return;
  asio::steady_timer tick{r.ctx_of(o.n)};
  auto period =
      std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(1.0 / o.rate));
  auto at = steady::now();
  std::uint64_t k = 0;
  while (f.publishing) {
    c.publish(channel, make_payload({o.n, ++k, now_ns()}, o.payload));
    f.sent = k;
    at += period;
    tick.expires_at(at);
    co_await tick.async_wait(use_tuple);
  }
}

json::object storm(const options& o) {
  if (o.to.kind == dialect::raw)
    throw std::runtime_error("storm needs sessions: a raw peer has none");
  if (o.rate <= 0) throw std::runtime_error("--rate must be positive");
  run r{o};
  fan_state f{o.n};  // `woken` stays true: no windowing, the publisher runs at a fixed rate
  storm_state st;
  env x{r, o, path_for(o, "/broadcast")};
  const std::string channel = "storm";
  for (std::uint32_t i = 0; i <= o.n; ++i) r.add_client(i);  // client n publishes
  r.ramp(o.n, [&](std::uint32_t i) { return storm_subscriber(x, f, st, channel, i); });
  r.spawn(o.n, storm_publisher(x, f, channel));
  if (!wait_until([&] { return r.ready + r.failures >= o.n + 1; }, o.timeout_s))
    throw std::runtime_error("the publisher did not connect");
  r.open_gate();
  // Steady traffic first: every subscriber holds messages (Socket.IO needs
  // an offset to recover from) before the cut.
  sleep_s(o.warmup_s);
  wait_until([&] { return f.unique >= 2ull * (o.n - r.failures); }, o.timeout_s);

  meter m{o.server_pid};
  m.start();
  st.cutting = true;
  auto cut_ns = now_ns();
  r.for_each_client([n = o.n](client& c) {
    if (c.index() < n) c.cut();
  });
  bool all = wait_until([&] { return st.resumed + st.gave_up + r.failures >= o.n; }, o.timeout_s);
  m.stop();
  auto storm_ms = static_cast<double>(st.last_resume_ns - cut_ns) / 1e6;
  sleep_s(o.duration_s);  // traffic continues after the storm
  f.publishing = false;
  sleep_s(2.0 / o.rate);
  wait_delivered(f.unique, f.sent * (o.n - r.failures), 20);
  r.stop_threads();

  auto out = header(o, r);
  out["rate"] = o.rate;
  out["resumed"] = st.resumed.load();
  out["not_resumed"] = st.not_resumed.load();
  out["gave_up"] = st.gave_up.load();
  out["all_resumed"] = all && st.gave_up == 0;
  out["retries"] = st.retries.load();
  out["storm_ms"] = storm_ms;
  put_delivery(out, r, f);
  put_latency(out, "resume", r, o);
  m.put(out);
  out["server_rss_kib"] = rss_kib(o.server_pid);
  put_errors(out, r);
  return out;
}

// ---- 5. connection rate -------------------------------------------------------

task<void> connect_loop(env& x, std::uint32_t i) {
  auto& [r, o, path] = x;
  auto& c = *r.clients[i];
  auto& ts = r.stats_of(i);
  co_await r.gate(i);
  while (!r.stop) {
    auto t0 = now_ns();
    if (!co_await c.connect(path) || !co_await c.establish(false)) {
      if (!r.stopping) r.failed(c);
      c.cut();
      continue;
    }
    if (r.measuring) {
      ts.lat.add(now_ns() - t0);
      ++ts.count;
    }
    co_await c.leave();
  }
  ++r.done;
}

json::object connrate(const options& o) {
  run r{o};
  env x{r, o, path_for(o, "/echo")};
  auto loops = o.concurrency;
  for (std::uint32_t i = 0; i < loops; ++i) r.add_client(i);
  for (std::uint32_t i = 0; i < loops; ++i) r.spawn(i, connect_loop(x, i));
  auto m = measure(r, o);
  r.stop = true;
  wait_until([&] { return r.done >= loops; }, 10);
  r.stop_threads();

  auto out = header(o, r);
  out["n"] = loops;
  auto count = r.merged(&thread_stats::count);
  out["sessions"] = count;
  out["rate"] = static_cast<double>(count) / m.seconds();
  put_latency(out, "setup", r, o);
  m.put(out);
  out["server_rss_kib"] = rss_kib(o.server_pid);
  put_errors(out, r);
  return out;
}

}  // namespace

json::object run_workload(const options& o) {
  if (o.workload == "roundtrip") return roundtrip(o);
  if (o.workload == "fanout") return fanout(o);
  if (o.workload == "idle") return idle(o, false);
  if (o.workload == "detached") {
    if (o.to.kind == dialect::raw)
      throw std::runtime_error("detached needs sessions: a raw peer has none");
    return idle(o, true);
  }
  if (o.workload == "storm") return storm(o);
  if (o.workload == "connrate") return connrate(o);
  throw std::runtime_error("unknown workload '" + o.workload +
                           "' (roundtrip, fanout, idle, detached, storm or connrate)");
}

}  // namespace wsbench
