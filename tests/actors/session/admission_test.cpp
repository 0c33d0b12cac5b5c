// The token bucket and the node-wide handshake gate (resume-storm
// admission), driven by a clock the test moves.

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "actors/session/admission.hpp"

namespace wsvisor {
namespace {

using namespace std::chrono_literals;

const steady_time t0{};

TEST(TokenBucket, StartsFullThenRefillsAtTheRate) {
  token_bucket b{10, 3, t0};
  EXPECT_TRUE(b.take(t0));
  EXPECT_TRUE(b.take(t0));
  EXPECT_TRUE(b.take(t0));
  EXPECT_FALSE(b.take(t0));
  EXPECT_EQ(b.wait(t0), 100ms + 1ns);
  EXPECT_FALSE(b.take(t0 + 99ms));
  EXPECT_TRUE(b.take(t0 + 101ms));
  EXPECT_FALSE(b.take(t0 + 101ms));
  // Never more than the burst, however long it rested.
  int taken = 0;
  while (b.take(t0 + 1h)) ++taken;
  EXPECT_EQ(taken, 3);
}

TEST(TokenBucket, RateZeroIsNoLimit) {
  token_bucket b{0, 1, t0};
  for (int i = 0; i < 10'000; ++i) ASSERT_TRUE(b.take(t0));
  EXPECT_EQ(b.wait(t0), 0ns);
}

TEST(HandshakeGate, AdmitsTheBurstThenRefusesWithSpreadRetryDelays) {
  handshake_gate gate{100, 50, t0, 7};
  for (int i = 0; i < 50; ++i) ASSERT_FALSE(gate.admit(t0)) << i;
  // 400 more at the same instant: each refused, with a delay that grows by
  // about one slot (10 ms at 100/s) per refusal, jittered by at most a quarter.
  std::vector<std::int64_t> delays;
  for (int i = 0; i < 400; ++i) {
    auto retry = gate.admit(t0);
    ASSERT_TRUE(retry) << i;
    delays.push_back(retry->count());
  }
  EXPECT_EQ(gate.refused(), 400u);
  for (std::size_t i = 0; i < delays.size(); ++i) {
    auto slot = static_cast<std::int64_t>(10 * (i + 1));
    EXPECT_GE(delays[i], slot) << i;
    EXPECT_LE(delays[i], slot + slot / 4 + 2) << i;
  }
  // Jittered: not all on the exact slot.
  int off_slot = 0;
  for (std::size_t i = 0; i < delays.size(); ++i)
    if (delays[i] != static_cast<std::int64_t>(10 * (i + 1))) ++off_slot;
  EXPECT_GT(off_slot, 100);
}

TEST(HandshakeGate, RefusedClientsReturningOnTheirSlotAreAdmitted) {
  handshake_gate gate{100, 10, t0, 1};
  for (int i = 0; i < 10; ++i) ASSERT_FALSE(gate.admit(t0));
  std::vector<std::chrono::milliseconds> retry;
  for (int i = 0; i < 100; ++i) retry.push_back(*gate.admit(t0));
  std::sort(retry.begin(), retry.end());
  // Each comes back when told (and nobody else arrives): every one is let in.
  int admitted = 0;
  for (auto r : retry)
    if (!gate.admit(t0 + r)) ++admitted;
  EXPECT_GE(admitted, 95);
}

TEST(HandshakeGate, DelaysAreCapped) {
  handshake_gate gate{1, 1, t0, 3};
  ASSERT_FALSE(gate.admit(t0));
  for (int i = 0; i < 200; ++i) {
    auto retry = gate.admit(t0);
    ASSERT_TRUE(retry);
    EXPECT_LE(*retry, handshake_gate::max_retry);
    EXPECT_GE(*retry, handshake_gate::min_retry);
  }
}

TEST(HandshakeGate, RateZeroAdmitsEveryone) {
  handshake_gate gate{0, 1, t0};
  for (int i = 0; i < 10'000; ++i) ASSERT_FALSE(gate.admit(t0));
  EXPECT_EQ(gate.refused(), 0u);
}

TEST(DrainRetryWindow, SpreadsClientsAtTheAdmittedRateWithinOneSecondToTheCap) {
  EXPECT_EQ(drain_retry_window(0, 2000), 1000ms);  // never under a second
  EXPECT_EQ(drain_retry_window(1500, 2000), 1000ms);
  EXPECT_EQ(drain_retry_window(10'000, 2000), 5000ms);  // 10k clients at 2000/s
  EXPECT_EQ(drain_retry_window(10'001, 2000), 5001ms);  // rounded up
  EXPECT_EQ(drain_retry_window(1'000'000, 100), handshake_gate::max_retry);
  EXPECT_EQ(drain_retry_window(~std::uint64_t{0}, 1), handshake_gate::max_retry);
  EXPECT_EQ(drain_retry_window(1'000'000, 0), 1000ms);  // no admission limit
}

}  // namespace
}  // namespace wsvisor
