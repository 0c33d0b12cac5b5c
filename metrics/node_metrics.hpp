#pragma once

/// wsvisor's metrics (docs/metrics.md): one set per node, made by the node
/// (app/node.cpp) and handed by shared_ptr to the actors that update them
/// through their options. A null pointer means "not measured" (tests that
/// spawn actors on their own). Updates are relaxed atomic operations; the
/// references below are stable for the object's life. Thread-safe.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "metrics/metrics.hpp"

namespace wsvisor {

struct node_metrics {
  /// `open_connections` is read at scrape time (empty: the gauge reads 0);
  /// `version` labels wsvisor_build_info.
  explicit node_metrics(std::function<double()> open_connections = {},
                        const std::string& version = {});

  metrics::registry registry;

  // Sessions (actors/registry, actors/session).
  metrics::family<metrics::gauge>& sessions;  // state
  metrics::gauge& sessions_attached;
  metrics::gauge& sessions_detached;
  metrics::counter& sessions_created;
  metrics::counter& sessions_adopted;
  metrics::family<metrics::counter>& resumes;  // result, reason
  metrics::counter& resumes_resumed;
  metrics::counter& resumes_unknown;   // rejected, reason "unknown"
  metrics::counter& resumes_expired;   // rejected, reason "expired"
  metrics::counter& resumes_overflow;  // rejected, reason "overflow"
  metrics::counter& replayed_messages;
  metrics::counter& replay_evictions;

  // Messages.
  metrics::family<metrics::counter>& received;  // source
  metrics::counter& received_client;
  metrics::counter& received_api;
  metrics::counter& received_upstream;
  metrics::counter& received_cluster;
  metrics::counter& delivered;
  metrics::histogram& delivery_latency;

  // Supervision, upstreams, cluster.
  metrics::family<metrics::counter>& supervisor_restarts;  // supervisor, child, policy
  metrics::family<metrics::counter>& supervisor_give_ups;  // supervisor, child, policy
  metrics::family<metrics::gauge>& upstream_state;         // upstream, state
  metrics::gauge& cluster_peers;
  metrics::counter& cluster_peers_lost;
  metrics::counter& cluster_peers_left;
  metrics::family<metrics::gauge>& cluster_peer_up;  // peer
  metrics::counter& cluster_resent;                  // publishes sent again to a returning peer
  metrics::counter& cluster_gaps;  // sessions (or parked records) that took a gap between nodes

  // Replicas (actors/cluster/replica_store, actors/session).
  metrics::gauge& session_replicas;         // replicas of peers' sessions held here
  metrics::counter& session_adoptions;      // sessions adopted from a lost peer's
  metrics::gauge& replication_pending;      // sessions here with changes their replica lacks
  metrics::histogram& replication_latency;  // an update's round trip to the replica

  // Presence (actors/session/broker_presence.cpp).
  metrics::gauge& presence_members;  // this node's sessions' memberships (session x channel)

  /// The rejected-resume counter for a welcome `reason` (unknown, expired,
  /// overflow; anything else counts as unknown).
  metrics::counter& resume_rejected(std::string_view reason);

  /// Sets wsvisor_upstream_state for `upstream`: 1 for `state`, 0 for the
  /// other states; a state outside the documented ones ("removed") sets all 0.
  void set_upstream_state(const std::string& upstream, std::string_view state);

  /// An upstream was removed (reload): its wsvisor_upstream_state series go.
  void forget_upstream(const std::string& upstream);
};

using node_metrics_ptr = std::shared_ptr<node_metrics>;

/// Bytes of resident memory of this process (/proc/self/statm); 0 if unreadable.
double process_resident_bytes();

/// Open file descriptors of this process (/proc/self/fd); 0 if unreadable.
double process_open_fds();

}  // namespace wsvisor
