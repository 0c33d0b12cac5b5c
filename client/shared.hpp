#pragma once

/// What the `client` facade and its client actor share: the callbacks, the
/// stats snapshot with its lock and condition variable, and the publish
/// budget. The actor writes, any thread reads. Internal to the client.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>

#include "client/client.hpp"

namespace wsvisor::detail {

struct client_shared {
  client_callbacks callbacks;  // invoked by the client actor only
  std::size_t max_pending = 0;

  /// Publishes accepted by the facade and not yet acknowledged. The facade
  /// reserves a slot before sending a publish to the actor, so the bound
  /// holds without a round trip; the actor releases slots on acks.
  std::atomic<std::size_t> pending{0};

  /// Set by close() and by the actor on a final state: publish() refuses.
  std::atomic<bool> closed{false};

  /// Set by the facade's destructor if the actor outlives its bounded wait:
  /// from then on no callback runs.
  std::atomic<bool> muted{false};

  mutable std::mutex mtx;
  mutable std::condition_variable cv;
  client_stats stats;       // guarded by mtx
  bool actor_gone = false;  // guarded by mtx: the client actor has terminated

  /// Applies `f` to the stats under the lock and wakes every waiter.
  template <class F>
  void update(F&& f) {
    {
      std::lock_guard guard{mtx};
      f(stats);
    }
    cv.notify_all();
  }
};

}  // namespace wsvisor::detail
