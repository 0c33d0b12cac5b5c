#pragma once

/// Rate limits of `[limits]` (docs/security.md): a token bucket, and the
/// node-wide admission of `hello` and `resume` built on it.
///
/// Time is passed in, never read, so that tests drive it.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>

namespace wsvisor {

using steady_time = std::chrono::steady_clock::time_point;

/// `rate` tokens a second, at most `burst` held; starts full. rate 0: no
/// limit (every take succeeds). Not thread-safe.
class token_bucket {
 public:
  token_bucket(std::uint64_t rate, std::uint64_t burst, steady_time now);

  /// Takes one token if there is one.
  bool take(steady_time now);

  /// How long until a token is there (0 when there is one now).
  std::chrono::nanoseconds wait(steady_time now);

 private:
  void refill(steady_time now);

  double rate_;  // tokens per nanosecond
  double burst_;
  double tokens_;
  steady_time last_;
};

/// Resume-storm admission (`limits.handshakes_per_second`,
/// `limits.handshake_burst`): one bucket for the whole node, shared by every
/// connection. A handshake that finds it empty is refused with an advised
/// retry delay: each refusal is given the next free slot after those already
/// handed out, one slot per 1/rate, plus up to a quarter of that delay of
/// random jitter, so that refused clients come back spread out at the rate
/// the node admits instead of all at once. Delays are capped at
/// `max_retry` (beyond it a refusal gets a random delay in the cap's upper
/// half). Thread-safe.
class handshake_gate {
 public:
  static constexpr std::chrono::milliseconds max_retry{60'000};
  static constexpr std::chrono::milliseconds min_retry{10};

  handshake_gate(std::uint64_t rate, std::uint64_t burst, steady_time now,
                 std::uint64_t seed = std::random_device{}());

  /// Empty: admitted. Otherwise refused, with the advised retry delay.
  std::optional<std::chrono::milliseconds> admit(steady_time now);

  /// Handshakes refused so far.
  std::uint64_t refused() const;

 private:
  mutable std::mutex mtx_;
  token_bucket bucket_;
  std::chrono::nanoseconds spacing_;  // 1/rate
  steady_time next_slot_;             // the next free slot for a refused client
  std::mt19937_64 rng_;
  std::uint64_t refused_ = 0;
};

/// The window over which a draining node spreads its clients' returns
/// (goaway `shutdown`, each client's retry_ms drawn uniformly from it): long
/// enough that `clients` coming back arrive at no more than `rate` a second
/// (limits.handshakes_per_second; 0: no limit), at least one second, at most
/// handshake_gate::max_retry.
std::chrono::milliseconds drain_retry_window(std::uint64_t clients, std::uint64_t rate);

}  // namespace wsvisor
