#include "actors/supervision/backoff.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include <gtest/gtest.h>

namespace wsvisor {
namespace {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

policy make_policy(jitter_kind jitter, ms min = 100ms, ms max = 1000ms, double multiplier = 2.0) {
  policy p;
  p.jitter = jitter;
  p.backoff_min = min;
  p.backoff_max = max;
  p.backoff_multiplier = multiplier;
  return p;
}

// An independent model of the documented draws: the same engine, seed and
// distribution type, applied to the formulas of backoff.hpp.
std::int64_t draw(std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>{lo, hi}(rng);
}

TEST(Backoff, WithoutJitterGrowsByTheMultiplierUpToTheCap) {
  backoff b{make_policy(jitter_kind::none), 1};
  EXPECT_EQ(b.next(), 100ms);
  EXPECT_EQ(b.next(), 200ms);
  EXPECT_EQ(b.next(), 400ms);
  EXPECT_EQ(b.next(), 800ms);
  EXPECT_EQ(b.next(), 1000ms);
  EXPECT_EQ(b.next(), 1000ms);
  EXPECT_EQ(b.attempt(), 6u);
}

TEST(Backoff, NonIntegerMultiplierTruncatesToWholeMilliseconds) {
  backoff b{make_policy(jitter_kind::none, 100ms, 10'000ms, 1.5), 1};
  EXPECT_EQ(b.next(), 100ms);
  EXPECT_EQ(b.next(), 150ms);
  EXPECT_EQ(b.next(), 225ms);
  EXPECT_EQ(b.next(), 337ms);
}

TEST(Backoff, DoesNotOverflowAtAttemptOneThousand) {
  for (auto jitter :
       {jitter_kind::none, jitter_kind::full, jitter_kind::equal, jitter_kind::decorrelated}) {
    backoff b{make_policy(jitter, 200ms, 30'000ms, 10.0), 7};
    ms last{};
    for (int i = 0; i < 1000; ++i) {
      last = b.next();
      ASSERT_GE(last, 0ms);
      ASSERT_LE(last, 30'000ms);
    }
    EXPECT_EQ(b.attempt(), 1000u);
    if (jitter == jitter_kind::none) {
      EXPECT_EQ(last, 30'000ms);
    }
  }
  backoff huge{make_policy(jitter_kind::none, 1ms, ms::max(), 2.0), 1};
  EXPECT_EQ(huge.base(1000), ms::max());
  EXPECT_EQ(huge.base(std::numeric_limits<std::uint32_t>::max()), ms::max());
  EXPECT_EQ(huge.base(10), 1024ms);
  backoff decorrelated{make_policy(jitter_kind::decorrelated, 1ms, ms::max()), 3};
  for (int i = 0; i < 200; ++i) ASSERT_GE(decorrelated.next(), 1ms);
}

TEST(Backoff, FullJitterDrawsUniformlyBetweenZeroAndTheBase) {
  backoff b{make_policy(jitter_kind::full), 42};
  std::mt19937_64 rng{42};
  for (std::int64_t base : {100, 200, 400, 800, 1000, 1000})
    EXPECT_EQ(b.next().count(), draw(rng, 0, base));
}

TEST(Backoff, EqualJitterKeepsHalfTheBaseAndDrawsTheOtherHalf) {
  backoff b{make_policy(jitter_kind::equal), 42};
  std::mt19937_64 rng{42};
  for (std::int64_t base : {100, 200, 400, 800, 1000, 1000})
    EXPECT_EQ(b.next().count(), base / 2 + draw(rng, 0, base / 2));
}

TEST(Backoff, DecorrelatedJitterDrawsUpToThreeTimesThePreviousDelay) {
  backoff b{make_policy(jitter_kind::decorrelated), 42};
  std::mt19937_64 rng{42};
  std::int64_t previous = 100;
  for (int i = 0; i < 20; ++i) {
    auto expected = std::min<std::int64_t>(1000, draw(rng, 100, previous * 3));
    EXPECT_EQ(b.next().count(), expected) << "draw " << i;
    previous = expected;
  }
}

TEST(Backoff, EveryJitterKindStaysWithinItsBoundsOverManyDraws) {
  const auto p = make_policy(jitter_kind::none, 100ms, 1000ms);
  backoff model{p, 0};
  for (auto jitter : {jitter_kind::full, jitter_kind::equal, jitter_kind::decorrelated}) {
    auto q = p;
    q.jitter = jitter;
    backoff b{q, 99};
    ms lowest = ms::max();
    ms highest = ms::min();
    for (std::uint32_t i = 0; i < 5000; ++i) {
      auto base = model.base(b.attempt());
      auto d = b.next();
      switch (jitter) {
        case jitter_kind::full:
          ASSERT_GE(d, 0ms);
          ASSERT_LE(d, base);
          break;
        case jitter_kind::equal:
          ASSERT_GE(d, base / 2);
          ASSERT_LE(d, base);
          break;
        default:
          ASSERT_GE(d, 100ms);
          ASSERT_LE(d, 1000ms);
      }
      lowest = std::min(lowest, d);
      highest = std::max(highest, d);
    }
    // Spread, not a constant: the draws reach both ends of the range.
    EXPECT_LT(lowest, jitter == jitter_kind::equal ? 550ms : 250ms);
    EXPECT_GT(highest, 900ms);
  }
}

TEST(Backoff, SameSeedGivesTheSameSequenceAndOtherSeedsDiffer) {
  backoff a{make_policy(jitter_kind::full), 5};
  backoff b{make_policy(jitter_kind::full), 5};
  backoff c{make_policy(jitter_kind::full), 6};
  bool differs = false;
  for (int i = 0; i < 20; ++i) {
    auto x = a.next();
    EXPECT_EQ(x, b.next());
    differs = differs || x != c.next();
  }
  EXPECT_TRUE(differs);
}

TEST(Backoff, ResetStartsAgainFromTheMinimum) {
  backoff b{make_policy(jitter_kind::none), 1};
  for (int i = 0; i < 5; ++i) b.next();
  b.reset();
  EXPECT_EQ(b.attempt(), 0u);
  EXPECT_EQ(b.next(), 100ms);
  EXPECT_EQ(b.next(), 200ms);

  // Decorrelated jitter: after reset() the previous delay is the minimum again,
  // so the next draw comes from uniform[100, 300].
  backoff d{make_policy(jitter_kind::decorrelated), 8};
  std::mt19937_64 rng{8};
  std::int64_t previous = 100;
  for (int i = 0; i < 10; ++i) {
    d.next();
    previous = std::min<std::int64_t>(1000, draw(rng, 100, previous * 3));
  }
  d.reset();
  EXPECT_EQ(d.attempt(), 0u);
  EXPECT_EQ(d.next().count(), draw(rng, 100, 300));
}

TEST(Backoff, ZeroMinimumStaysZeroAndBadParametersAreClamped) {
  backoff zero{make_policy(jitter_kind::none, 0ms), 1};
  EXPECT_EQ(zero.next(), 0ms);
  EXPECT_EQ(zero.next(), 0ms);
  backoff inverted{make_policy(jitter_kind::none, 5000ms, 1000ms), 1};
  EXPECT_EQ(inverted.next(), 1000ms);
  backoff shrinking{make_policy(jitter_kind::none, 100ms, 1000ms, 0.5), 1};
  EXPECT_EQ(shrinking.next(), 100ms);
  EXPECT_EQ(shrinking.next(), 100ms);
  backoff nan{make_policy(jitter_kind::none, 100ms, 1000ms, std::nan("")), 1};
  EXPECT_EQ(nan.next(), 100ms);
  EXPECT_EQ(nan.next(), 100ms);
}

TEST(BackoffIntensity, AllowsMaxRestartsWithinTheWindowAndRefusesTheNext) {
  restart_intensity r{3, 1000ms};
  std::chrono::steady_clock::time_point t0{};
  EXPECT_TRUE(r.allow(t0));
  EXPECT_TRUE(r.allow(t0 + 10ms));
  EXPECT_TRUE(r.allow(t0 + 20ms));
  EXPECT_FALSE(r.allow(t0 + 30ms));
  EXPECT_EQ(r.recent(t0 + 30ms), 4u);
}

TEST(BackoffIntensity, RestartsOlderThanTheWindowNoLongerCount) {
  restart_intensity r{2, 1000ms};
  std::chrono::steady_clock::time_point t0{};
  EXPECT_TRUE(r.allow(t0));
  EXPECT_TRUE(r.allow(t0 + 500ms));
  EXPECT_TRUE(r.allow(t0 + 1000ms));  // t0 is exactly one window old: it has left
  EXPECT_FALSE(r.allow(t0 + 1400ms));
  EXPECT_EQ(r.recent(t0 + 2500ms), 0u);
  EXPECT_TRUE(r.allow(t0 + 2500ms));
}

TEST(BackoffIntensity, ZeroMaxRestartsMeansUnlimited) {
  restart_intensity r{0, 1000ms};
  std::chrono::steady_clock::time_point t0{};
  for (int i = 0; i < 10'000; ++i) ASSERT_TRUE(r.allow(t0 + ms{i % 7}));
  EXPECT_EQ(r.recent(t0), 0u);
}

TEST(BackoffIntensity, IsBuiltFromAPolicy) {
  policy p;
  p.max_restarts = 1;
  p.restart_window = 50ms;
  restart_intensity r{p};
  std::chrono::steady_clock::time_point t0{};
  EXPECT_TRUE(r.allow(t0));
  EXPECT_FALSE(r.allow(t0 + 49ms));
  EXPECT_TRUE(r.allow(t0 + 200ms));
}

}  // namespace
}  // namespace wsvisor
