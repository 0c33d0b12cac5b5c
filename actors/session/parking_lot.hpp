#pragma once

/// The registry's index of parked sessions (actors/session/parked_session.hpp): which
/// records a delivery on a channel concerns, and which record's resume window
/// ends first. Plain data, no actors; owned by the registry's state, not
/// thread-safe.
///
/// The lot does not own the entries: the registry's table does, and removes an
/// entry from the lot (unfile, unqueue) before destroying it.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/messages.hpp"
#include "actors/session/parked_session.hpp"

namespace wsvisor {

/// A record as the registry holds it while the session is parked (or on its
/// way in or out).
struct parked_entry {
  static constexpr std::size_t not_queued = std::numeric_limits<std::size_t>::max();

  /// A delivery that reached the registry after the broker moved the session
  /// and before the session's state did.
  struct held_delivery {
    shared_body body;
    std::uint64_t origin = 0;
    std::uint64_t counter = 0;
    std::int64_t accepted = 0;
  };

  parked_session rec;
  const std::string* id = nullptr;  // the registry's key for it (stable: a node key)
  std::size_t queued = not_queued;  // its place in the expiry queue
  bool filed = false;               // under its channels: deliveries on them reach it
  bool ready = false;               // `rec` holds the session's state
  std::vector<held_delivery> held;  // filed before ready, in arrival order
};

class parking_lot {
 public:
  /// From now on `on(channel)` lists `e` for each of e.rec.channels.
  void file(parked_entry& e);

  /// Undoes file (no effect if not filed).
  void unfile(parked_entry& e);

  /// The entries filed under `channel` (empty if none).
  const std::vector<parked_entry*>& on(const std::string& channel) const;

  /// Queues `e` for expiry at e.rec.due (e must not be queued).
  void queue(parked_entry& e);

  /// Undoes queue (no effect if not queued).
  void unqueue(parked_entry& e);

  /// The queued entry whose resume window ends first; null when none is queued.
  parked_entry* first_due() const { return heap_.empty() ? nullptr : heap_.front(); }

  /// Entries queued (the sessions parked and settled).
  std::size_t queued() const { return heap_.size(); }

 private:
  bool earlier(std::size_t a, std::size_t b) const { return heap_[a]->rec.due < heap_[b]->rec.due; }
  void swap_at(std::size_t a, std::size_t b);
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);

  std::unordered_map<std::string, std::vector<parked_entry*>> by_channel_;
  // A binary min-heap by due time; each entry knows its index, so that one
  // leaving early (a resume) is removed in O(log n) instead of lingering.
  std::vector<parked_entry*> heap_;
};

}  // namespace wsvisor
