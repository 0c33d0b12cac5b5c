#pragma once

/// Restart arithmetic of a supervision policy, free of actors and clocks so
/// that it can be tested deterministically: `backoff` computes the delay of
/// each consecutive restart, `restart_intensity` decides whether one more
/// restart is still allowed. Neither is thread-safe; a supervisor owns one of
/// each per child.

#include <chrono>
#include <cstdint>
#include <deque>
#include <random>

#include "config/config.hpp"

namespace wsvisor {

/// Exponential backoff with jitter (AWS "Exponential Backoff And Jitter").
/// With base(n) = min(backoff_max, backoff_min × multiplier^n), the n-th call
/// of `next()` (n counted from 0 since the last reset) returns
/// - none:          base(n)
/// - full:          uniform[0, base(n)]
/// - equal:         base(n)/2 + uniform[0, base(n)/2]
/// - decorrelated:  min(backoff_max, uniform[backoff_min, previous × 3]),
///                  where previous starts at backoff_min; the multiplier is
///                  not used.
/// Delays are whole milliseconds. Random draws come from a std::mt19937_64
/// seeded with `seed` through std::uniform_int_distribution<std::int64_t>,
/// so a fixed seed gives a fixed sequence. A multiplier below 1 (or NaN) is
/// treated as 1 and a backoff_min above backoff_max as backoff_max; config
/// validation is expected to reject both anyway.
class backoff {
 public:
  backoff(const policy& p, std::uint64_t seed);

  /// The delay before the next restart; advances `attempt()`.
  duration next();

  /// Starts again from backoff_min: the next delay is that of attempt 0.
  void reset();

  /// Delays handed out since construction or the last reset. Saturates at
  /// the maximum of std::uint32_t instead of wrapping.
  std::uint32_t attempt() const { return attempt_; }

  /// base(n) without jitter; never overflows, whatever `n` and multiplier.
  duration base(std::uint32_t n) const;

 private:
  duration uniform(duration lo, duration hi);

  duration min_;
  duration max_;
  double multiplier_;
  jitter_kind jitter_;
  std::uint32_t attempt_ = 0;
  duration previous_;  // decorrelated jitter grows from the previous delay
  std::mt19937_64 rng_;
};

/// Restart intensity: at most `max_restarts` restarts within any
/// `restart_window` (0 = unlimited). Time is passed in by the caller.
class restart_intensity {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  restart_intensity(std::uint32_t max_restarts, duration window);
  explicit restart_intensity(const policy& p);

  /// Records a restart at `now` and returns whether it stays within the
  /// intensity; `false` means the supervisor must give up instead. Restarts
  /// older than the window (now - t >= window) no longer count. `now` must
  /// not go backwards between calls.
  bool allow(time_point now);

  /// Restarts that still count at `now`, including a refused one.
  std::size_t recent(time_point now) const;

 private:
  std::uint32_t max_;
  duration window_;
  std::deque<time_point> restarts_;  // ascending; bounded by max_ + 1 entries
};

}  // namespace wsvisor
