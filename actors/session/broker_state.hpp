#pragma once

/// The broker's state (actors/session/broker.hpp) and what its behaviour
/// dispatches to on the cluster's side (broker_peers.cpp): peers' interest,
/// peers lost and back (actors/session/peer_resend.hpp), gaps and barriers.
/// The local side (subscribers, publishes, parking, owners) is broker.cpp.
/// Touched only by the broker actor.

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "actors/session/peer_resend.hpp"
#include "metrics/node_metrics.hpp"

namespace wsvisor::detail {

// What a broker keeps for peers that come back (peer_resend): enough for
// seconds of a busy node's cross-node traffic; the bodies are shared with
// the sessions' replay buffers, so most cost only a reference.
inline constexpr std::size_t peer_resend_messages = 10'000;
inline constexpr std::size_t peer_resend_bytes = 16 * 1024 * 1024;

struct broker_state {
  static inline const char* name = "broker";

  std::uint64_t origin = 0;        // this node's origin id (0 on a single node)
  std::uint64_t counter = 0;       // publishes taken by this broker (stamps deliveries)
  std::uint64_t max_channels = 0;  // limits.channels; 0 = no limit
  node_metrics_ptr metrics;        // null: not measured

  // channel -> its subscribers, keyed by address so that a down_msg (which
  // carries only the address) finds the entry.
  std::unordered_map<std::string, std::unordered_map<caf::actor_addr, caf::actor>> channels;
  // subscriber -> the channels it is on: the reverse index that makes removing
  // a dead subscriber cost its own subscriptions, not every channel.
  std::unordered_map<caf::actor_addr, std::unordered_set<std::string>> by_subscriber;
  // channel -> the actor that owns it (the upstreams actor): client publishes
  // on it go there instead of to the subscribers.
  std::unordered_map<std::string, caf::actor> owners;
  // Cluster nodes only. channel -> the peers' cluster actors that have
  // subscribers on it: each publish made here goes once to each of them.
  std::unordered_map<std::string, std::vector<caf::actor>> remote;
  // channel -> subscribes waiting for the cluster to confirm this node's
  // interest (its first local subscriber); they join when it has.
  struct pending_subscribe {
    caf::actor who;
    caf::typed_response_promise<caf::ok_atom> rp;
  };
  std::unordered_map<std::string, std::vector<pending_subscribe>> pending;
  // channel -> sessions parked on it (park_atom). The registry that keeps
  // their records is subscribed in their place while the count is above 0,
  // and counts as that many subscribers.
  std::unordered_map<std::string, std::uint64_t> parked;
  // Subscribers that stand in for sessions elsewhere (stand_in_atom): not counted.
  std::unordered_set<caf::actor_addr> stand_ins;
  // Cluster nodes only: what this broker published on channels peers want,
  // for a peer that comes back after its link was lost.
  peer_resend resend{peer_resend_messages, peer_resend_bytes};
  // Cluster nodes only: publishes made here for each peer (its cluster
  // actor), sent as one cluster_publishes_atom per peer once the broker has
  // handled what its mailbox held (flush_peers_atom), so that under load one
  // message crosses for many publishes. Anything else the broker sends a
  // peer goes after them (flush_peers first): the order a peer sees is the
  // order things happened here.
  struct for_peer {
    caf::actor peer;
    cluster_publishes batch;
  };
  std::vector<for_peer> to_peers;  // a few peers: searched in order
  bool flush_queued = false;       // a flush_peers_atom is in the mailbox
};

using broker_actor = caf::stateful_actor<broker_state>;

/// (flush_peers_atom): the broker to itself, behind the messages that made
/// publishes for peers: sends them (broker_state::to_peers).
using flush_peers_atom = caf::atom_constant<caf::atom("b_flush")>;

/// Queues a publish made here for `peer` (sent at the next flush_peers).
void send_to_peer(broker_actor* self, const caf::actor& peer, const std::string& channel,
                  const std::string& body, std::uint64_t counter);

/// Sends every queued publish to its peer now; `due`: the flush_peers_atom
/// has come.
void flush_peers(broker_actor* self, bool due = false);

inline caf::actor cluster_of(broker_actor* self) {
  return self->home_system().registry().get<caf::actor>(cluster_name);
}

caf::result<caf::ok_atom> on_cluster_barrier(broker_actor* self);

void on_peer_interest(broker_actor* self, const caf::actor& peer, const std::string& channel,
                      bool on);

void on_peer_gone(broker_actor* self, const caf::actor& peer, const std::string& name, bool lost);

void on_peer_rejoined(broker_actor* self, const caf::actor& peer, const std::string& name,
                      const received_marks& marks, const std::vector<std::string>& interest);

void on_cluster_gap(broker_actor* self, const std::vector<std::string>& channels);

void echo_barrier(broker_actor* self, std::uint64_t token, const caf::actor& origin_cluster);

}  // namespace wsvisor::detail
