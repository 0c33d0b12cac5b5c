#include "metrics/node_metrics.hpp"

#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>

namespace wsvisor {

namespace {

constexpr std::array<std::string_view, 5> upstream_states = {"connecting", "up", "down", "given_up",
                                                             "stopped"};

// From 100 µs (a message handed on at once on an idle node) to 10 s (a
// client that stalled, or one that caught up through a resume).
std::vector<double> latency_bounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

}  // namespace

// Members are initialised in declaration order, which is also the order of
// registration and so of the exposition.
node_metrics::node_metrics(std::function<double()> open_connections, const std::string& version)
    : sessions(registry.add_gauge_family("wsvisor_sessions", "Sessions on this node by state",
                                         {"state"})),
      sessions_attached(sessions.with({"attached"})),
      sessions_detached(sessions.with({"detached"})),
      sessions_created(registry.add_counter("wsvisor_sessions_created_total",
                                            "Sessions started (a hello, or a resume that failed)")),
      sessions_adopted(registry.add_counter("wsvisor_sessions_adopted_total",
                                            "Sessions taken over from a draining peer")),
      resumes(registry.add_counter_family(
          "wsvisor_resumes_total",
          "Resumes by result; reason as in the welcome (unknown, expired, overflow), empty when "
          "resumed",
          {"result", "reason"})),
      resumes_resumed(resumes.with({"resumed", ""})),
      resumes_unknown(resumes.with({"rejected", "unknown"})),
      resumes_expired(resumes.with({"rejected", "expired"})),
      resumes_overflow(resumes.with({"rejected", "overflow"})),
      replayed_messages(registry.add_counter("wsvisor_replayed_messages_total",
                                             "Messages queued for replay by successful resumes")),
      replay_evictions(registry.add_counter(
          "wsvisor_replay_buffer_evictions_total",
          "Unacknowledged messages evicted from replay buffers (past replay_buffer or "
          "replay_buffer_bytes)")),
      received(registry.add_counter_family("wsvisor_messages_received_total",
                                           "Publishes accepted, by source", {"source"})),
      received_client(received.with({"client"})),
      received_api(received.with({"api"})),
      received_upstream(received.with({"upstream"})),
      received_cluster(received.with({"cluster"})),
      delivered(registry.add_counter("wsvisor_messages_delivered_total",
                                     "Message frames handed to client sockets (replays included)")),
      delivery_latency(registry.add_histogram(
          "wsvisor_publish_delivery_latency_seconds",
          "From this node's broker accepting a publish to its frame being handed to a "
          "subscriber's socket, first hand-off only",
          latency_bounds())),
      supervisor_restarts(registry.add_counter_family(
          "wsvisor_supervisor_restarts_total", "Child restarts by supervisor, child and policy",
          {"supervisor", "child", "policy"})),
      supervisor_give_ups(registry.add_counter_family(
          "wsvisor_supervisor_give_ups_total",
          "Children given up (restart intensity exceeded) by supervisor, child and policy",
          {"supervisor", "child", "policy"})),
      upstream_state(registry.add_gauge_family(
          "wsvisor_upstream_state", "1 for each upstream link's current state, 0 for the others",
          {"upstream", "state"})),
      cluster_peers(registry.add_gauge("wsvisor_cluster_peers", "Cluster peers joined now")),
      cluster_peers_lost(registry.add_counter(
          "wsvisor_cluster_peers_lost_total",
          "Cluster peers lost (down after joining without saying they leave)")),
      cluster_peers_left(registry.add_counter(
          "wsvisor_cluster_peers_left_total",
          "Cluster peers that left on purpose (drain, shutdown) after joining")),
      cluster_peer_up(registry.add_gauge_family(
          "wsvisor_cluster_peer_up",
          "1 while the peer is joined, 0 once lost; a peer that left has no series", {"peer"})),
      cluster_resent(registry.add_counter(
          "wsvisor_cluster_resent_total",
          "Publishes sent again to a peer that joined again after its link was lost")),
      cluster_gaps(registry.add_counter(
          "wsvisor_cluster_gaps_total",
          "Sessions that took a gap: publishes they wanted were lost between nodes (closed "
          "with 4412; their resume gets overflow)")),
      session_replicas(registry.add_gauge(
          "wsvisor_session_replicas",
          "Replicas of sessions homed on peers that this node holds ([cluster] replicas)")),
      session_adoptions(registry.add_counter(
          "wsvisor_session_adoptions_total",
          "Sessions this node adopted from its replicas when their home node was lost")),
      replication_pending(registry.add_gauge(
          "wsvisor_replication_pending",
          "Sessions on this node with an update on its way to their replica (their clients wait "
          "for it)")),
      replication_latency(registry.add_histogram(
          "wsvisor_replication_latency_seconds",
          "Round trip of a session's update to its replica: how long a message or an answer "
          "waits before its client may see it",
          latency_bounds())),
      presence_members(registry.add_gauge(
          "wsvisor_presence_members",
          "Presence memberships of this node's sessions: one per session and channel it joined "
          "with presence, online or away")) {
  registry.add_callback_gauge(
      "wsvisor_connections", "Open WebSocket connections",
      open_connections ? std::move(open_connections) : std::function<double()>{[] { return 0.0; }});
  registry.add_callback_gauge("wsvisor_process_resident_memory_bytes",
                              "Resident memory of the process in bytes", process_resident_bytes);
  registry.add_callback_gauge("wsvisor_process_open_fds", "Open file descriptors of the process",
                              process_open_fds);
  registry.add_gauge_family("wsvisor_build_info", "Always 1; the version in a label", {"version"})
      .with({version})
      .set(1);
}

metrics::counter& node_metrics::resume_rejected(std::string_view reason) {
  if (reason == "expired") return resumes_expired;
  if (reason == "overflow") return resumes_overflow;
  return resumes_unknown;
}

void node_metrics::set_upstream_state(const std::string& upstream, std::string_view state) {
  for (auto s : upstream_states)
    upstream_state.with({upstream, std::string{s}}).set(s == state ? 1 : 0);
}

void node_metrics::forget_upstream(const std::string& upstream) {
  upstream_state.remove_if(
      [&upstream](const std::vector<std::string>& labels) { return labels.at(0) == upstream; });
}

double process_resident_bytes() {
  std::ifstream statm{"/proc/self/statm"};
  double size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double process_open_fds() {
  std::error_code ec;
  double n = 0;
  for (std::filesystem::directory_iterator it{"/proc/self/fd", ec}, end; !ec && it != end;
       it.increment(ec))
    ++n;
  // The iterator's own descriptor is listed too.
  return n > 0 ? n - 1 : 0;
}

}  // namespace wsvisor
