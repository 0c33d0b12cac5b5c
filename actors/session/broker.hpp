#pragma once

/// The broker: channel -> subscribed session actors, and fan-out.
///
/// A publish sends every subscriber of its channel the same CAF message
/// (deliver_atom, channel, body): one allocation per publish, whatever the
/// number of subscribers, and the body bytes are never copied. Subscribers are
/// monitored: a subscriber that ends is removed from every channel it was on
/// (reverse index), and a channel without subscribers is forgotten, so the
/// broker's memory follows the live subscriptions only.
///
/// Message interface (atoms in actors/messages.hpp):
/// - (subscribe_atom, std::string channel, caf::actor session) -> ok_atom: idempotent.
/// - (unsubscribe_atom, std::string channel, caf::actor session): idempotent.
/// - (publish_atom, std::string channel, shared_body body) -> (std::uint64_t
///   sessions reached, std::string upstream): a client's publish, to each
///   subscriber as (deliver_atom, channel, body); on a channel owned by an
///   upstream link, delegated to its owner instead (owner_publish_atom), whose
///   answer is 0 sessions and the upstream's name, or errc::upstream_down.
/// - (fanout_atom, std::string channel, shared_body body): a publish by the
///   server itself (upstream frames, `sys.*` reports): to each subscriber,
///   whoever owns the channel. No reply.
/// - (own_channel_atom | disown_channel_atom, std::string channel, caf::actor
///   owner): ownership of a channel by the upstreams actor. Owners are
///   monitored and lose their channels when they end. A new broker asks the
///   upstreams actor named `upstreams_name` for its channels at start.
/// - Cluster nodes (actors/cluster/cluster.hpp): a subscribe that makes a channel's
///   first local subscriber is answered once the cluster has told every peer;
///   each publish is also sent once to every peer with subscribers on its
///   channel (cluster_publish_atom); peers' publishes arrive as peer_publish_atom and
///   go to local subscribers only. Deliveries are stamped with (origin,
///   counter). (local_barrier_atom) -> ok_atom once every peer's earlier
///   publishes to this node have been delivered.
/// - Parking (docs/architecture.md, "Detached sessions"): (broker_park_atom, registry,
///   id, channels) -> ok_atom from a session takes it off every channel and
///   subscribes `registry` in its place, counted once per parked session (a
///   channel with only parked subscribers keeps its cluster interest), then
///   sends the registry (parked_moved_atom, id, channels) before answering.
///   (unpark_atom, session, channels) -> ok_atom from the registry subscribes
///   `session` and takes one parked session off each channel (a null session
///   only takes it off). Subscriber counts count parked sessions, not the
///   registry.
/// - (broker_subscribe_atom, ...) may fail with errc::too_many_channels (see spawn_broker).
/// - (broker_stats_atom) -> std::uint64_t channels with subscribers;
///   (channel_subscribers_atom, std::string channel) -> std::uint64_t its subscribers.
/// - (admin_channels_atom, std::string after, std::uint64_t limit) ->
///   (std::vector<channel_info>, bool more): the admin API's page of channels.
///
/// The session registry spawns its broker itself and is linked to it
/// (actors/session/registry.hpp); spawn one directly only in tests.

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "metrics/node_metrics.hpp"

namespace wsvisor {

/// Spawns a broker with no subscriptions. `origin` identifies this node in
/// the stamps of deliveries (new_origin in actors/ids.hpp; 0 on a single node).
/// `max_channels` (limits.channels; 0 = no limit): a subscribe that would add
/// a channel beyond it is refused with errc::too_many_channels (context: the
/// limit). A reload changes it with (broker_limit_atom, max_channels);
/// channels already over a lowered limit stay. `metrics` (null: not
/// measured) counts what it sends again to returning peers.
caf::actor spawn_broker(caf::actor_system& sys, std::uint64_t origin = 0,
                        std::uint64_t max_channels = 0, node_metrics_ptr metrics = nullptr);

}  // namespace wsvisor
