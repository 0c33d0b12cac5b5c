#pragma once

/// A replica store's queue for one peer's store (actors/cluster/replica_store.cpp):
/// this node's sessions' puts and updates, waiting to go as one batch
/// (replica_batch_atom), with each item's promise to its session. Touched
/// only by the store actor.

#include <cstddef>
#include <memory>
#include <vector>

#include <caf/actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"

namespace wsvisor {

struct replica_outbox {
  // One batch carries at most this many items, and stops adding whole puts
  // once their message bodies pass max_batch_bytes.
  static constexpr std::size_t max_batch_items = 256;
  static constexpr std::size_t max_batch_bytes = 1 << 20;

  caf::actor store;
  replica_batch queued;
  using promises = std::vector<caf::typed_response_promise<caf::ok_atom>>;
  promises waiting;   // per queued item: its session's answer
  int in_flight = 0;  // batches sent, not answered
  struct taken_batch {
    replica_batch batch;
    std::shared_ptr<promises> waiting;  // shared by the batch's two answer handlers
  };

  std::size_t size() const { return queued.whole.size(); }

  /// The oldest queued items, up to max_batch_items or max_batch_bytes of
  /// message bodies (at least one).
  taken_batch take();
};

}  // namespace wsvisor
