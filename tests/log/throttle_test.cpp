#include "log/throttle.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

namespace wsvisor::log {
namespace {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

const throttle::clock::time_point t0{std::chrono::hours{1}};

// The event at `now` is admitted, with `held` as what was held back before it.
void expect_admitted(throttle& t, throttle::clock::time_point now, ms interval, repeats held) {
  auto r = t.admit(now, interval);
  ASSERT_TRUE(r) << "held back";
  EXPECT_EQ(r->suppressed, held.suppressed);
  if (held.suppressed > 0) {
    EXPECT_EQ(r->interval, held.interval);
  }
}

TEST(LogThrottle, AdmitsTheFirstEventAtOnceWithNothingHeldBack) {
  throttle t;
  expect_admitted(t, t0, 10s, {});
  EXPECT_EQ(t.held(), 0u);
}

TEST(LogThrottle, HoldsBackAndCountsEventsWithinTheInterval) {
  throttle t;
  ASSERT_TRUE(t.admit(t0, 10s));
  EXPECT_FALSE(t.admit(t0, 10s));  // at the same instant
  EXPECT_FALSE(t.admit(t0 + 1ms, 10s));
  EXPECT_FALSE(t.admit(t0 + 9999ms, 10s));
  EXPECT_EQ(t.held(), 3u);
}

TEST(LogThrottle, AdmitsTheFirstEventAtTheWindowsEndWithTheCountAndTheInterval) {
  throttle t;
  ASSERT_TRUE(t.admit(t0, 10s));
  for (int i = 0; i < 412; ++i) EXPECT_FALSE(t.admit(t0 + ms{i}, 10s));
  expect_admitted(t, t0 + 10s, 10s, {412, 10s});
  EXPECT_EQ(t.held(), 0u);
}

TEST(LogThrottle, OpensTheNextWindowAtTheAdmissionNotAtTheLastWindowsEnd) {
  throttle t;
  ASSERT_TRUE(t.admit(t0, 1s));
  EXPECT_FALSE(t.admit(t0 + 500ms, 1s));
  // A quiet spell: the next event comes long after the window closed.
  expect_admitted(t, t0 + 1h, 1s, {1, 1s});  // held within the 1 s after the line before
  EXPECT_FALSE(t.admit(t0 + 1h + 999ms, 1s));
  EXPECT_TRUE(t.admit(t0 + 1h + 1s, 1s));
}

TEST(LogThrottle, AdmitsOncePerIntervalUnderASteadyStream) {
  throttle t;
  int admitted = 0;
  std::uint64_t reported = 0;
  // One event a millisecond for ten seconds.
  for (int i = 0; i < 10'000; ++i)
    if (auto r = t.admit(t0 + ms{i}, 1s)) {
      ++admitted;
      reported += r->suppressed;
    }
  EXPECT_EQ(admitted, 10);
  EXPECT_EQ(reported + t.held(), 10'000u - 10u);
}

TEST(LogThrottle, FlushHandsOverTheHeldCountAndTheNextEventIsAdmittedAtOnce) {
  throttle t;
  ASSERT_TRUE(t.admit(t0, 10s));
  EXPECT_FALSE(t.admit(t0 + 1s, 10s));
  EXPECT_FALSE(t.admit(t0 + 2s, 10s));
  auto r = t.flush();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (repeats{2, 10s}));
  EXPECT_EQ(t.held(), 0u);
  // Within what would have been the window: a new connection, a new series.
  expect_admitted(t, t0 + 3s, 10s, {});
}

TEST(LogThrottle, FlushWithNothingHeldSaysNothingButClosesTheWindow) {
  throttle t;
  EXPECT_FALSE(t.flush());  // never used
  ASSERT_TRUE(t.admit(t0, 10s));
  EXPECT_FALSE(t.flush());
  EXPECT_TRUE(t.admit(t0 + 1ms, 10s));
  EXPECT_FALSE(t.admit(t0 + 2ms, 10s));
  EXPECT_TRUE(t.flush());
  EXPECT_FALSE(t.flush());  // said once
}

TEST(LogThrottle, ZeroIntervalAdmitsEveryEvent) {
  throttle t;
  for (int i = 0; i < 5; ++i) expect_admitted(t, t0, 0ms, {});
  EXPECT_FALSE(t.flush());
}

TEST(LogThrottle, AWindowKeepsTheLengthItOpenedWith) {
  throttle t;
  ASSERT_TRUE(t.admit(t0, 10s));
  // A reload shortens the interval: the open window still runs its 10 s...
  EXPECT_FALSE(t.admit(t0 + 2s, 1s));
  // ...and its count is reported with its length...
  expect_admitted(t, t0 + 10s, 1s, {1, 10s});
  // ...and the next window is the new length.
  EXPECT_FALSE(t.admit(t0 + 10s + 999ms, 1s));
  expect_admitted(t, t0 + 11s, 1s, {1, 1s});
}

TEST(LogThrottle, EveryEventIsEitherLoggedOrCountedInALaterLine) {
  std::mt19937_64 rng{2026};
  std::uniform_int_distribution<int> gap_ms{0, 300};
  std::bernoulli_distribution ends{0.01};
  throttle t;
  auto now = t0;
  std::uint64_t events = 0;
  std::uint64_t lines = 0;
  std::uint64_t counted = 0;
  for (int i = 0; i < 100'000; ++i) {
    now += ms{gap_ms(rng)};
    ++events;
    if (auto r = t.admit(now, 1s)) {
      ++lines;
      counted += r->suppressed;
      EXPECT_LE(r->suppressed, 1000u);  // at most one a millisecond can fit in 1 s
    }
    if (ends(rng))
      if (auto r = t.flush()) counted += r->suppressed;
  }
  if (auto r = t.flush()) counted += r->suppressed;
  EXPECT_EQ(lines + counted, events);
  EXPECT_LT(lines, events / 2);
}

}  // namespace
}  // namespace wsvisor::log
