#pragma once

/// What one session counts (docs/metrics.md): which sessions gauge holds it,
/// attached or detached, and its deliveries, each message's latency timed on
/// its first hand-off to a transport only. Owned by the session actor
/// (session_state); a parked record carries `timed_up_to` on.

#include <chrono>
#include <cstdint>

#include "actors/session/replay_buffer.hpp"
#include "metrics/node_metrics.hpp"

namespace wsvisor {

struct session_counting {
  enum class gauge { none, attached, detached };

  node_metrics_ptr metrics;        // null: not measured
  gauge counted_in = gauge::none;  // the sessions gauge that holds this session
  std::uint64_t timed_up_to = 0;   // highest seq whose delivery latency was observed

  /// Moves the session from the gauge it is counted in to `g`.
  void count_as(gauge g);

  /// Message `e` was handed to a transport at `now`: counted as delivered;
  /// its latency observed unless an earlier hand-off (a replay) was.
  void handed(const replay_buffer::entry& e, std::chrono::steady_clock::time_point now);

 private:
  metrics::gauge* gauge_of(gauge g) const;
};

}  // namespace wsvisor
