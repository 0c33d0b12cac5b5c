#include "tools/bench/workloads.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "tools/bench/workload_run.hpp"

namespace wsbench {

using namespace detail;

namespace {

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
      c.publish(channel, make_payload({i, ++k, t0}, o.payload, o.fill), "echo");
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
  out["server_rss_kib"] = rss_kib(o.server_pids);
  put_errors(out, r);
  return out;
}

// ---- 3. idle memory: connected, and detached -------------------------------

json::object idle(const options& o, bool detached) {
  run r{o};
  env x{r, o, path_for(o, "/echo")};
  if (!rss_kib(o.server_pids))
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
  auto base = rss_kib(o.server_pids);
  auto warmed = r.ready.load();
  r.ramp(
      warm + o.n, [&](std::uint32_t i) { return open(x, detached, i); }, warm);
  sleep_s(o.settle_s);
  auto rss = rss_kib(o.server_pids);
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
  out["server_rss_kib"] = rss_kib(o.server_pids);
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
  if (o.workload == "failover") return failover(o);
  throw std::runtime_error("unknown workload '" + o.workload +
                           "' (roundtrip, fanout, idle, detached, storm, connrate or failover)");
}

}  // namespace wsbench
