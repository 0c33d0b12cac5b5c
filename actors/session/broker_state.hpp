#pragma once

/// The broker's state (actors/session/broker.hpp) and what its behaviour
/// dispatches to on the cluster's side (broker_peers.cpp): peers' interest,
/// peers lost and back (actors/session/peer_resend.hpp), gaps and barriers.
/// The local side (subscribers, publishes, parking, owners) is broker.cpp.
/// Touched only by the broker actor.

#include <cstddef>
#include <cstdint>
#include <set>
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
#include "actors/session/presence_table.hpp"
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

  // -- presence (broker_presence.cpp) ------------------------------------------
  std::uint64_t max_members = 0;     // limits.presence_members (per channel); 0 = no limit
  duration presence_window{30'000};  // session.resume_window: a lost peer's members expire
  presence_table presence;           // every member this node knows of, on every node
  // This node's members: member id -> what the broker keeps for it. `holder`
  // is the session actor (null while the session is parked: the registry
  // holds its record and tells the broker when it ends or comes back).
  struct local_member {
    caf::actor_addr holder;
    std::string subject_json;
    bool online = false;
    std::set<std::string> channels;
  };
  std::unordered_map<std::string, local_member> members;
  std::unordered_map<caf::actor_addr, std::string> member_by_holder;
  // Cluster nodes: channel -> peers' answers still due to ask_presence_rows,
  // and the queries that wait for them.
  struct presence_asking {
    std::size_t due = 0;
    std::vector<caf::typed_response_promise<std::string>> queries;
  };
  std::unordered_map<std::string, presence_asking> presence_asked;
  // Cluster nodes: a peer's cluster actor -> the origins its presence came from.
  std::unordered_map<caf::actor_addr, std::set<std::uint64_t>> peer_origins;
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

/// A publish taken by this broker: to local subscribers (unless `to_local` is
/// false), and once to each peer with subscribers on the channel (broker.cpp).
void publish_here(broker_actor* self, const std::string& channel, const shared_body& body,
                  bool to_local = true);

// -- presence (broker_presence.cpp; docs/protocol.md, "Presence") -----------------

/// The sender (a session) becomes `member` of `channel`, which it is subscribed to.
caf::result<caf::ok_atom> on_presence_join(broker_actor* self, const std::string& channel,
                                           const std::string& member,
                                           const std::string& subject_json, bool online);

/// The sender's connection came (online) or went (away).
void on_presence_state(broker_actor* self, bool online);

/// `holder` left `channel` (unsubscribed): gone there, if it was a member.
void presence_leave(broker_actor* self, const std::string& channel, const caf::actor_addr& holder);

/// The sender (a session) was handed over: its memberships are forgotten
/// here without `gone` (its successor on another node holds them).
void presence_handed(broker_actor* self);

/// `holder` ended: gone everywhere.
void presence_holder_down(broker_actor* self, const caf::actor_addr& holder);

/// The session `holder` parked: its memberships stay, held by no actor.
void presence_parked(broker_actor* self, const caf::actor_addr& holder);

/// The parked `member` was restored into `session`, or (null) ended: gone everywhere.
void presence_unparked(broker_actor* self, const caf::actor& session, const std::string& member);

/// The presence answer's members array for `channel`, once every peer asked
/// for its members there (ask_presence_rows) has answered.
caf::result<std::string> presence_members(broker_actor* self, const std::string& channel);

/// A presence body that came from a peer (origin, counter): noted. False if
/// it changes nothing members here would see (presence_table::apply).
bool presence_from_peer(broker_actor* self, const std::string& body, std::uint64_t origin,
                        std::uint64_t counter);

/// (origin, counter, bodies): this node's members of `channel`, for a peer.
caf::message presence_rows(broker_actor* self, const std::string& channel);

/// This node started receiving `channel`: asks every peer that has
/// subscribers there for its members.
void ask_presence_rows(broker_actor* self, const std::string& channel);

/// A peer was lost: its members are away until adopted, and gone after
/// presence_window (session.resume_window) unless a change from another
/// node (the one adopting the session) came.
void presence_peer_lost(broker_actor* self, const caf::actor& peer);

/// presence_window after a peer's loss: its members still away are gone.
void presence_expire(broker_actor* self, std::uint64_t origin);

/// (presence_expire_atom, std::uint64_t origin): the broker to itself, presence_expire.
using presence_expire_atom = caf::atom_constant<caf::atom("b_pexpire")>;

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
