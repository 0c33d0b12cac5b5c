#pragma once

/// What a node's replica store (actors/cluster/replica_store.hpp) holds: per
/// session, the state a resume needs as its home last told it; and per channel
/// of those sessions, the deliveries this node received itself (the store
/// subscribes in their place), so that an adoption also holds what arrived
/// after the home's last update. Plain data, single-threaded: owned by the
/// store actor.
///
/// Where the home is lost, the record becomes a session_handover with the
/// next epoch (begin_adoption), and once the adopted session is subscribed
/// here, what it needs of the kept deliveries (finish_adoption): those above
/// the record's counter per origin, in the order they arrived. Deliveries of
/// one origin reach every node in that origin's counter order, so the home
/// held exactly those at or below its marks.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/node_id.hpp>

#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/parked_session.hpp"
#include "actors/session/replay_buffer.hpp"

namespace wsvisor {

/// The peer among `names` that keeps the replica of session `id`: the highest
/// hash of id and name (FNV-1a, then mixed; rendezvous hashing), so that every node picks
/// the same one, and a member's loss moves only the sessions it kept. Empty if
/// `names` is.
std::string rendezvous_pick(const std::string& id, const std::vector<std::string>& names);

/// A delivery this store got on a channel of its records.
struct kept_delivery {
  std::uint64_t arrival = 0;  // this store's order of arrival
  std::string channel;
  shared_body body;
  std::uint64_t origin = 0;
  std::uint64_t counter = 0;
};

/// Channels the store's own subscriptions start or end on.
struct channel_changes {
  std::vector<std::string> subscribe;
  std::vector<std::string> unsubscribe;
};

/// What the adopted session gets once it is subscribed (finish_adoption).
struct adoption_tail {
  std::vector<kept_delivery> deliveries;  // above the record's marks, in order of arrival
  std::vector<std::string> gaps;          // channels where such a delivery was evicted here
};

class replica_records {
 public:
  /// Bounds per record and per channel's kept deliveries (session.replay_buffer and
  /// session.replay_buffer_bytes).
  replica_records(std::uint64_t max_messages, std::uint64_t max_bytes);

  /// The whole session from its home on `home`. False: refused, a later epoch
  /// is held or was adopted here. `link`: how many times this store has lost
  /// `home` so far (forget_homed_before).
  bool put(session_handover whole, const caf::node_id& home, channel_changes& changes,
           std::uint64_t link = 0);

  /// What changed since the last update (cluster_seam.hpp, replica_update_atom).
  /// False: no record of that epoch (adopted, dropped or never put).
  bool update(replica_update& delta, channel_changes& changes);

  /// The session ended at its home: the record of that epoch goes.
  void drop(const std::string& id, std::uint64_t epoch, channel_changes& changes);

  /// A record of `id` is here (being adopted or not).
  bool holds(const std::string& id) const { return records_.count(id) > 0; }

  /// The channels of the record of `id` (none without one).
  const std::vector<std::string>& channels_of(const std::string& id) const;

  /// A record of `id` with an epoch above `epoch` is here, or was adopted here.
  bool newer_than(const std::string& id, std::uint64_t epoch) const;

  /// Records whose home is `home` and are not being adopted.
  std::vector<std::string> homed_at(const caf::node_id& home) const;

  /// `home` came back after this store lost it: its sessions placed their
  /// replicas anew meanwhile, so the records put before the loss (`link`
  /// below `since`) are stale and go. Returns how many.
  std::size_t forget_homed_before(const caf::node_id& home, std::uint64_t since,
                                  channel_changes& changes);

  /// A delivery on a channel the store is subscribed to; a null body is a gap.
  void keep(const std::string& channel, shared_body body, std::uint64_t origin,
            std::uint64_t counter);

  /// The record as the session its adopter starts (epoch raised); the record
  /// stays, refusing puts and updates, until finish_adoption.
  std::optional<session_handover> begin_adoption(const std::string& id);

  /// The adopted session is subscribed here: what it lacks, and the record goes.
  adoption_tail finish_adoption(const std::string& id, channel_changes& changes);

  std::size_t size() const { return records_.size(); }

  /// Entries whose body has not arrived here yet (tests).
  std::size_t awaiting_bodies() const;

  /// Kept deliveries, over every channel (tests).
  std::size_t kept() const;

 private:
  struct record {
    caf::node_id home;
    std::uint64_t link = 0;  // put()'s
    session_handover state;  // every field but the buffer's entries
    replay_buffer buffer;
    bool adopting = false;
  };
  struct channel_keep {
    std::size_t records = 0;
    std::deque<kept_delivery> kept;
    std::uint64_t bytes = 0;
    per_origin_counters evicted;  // per origin, the highest counter evicted
  };

  void want(const std::vector<std::string>& channels, channel_changes& changes);
  void unwant(const std::vector<std::string>& channels, channel_changes& changes);
  /// Appends a message unless held already (or acknowledged); a null body
  /// waits for the delivery (origin, counter) to this node.
  void push_entry(record& r, const std::string& id, std::uint64_t seq, std::string* body,
                  std::uint64_t origin, std::uint64_t counter);
  void set_channels(record& r, std::vector<std::string> channels, channel_changes& changes);
  void forget(std::map<std::string, record>::iterator it, channel_changes& changes);
  void remember_adopted(const std::string& id, std::uint64_t epoch);

  std::uint64_t max_messages_;
  std::uint64_t max_bytes_;
  std::map<std::string, record> records_;
  std::map<std::string, channel_keep> channels_;
  // Sessions adopted here, by id, with the epoch their adopter got: a put
  // of an earlier epoch (a frozen home that woke) is refused. Bounded.
  std::map<std::string, std::uint64_t> adopted_;
  std::deque<std::string> adopted_order_;
  std::uint64_t arrivals_ = 0;
  // The kept deliveries' bodies by (origin, counter): what an update's
  // reference names. Evicted with them.
  using origin_counter = std::pair<std::uint64_t, std::uint64_t>;
  std::map<origin_counter, shared_body> bodies_;
  // References whose body has not arrived yet: (origin, counter) -> the
  // records' (id, seq) that wait for it. Bounded (the oldest go first).
  std::map<origin_counter, std::vector<std::pair<std::string, std::uint64_t>>> awaiting_;
};

}  // namespace wsvisor
