#include "actors/supervision/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace wsvisor {

backoff::backoff(const policy& p, std::uint64_t seed)
    : min_(std::max(duration::zero(), std::min(p.backoff_min, p.backoff_max))),
      max_(std::max(duration::zero(), p.backoff_max)),
      // `!(x >= 1)` also catches NaN, which would otherwise poison every delay.
      multiplier_(!(p.backoff_multiplier >= 1.0) ? 1.0 : p.backoff_multiplier),
      jitter_(p.jitter),
      previous_(min_),
      rng_(seed) {}

duration backoff::base(std::uint32_t n) const {
  // Computed in floating point: min × multiplier^n overflows any integer type
  // long before n reaches the thousands, while a double merely becomes inf,
  // and the comparison below maps inf (and anything >= max) to the cap.
  if (min_ == duration::zero()) return duration::zero();
  double b = static_cast<double>(min_.count()) * std::pow(multiplier_, static_cast<double>(n));
  if (!(b < static_cast<double>(max_.count()))) return max_;
  return duration{static_cast<duration::rep>(b)};
}

duration backoff::uniform(duration lo, duration hi) {
  std::uniform_int_distribution<std::int64_t> dist{lo.count(), hi.count()};
  return duration{dist(rng_)};
}

duration backoff::next() {
  duration delay{};
  switch (jitter_) {
    case jitter_kind::none:
      delay = base(attempt_);
      break;
    case jitter_kind::full:
      delay = uniform(duration::zero(), base(attempt_));
      break;
    case jitter_kind::equal: {
      auto half = base(attempt_) / 2;
      delay = half + uniform(duration::zero(), half);
      break;
    }
    case jitter_kind::decorrelated: {
      // previous_ <= max_, so tripling it only overflows for caps beyond a
      // third of the representable range; saturate there instead.
      constexpr auto limit = std::numeric_limits<duration::rep>::max() / 3;
      auto upper = previous_.count() > limit ? duration::max() : previous_ * 3;
      delay = std::min(max_, uniform(min_, std::max(min_, upper)));
      previous_ = delay;
      break;
    }
  }
  if (attempt_ < std::numeric_limits<std::uint32_t>::max()) ++attempt_;
  return delay;
}

void backoff::reset() {
  attempt_ = 0;
  previous_ = min_;
}

restart_intensity::restart_intensity(std::uint32_t max_restarts, duration window)
    : max_(max_restarts), window_(window) {}

restart_intensity::restart_intensity(const policy& p)
    : restart_intensity(p.max_restarts, p.restart_window) {}

bool restart_intensity::allow(time_point now) {
  if (max_ == 0) return true;
  while (!restarts_.empty() && now - restarts_.front() >= window_) restarts_.pop_front();
  restarts_.push_back(now);
  // A refused restart stays recorded (the child is given up, and a later
  // allow() must not forget it), but the deque never needs more than
  // max_ + 1 entries to answer.
  if (restarts_.size() > static_cast<std::size_t>(max_) + 1) restarts_.pop_front();
  return restarts_.size() <= max_;
}

std::size_t restart_intensity::recent(time_point now) const {
  return static_cast<std::size_t>(std::count_if(restarts_.begin(), restarts_.end(),
                                                [&](time_point t) { return now - t < window_; }));
}

}  // namespace wsvisor
