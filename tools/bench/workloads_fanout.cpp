// The fan-out (2.) and reconnect-storm (4.) workloads: one publisher, n
// subscribers counting what reaches them; and the pieces of those that the
// failover workload (workloads_failover.cpp) shares. run_workload
// (workloads.cpp) dispatches to them.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "tools/bench/stats.hpp"
#include "tools/bench/workload_run.hpp"

namespace wsbench::detail {

// ---- the publisher and the counting of fan-out, storm and failover ---------

namespace {

/// Reads and drops what the publisher is sent (acks, pings are answered).
task<void> drain(client& c) {
  for (;;) {
    auto e = co_await c.next();
    if (e.type == client::event::closed) co_return;
  }
}

}  // namespace

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

task<void> paced_publisher(env& x, fan_state& f, const std::string& channel) {
  auto& [r, o, path] = x;
  auto& c = *r.clients[o.n];
  if (!co_await start_publisher(x)) co_return;
  asio::steady_timer tick{r.ctx_of(o.n)};
  auto period =
      std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(1.0 / o.rate));
  auto at = steady::now();
  std::uint64_t k = 0;
  while (f.publishing) {
    c.publish(channel, make_payload({o.n, ++k, now_ns()}, o.payload, o.fill));
    f.sent = k;
    at += period;
    tick.expires_at(at);
    co_await tick.async_wait(use_tuple);
  }
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
  // Subscribers round robin over a cluster's nodes; the publisher (client n)
  // on the first, so that most deliveries cross between nodes.
  for (std::uint32_t i = 0; i < o.n; ++i) r.add_client(i);
  r.add_client(o.n, 0);
  auto subscriber = [](env& x, fan_state& f, const std::string& channel,
                       std::uint32_t i) -> task<void> {
    auto& [r, o, path] = x;
    auto& c = *r.clients[i];
    if (!co_await c.connect(path) || !co_await c.establish(false) || !co_await c.join(channel)) {
      r.failed(c);
      co_return;
    }
    f.wire_base[i] = c.bytes_received();
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
      c.publish(channel, make_payload({o.n, ++k, now_ns()}, o.payload, o.fill));
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
  // What the server sent the subscribers since they subscribed, per
  // delivery, read before the connections are cut: a getsockopt from this
  // thread (a fan-out never replaces a client's socket; one closed reads 0
  // and is left out).
  std::uint64_t wire = 0;
  std::uint32_t compressed = 0;
  for (std::uint32_t i = 0; i < o.n; ++i) {
    auto now = r.clients[i]->bytes_received();
    if (f.wire_base[i] == fan_state::not_subscribed || now < f.wire_base[i]) continue;
    wire += now - f.wire_base[i];
    compressed += r.clients[i]->compressed();
  }
  r.stop_threads();

  auto out = header(o, r);
  auto count = r.merged(&thread_stats::count);
  if (f.unique > 0)
    out["wire_bytes_per_delivery"] =
        static_cast<double>(wire) / static_cast<double>(f.unique.load());
  out["compressed_connections"] = compressed;
  out["window"] = o.window;
  out["delivered"] = count;
  out["rate"] = static_cast<double>(count) / m.seconds();
  put_delivery(out, r, f);
  put_latency(out, "delivery", r, o);
  m.put(out);
  out["server_rss_kib"] = rss_kib(o.server_pids);
  put_errors(out, r);
  return out;
}

// ---- 4. reconnect storm ------------------------------------------------------

namespace {

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

}  // namespace

json::object storm(const options& o) {
  if (o.to.kind == dialect::raw)
    throw std::runtime_error("storm needs sessions: a raw peer has none");
  if (o.rate <= 0) throw std::runtime_error("--rate must be positive");
  run r{o};
  fan_state f{o.n};  // `woken` stays true: no windowing, the publisher runs at a fixed rate
  storm_state st;
  env x{r, o, path_for(o, "/broadcast")};
  const std::string channel = "storm";
  for (std::uint32_t i = 0; i < o.n; ++i) r.add_client(i);
  r.add_client(o.n, 0);  // the publisher, on a cluster's first node
  r.ramp(o.n, [&](std::uint32_t i) { return storm_subscriber(x, f, st, channel, i); });
  r.spawn(o.n, paced_publisher(x, f, channel));
  if (!wait_until([&] { return r.ready + r.failures >= o.n + 1; }, o.timeout_s))
    throw std::runtime_error("the publisher did not connect");
  r.open_gate();
  // Steady traffic first: every subscriber holds messages (Socket.IO needs
  // an offset to recover from) before the cut.
  sleep_s(o.warmup_s);
  wait_until([&] { return f.unique >= 2ull * (o.n - r.failures); }, o.timeout_s);

  meter m{o.server_pids};
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
  out["server_rss_kib"] = rss_kib(o.server_pids);
  put_errors(out, r);
  return out;
}

}  // namespace wsbench::detail
