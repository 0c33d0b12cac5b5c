// The failover workload (6. Cluster): n sessions spread round robin over the
// nodes of a cluster, all on one channel, and a publisher on node 2 sending
// numbered messages at a steady rate. Once traffic flows the generator kills
// node 1 (SIGKILL, the pid the bench passes with --kill-pid); the clients
// that were on it reconnect to the surviving nodes in turn and resume, and
// once the publisher has stopped every client's numbered stream is checked,
// those of the surviving nodes too. run_workload (workloads.cpp) dispatches
// to it.

#include <signal.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "tools/bench/workload_run.hpp"

namespace wsbench::detail {

namespace {

constexpr std::uint32_t killed_node = 0;          // node 1, the first of --ports
constexpr std::uint32_t publisher_node = 1;       // node 2, which survives
constexpr std::uint16_t resume_later = 4503;      // wsvisor: the adoption is not done yet
constexpr int backoff_ms = 100, jitter_ms = 100;  // between two tries of a resume

/// What the subscribers count besides deliveries.
struct failover_state {
  std::atomic<bool> killed{false};
  std::atomic<std::int64_t> kill_ns{0}, last_back_ns{0};
  // The killed node's sessions (ready before the kill): how many, how many
  // have a session again (`back`), how many of those were resumed.
  std::atomic<std::uint32_t> victims{0}, back{0}, recovered{0}, gave_up{0};
  // Tries of a resume that failed: closed with 4503, or anything else.
  std::atomic<std::uint64_t> told_later{0}, failed_tries{0};
  // Connections that closed although their node lived, and of those the
  // sessions that did not resume.
  std::atomic<std::uint32_t> other_closes{0}, other_not_resumed{0};
  // Why the killed node's sessions that came back new were not resumed
  // (wsvisor's welcome reason), and the first of them in detail.
  std::mutex mutex;
  std::map<std::string, std::uint32_t> not_recovered_why;
  std::string first_not_recovered;

  void not_recovered(const client& c, const std::string& old_session) {
    std::lock_guard lock{mutex};
    auto why = c.welcome_reason().empty() ? std::string{"new session"} : c.welcome_reason();
    if (not_recovered_why[why]++ == 0 && first_not_recovered.empty())
      first_not_recovered = "subscriber " + std::to_string(c.index()) + " (session " + old_session +
                            "): not resumed (" + why + "), now " + c.session();
  }
};

/// The node client i of the killed node moves to: the others in turn
/// (with three nodes: 2, 3, 2, 3, ...).
std::uint32_t survivor_for(std::uint32_t i, std::uint32_t nodes) {
  auto n = (i / nodes) % (nodes - 1);
  return n >= killed_node ? n + 1 : n;
}

/// Reconnects client i and resumes its session, trying again after a short
/// back-off (100-200 ms, as a client should after 4503) until it succeeds
/// or `timeout_s` has passed. A session that comes back new subscribes
/// again. False when it gave up.
task<bool> resume(env& x, failover_state& st, const std::string& channel, std::uint32_t i) {
  auto& [r, o, path] = x;
  auto& c = *r.clients[i];
  asio::steady_timer pause{r.ctx_of(i)};
  std::minstd_rand jitter{i + 1};
  auto deadline = steady::now() + std::chrono::duration<double>(o.timeout_s);
  while (!r.stopping) {
    if (co_await c.connect(path) && co_await c.establish(true)) {
      if (c.resumed()) co_return true;
      co_return co_await c.join(channel);
    }
    if (c.last_close_code() == resume_later)
      ++st.told_later;
    else
      ++st.failed_tries;
    if (steady::now() >= deadline) break;
    pause.expires_after(std::chrono::milliseconds{backoff_ms + jitter() % jitter_ms});
    co_await pause.async_wait(use_tuple);
  }
  co_return false;
}

task<void> failover_subscriber(env& x, fan_state& f, failover_state& st, const std::string& channel,
                               std::uint32_t i) {
  auto& [r, o, path] = x;
  auto& c = *r.clients[i];
  auto nodes = o.to.nodes();
  bool on_killed_node = i % nodes == killed_node;
  if (!co_await c.connect(path) || !co_await c.establish(false) || !co_await c.join(channel)) {
    r.failed(c);
    co_return;
  }
  if (on_killed_node) ++st.victims;
  ++r.ready;
  for (;;) {
    auto e = co_await c.next();
    if (e.type == client::event::delivered) {
      on_delivery(r, f, i, e.payload, false);
      continue;
    }
    if (e.type != client::event::closed) continue;
    if (r.stopping) co_return;
    // Its node was killed: resume on a survivor. Any other close (wsvisor
    // 4413, the session moved) is reported, and resumed as a client would.
    bool victim = on_killed_node && st.killed;
    auto old_session = c.session();
    if (victim) {
      c.move_to(survivor_for(i, nodes));
      on_killed_node = false;  // once: a later close is another close
    } else {
      ++st.other_closes;
      r.note_error("subscriber " + std::to_string(i) + " on node " + std::to_string(i % nodes + 1) +
                   " closed: " + e.reason);
    }
    if (!co_await resume(x, st, channel, i)) {
      if (r.stopping) co_return;
      ++st.gave_up;
      r.note_error("subscriber " + std::to_string(i) + " could not resume: " + c.last_error());
      co_return;
    }
    if (!victim) {
      if (!c.resumed()) ++st.other_not_resumed;
      continue;
    }
    auto t = now_ns();
    r.stats_of(i).lat.add(t - st.kill_ns);
    if (c.resumed())
      ++st.recovered;
    else
      st.not_recovered(c, old_session);
    auto prev = st.last_back_ns.load();
    while (prev < t && !st.last_back_ns.compare_exchange_weak(prev, t)) {
    }
    ++st.back;
  }
}

/// Lost and duplicated messages of the clients of the killed node and of
/// the others, apart.
void put_loss_by_node(json::object& out, const fan_state& f, std::uint32_t nodes) {
  std::uint64_t lost[2] = {0, 0}, dups[2] = {0, 0};
  auto sent = f.sent.load();
  for (std::uint32_t i = 0; i < f.checks.size(); ++i) {
    int other = i % nodes == killed_node ? 0 : 1;
    lost[other] += f.checks[i].lost(sent);
    dups[other] += f.checks[i].duplicates();
  }
  out["lost_killed_node"] = lost[0];
  out["lost_other_nodes"] = lost[1];
  out["duplicates_killed_node"] = dups[0];
  out["duplicates_other_nodes"] = dups[1];
}

}  // namespace

json::object failover(const options& o) {
  if (o.to.kind == dialect::raw)
    throw std::runtime_error("failover needs sessions: a raw peer has none");
  if (o.to.nodes() < 2)
    throw std::runtime_error("failover needs a cluster: --ports with two nodes or more");
  if (o.kill_pid <= 0)
    throw std::runtime_error("failover needs --kill-pid: the process of the first node of --ports");
  if (o.rate <= 0) throw std::runtime_error("--rate must be positive");
  run r{o};
  fan_state f{o.n};  // `woken` stays true: no windowing, the publisher runs at a fixed rate
  failover_state st;
  env x{r, o, path_for(o, "/broadcast")};
  const std::string channel = "failover";
  for (std::uint32_t i = 0; i < o.n; ++i) r.add_client(i);
  r.add_client(o.n, publisher_node);
  r.ramp(o.n, [&](std::uint32_t i) { return failover_subscriber(x, f, st, channel, i); });
  r.spawn(o.n, paced_publisher(x, f, channel));
  if (!wait_until([&] { return r.ready + r.failures >= o.n + 1; }, o.timeout_s))
    throw std::runtime_error("the publisher did not connect");
  r.open_gate();
  // Traffic first: every subscriber holds messages (Socket.IO needs an
  // offset to recover from) before the kill.
  sleep_s(o.warmup_s);
  wait_until([&] { return f.unique >= 2ull * (o.n - r.failures); }, o.timeout_s);

  std::vector<pid_t> survivors;
  for (auto pid : o.server_pids)
    if (pid != o.kill_pid) survivors.push_back(pid);
  meter m{survivors};
  m.start();
  st.kill_ns = now_ns();
  st.killed = true;
  if (::kill(o.kill_pid, SIGKILL) != 0)
    throw std::runtime_error("cannot kill node 1 (pid " + std::to_string(o.kill_pid) +
                             "): " + std::strerror(errno));
  auto victims = st.victims.load();
  bool all = wait_until([&] { return st.back + st.gave_up >= victims; }, o.timeout_s);
  auto back_ms = st.back ? static_cast<double>(st.last_back_ns - st.kill_ns) / 1e6 : 0.0;
  sleep_s(o.duration_s);  // traffic goes on after the last session is back
  f.publishing = false;
  m.stop();
  sleep_s(2.0 / o.rate);
  wait_delivered(f.unique, f.sent * (o.n - r.failures), 20);
  r.stop_threads();

  auto out = header(o, r);
  out["rate"] = o.rate;
  out["traffic_before_s"] = o.warmup_s;
  out["traffic_after_s"] = o.duration_s;
  out["killed_node"] = killed_node + 1;
  out["publisher_node"] = publisher_node + 1;
  out["killed_sessions"] = victims;
  out["back"] = st.back.load();
  out["recovered"] = st.recovered.load();
  out["not_recovered"] = victims - st.recovered;
  json::object why;
  for (auto& [reason, count] : st.not_recovered_why) why[reason] = count;
  out["not_recovered_why"] = std::move(why);
  if (!st.first_not_recovered.empty()) out["first_not_recovered"] = st.first_not_recovered;
  out["gave_up"] = st.gave_up.load();
  out["all_back"] = all && st.gave_up == 0;
  out["back_ms"] = back_ms;
  out["told_to_retry"] = st.told_later.load();
  out["failed_tries"] = st.failed_tries.load();
  out["other_closes"] = st.other_closes.load();
  out["other_not_resumed"] = st.other_not_resumed.load();
  put_delivery(out, r, f);
  put_loss_by_node(out, f, o.to.nodes());
  put_latency(out, "back", r, o);
  m.put(out);
  out["server_rss_kib"] = rss_kib(survivors);
  put_errors(out, r);
  return out;
}

}  // namespace wsbench::detail
