#pragma once

/// What a session knows of its replica on a peer's store (docs/cluster.md,
/// "Replicas"): plain data, one per session_state (actors/session/
/// session_state.hpp), changed only by the session's replica operations
/// (session_replica.cpp).

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>

namespace wsvisor {

/// The session's replica on a peer's store (docs/cluster.md, "Replicas";
/// session_replica.cpp). While the session has one, its client sees a
/// message, an ack or a `subscribed` only once the replica holds what it
/// depends on: what a client saw survives this node.
struct session_replica {
  caf::actor local;         // this node's replica store; null: replicas are off
  bool local_gone = false;  // `local` ended: looked up again before the next request
  caf::actor store;         // the peer's store holding the replica; null: none now
  std::string node;         // the store's node name
  bool placing = false;     // asked `local` where the replica goes
  int place_failures = 0;   // placements failed in a row (logged once)
  bool no_peer = false;     // `local` knew no peer: unreplicated (and ungated) for now
  // Placements that found no peer after a replica was lost: a node that was
  // cut off (frozen, partitioned) sees no peer for a while when it wakes, and
  // must not serve its client unreplicated before it can learn that its
  // sessions were adopted meanwhile. Two tries, peer_timeout apart.
  int lonely_tries = 0;
  // When the replica was last lost: a second loss soon after waits before
  // the next placement (replica_failed).
  std::chrono::steady_clock::time_point lost_at{};
  bool had_replica = false;
  bool retry_pending = false;      // a replica_retry_atom is on its way
  bool update_queued = false;      // a replicate_atom is on its way
  bool whole_held = false;         // the store has answered a put of the whole session
  bool put_sent = false;           // a put of the whole session went to this store
  std::uint64_t epoch = 0;         // session_handover::epoch
  std::uint64_t sent_seq = 0;      // seq_ as of the last put or update sent
  std::uint64_t held_seq = 0;      // the replica holds every message up to this seq
  std::uint64_t changes = 0;       // raised by each change an answer waits for
  std::uint64_t sent_changes = 0;  // `changes` as of the last put or update sent
  std::uint64_t held_changes = 0;  // the replica holds every change up to this one
  // Puts and updates sent and not answered yet, oldest first: what each
  // covers. The store applies them in order, so an answer to one covers
  // those before it (answers can come out of order across batches).
  struct sent_update {
    std::uint64_t id;
    std::uint64_t seq;
    std::uint64_t changes;
    std::optional<std::set<std::string>> channels;  // when it carried the channel list
    std::chrono::steady_clock::time_point at;       // when it went (its round trip)
  };
  std::deque<sent_update> in_flight;
  std::uint64_t last_update = 0;                           // the id of the last one sent
  std::chrono::steady_clock::time_point place_again_at{};  // no_peer: when to ask again
  // Answers to the client held until the replica holds change N.
  std::vector<std::pair<std::uint64_t, std::function<void()>>> waiting;
  // Messages after held_seq that the replica's node receives itself (their
  // channel was held when they came): updates name them by origin and
  // counter instead of carrying their bodies.
  struct ref_mark {
    std::uint64_t seq;
    std::uint64_t origin;
    std::uint64_t counter;
  };
  std::vector<ref_mark> refs;
  std::set<std::string> held_channels;  // the replica's node receives these
  std::set<std::string> sent_channels;  // as the last put or update that carried them had them
  std::set<std::string> sent_presence;  // the presence channels with them
};

}  // namespace wsvisor
