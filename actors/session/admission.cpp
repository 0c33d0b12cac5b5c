#include "actors/session/admission.hpp"

#include <algorithm>
#include <cmath>

namespace wsvisor {

using std::chrono::nanoseconds;

token_bucket::token_bucket(std::uint64_t rate, std::uint64_t burst, steady_time now)
    : rate_(static_cast<double>(rate) / 1e9),
      burst_(static_cast<double>(std::max<std::uint64_t>(burst, 1))),
      tokens_(burst_),
      last_(now) {}

void token_bucket::refill(steady_time now) {
  if (now <= last_) return;
  auto elapsed = static_cast<double>(nanoseconds{now - last_}.count());
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  last_ = now;
}

bool token_bucket::take(steady_time now) {
  if (rate_ == 0) return true;
  refill(now);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

nanoseconds token_bucket::wait(steady_time now) {
  if (rate_ == 0) return nanoseconds{0};
  refill(now);
  if (tokens_ >= 1.0) return nanoseconds{0};
  return nanoseconds{static_cast<std::int64_t>((1.0 - tokens_) / rate_) + 1};
}

handshake_gate::handshake_gate(std::uint64_t rate, std::uint64_t burst, steady_time now,
                               std::uint64_t seed)
    : bucket_(rate, burst, now),
      spacing_(rate == 0 ? nanoseconds{0} : nanoseconds{1'000'000'000 / rate}),
      next_slot_(now),
      rng_(seed) {}

std::optional<std::chrono::milliseconds> handshake_gate::admit(steady_time now) {
  std::lock_guard guard{mtx_};
  if (bucket_.take(now)) return std::nullopt;
  ++refused_;
  // The first slot is when the bucket next has a token; each refusal after
  // it takes the following one.
  next_slot_ = std::max(next_slot_, now + bucket_.wait(now));
  auto delay = next_slot_ - now;
  next_slot_ += spacing_;
  if (delay >= max_retry) {
    // Past the cap: do not let the schedule run away; spread over its upper half.
    next_slot_ = now + max_retry;
    std::uniform_int_distribution<std::int64_t> late{max_retry.count() / 2, max_retry.count()};
    return std::chrono::milliseconds{late(rng_)};
  }
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(delay);
  std::uniform_int_distribution<std::int64_t> jitter{0, ms.count() / 4};
  return std::clamp(ms + std::chrono::milliseconds{jitter(rng_)}, min_retry, max_retry);
}

std::chrono::milliseconds drain_retry_window(std::uint64_t clients, std::uint64_t rate) {
  constexpr std::chrono::milliseconds floor{1000};
  if (rate == 0) return floor;
  // In double: clients * 1000 may not fit in 64 bits.
  auto ms = std::ceil(static_cast<double>(clients) * 1000.0 / static_cast<double>(rate));
  auto cap = static_cast<double>(handshake_gate::max_retry.count());
  return std::chrono::milliseconds{
      std::max(floor.count(), static_cast<std::int64_t>(std::min(ms, cap)))};
}

std::uint64_t handshake_gate::refused() const {
  std::lock_guard guard{mtx_};
  return refused_;
}

}  // namespace wsvisor
