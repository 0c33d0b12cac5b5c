#include "actors/session/replay_buffer.hpp"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace wsvisor {
namespace {

std::shared_ptr<const std::string> body(std::size_t bytes) {
  return std::make_shared<const std::string>(bytes, 'x');
}

std::vector<std::uint64_t> seqs_after(const replay_buffer& buf, std::uint64_t last_seq) {
  std::vector<std::uint64_t> out;
  for (auto it = buf.first_after(last_seq); it != buf.end(); ++it) out.push_back(it->seq);
  return out;
}

using seqs = std::vector<std::uint64_t>;

TEST(ReplayBuffer, ReplaysEntriesAfterLastSeqInOrder) {
  replay_buffer buf{10, 1000};
  for (std::uint64_t s = 1; s <= 5; ++s) buf.push(s, body(10));
  EXPECT_EQ(buf.size(), 5u);
  EXPECT_EQ(buf.bytes(), 50u);
  EXPECT_EQ(seqs_after(buf, 0), (seqs{1, 2, 3, 4, 5}));
  EXPECT_EQ(seqs_after(buf, 3), (seqs{4, 5}));
  EXPECT_EQ(seqs_after(buf, 5), seqs{});
  for (std::uint64_t last = 0; last <= 5; ++last) EXPECT_TRUE(buf.can_replay_after(last));
}

TEST(ReplayBuffer, AnEntryPushedWithoutABodyIsFilledLaterAndCountsItsBytesThen) {
  replay_buffer buf{10, 25};
  buf.push(1, body(10));
  buf.push(2, nullptr);
  buf.push(3, body(10));
  EXPECT_EQ(buf.bytes(), 20u);
  EXPECT_FALSE(buf.fill(3, body(10)));  // it has one
  EXPECT_FALSE(buf.fill(4, body(10)));  // no such entry
  EXPECT_TRUE(buf.fill(2, body(10)));   // 30 bytes: over the bound, 1 goes
  EXPECT_EQ(buf.bytes(), 20u);
  EXPECT_EQ(buf.begin()->seq, 2u);
  EXPECT_EQ(buf.begin()->body->size(), 10u);
  EXPECT_EQ(buf.lost_through(), 1u);
}

TEST(ReplayBuffer, EvictsOldestPastTheMessageBoundAndDetectsTheLoss) {
  replay_buffer buf{3, 1000};
  for (std::uint64_t s = 1; s <= 5; ++s) buf.push(s, body(10));
  EXPECT_EQ(seqs_after(buf, 0), (seqs{3, 4, 5}));
  EXPECT_EQ(buf.bytes(), 30u);
  EXPECT_EQ(buf.lost_through(), 2u);
  EXPECT_FALSE(buf.can_replay_after(0));
  EXPECT_FALSE(buf.can_replay_after(1));
  EXPECT_TRUE(buf.can_replay_after(2));
  EXPECT_TRUE(buf.can_replay_after(5));
}

TEST(ReplayBuffer, EvictsOldestPastTheByteBound) {
  replay_buffer buf{100, 25};
  buf.push(1, body(10));
  buf.push(2, body(10));
  EXPECT_EQ(buf.size(), 2u);
  buf.push(3, body(10));  // 30 bytes > 25: the oldest goes
  EXPECT_EQ(seqs_after(buf, 0), (seqs{2, 3}));
  EXPECT_EQ(buf.bytes(), 20u);
  EXPECT_FALSE(buf.can_replay_after(0));
  EXPECT_TRUE(buf.can_replay_after(1));
  buf.push(4, body(24));  // needs 24 of 25: everything older goes
  EXPECT_EQ(seqs_after(buf, 0), seqs{4});
  EXPECT_EQ(buf.lost_through(), 3u);
}

TEST(ReplayBuffer, AMessageLargerThanTheByteBoundEvictsItself) {
  replay_buffer buf{100, 25};
  buf.push(1, body(5));
  buf.push(2, body(26));
  EXPECT_EQ(buf.size(), 0u);
  EXPECT_EQ(buf.bytes(), 0u);
  EXPECT_FALSE(buf.can_replay_after(1));
  EXPECT_TRUE(buf.can_replay_after(2));
}

TEST(ReplayBuffer, AckTrimsAndIsNotALoss) {
  replay_buffer buf{10, 1000};
  for (std::uint64_t s = 1; s <= 5; ++s) buf.push(s, body(10));
  buf.ack(3);
  EXPECT_EQ(seqs_after(buf, 0), (seqs{4, 5}));
  EXPECT_EQ(buf.bytes(), 20u);
  EXPECT_EQ(buf.acked_through(), 3u);
  EXPECT_EQ(buf.lost_through(), 0u);
  // The client holds 1..3: resuming from below that is still complete.
  EXPECT_TRUE(buf.can_replay_after(0));
  buf.ack(2);  // acks never move backwards
  EXPECT_EQ(buf.acked_through(), 3u);
  buf.ack(99);
  EXPECT_EQ(buf.size(), 0u);
  EXPECT_EQ(buf.bytes(), 0u);
}

TEST(ReplayBuffer, AnAckAboveTheEvictedMessagesCoversTheLoss) {
  replay_buffer buf{2, 1000};
  for (std::uint64_t s = 1; s <= 4; ++s) buf.push(s, body(1));  // 1 and 2 evicted
  EXPECT_FALSE(buf.can_replay_after(1));
  buf.ack(1);  // the client had 1, but 2 is still lost
  EXPECT_FALSE(buf.can_replay_after(1));
  buf.ack(2);
  EXPECT_TRUE(buf.can_replay_after(1));
  EXPECT_EQ(seqs_after(buf, 1), (seqs{3, 4}));
}

TEST(ReplayBuffer, ZeroBoundsKeepNothing) {
  replay_buffer by_count{0, 1000};
  by_count.push(1, body(1));
  EXPECT_EQ(by_count.size(), 0u);
  EXPECT_FALSE(by_count.can_replay_after(0));
  replay_buffer by_bytes{10, 0};
  by_bytes.push(1, body(1));
  EXPECT_EQ(by_bytes.size(), 0u);
}

TEST(ReplayBuffer, EntriesShareTheirBody) {
  replay_buffer buf{10, 1000};
  auto b = body(3);
  buf.push(1, b);
  EXPECT_EQ(buf.begin()->body.get(), b.get());
  EXPECT_EQ(buf.begin()->bytes, 3u);
}

}  // namespace
}  // namespace wsvisor

namespace wsvisor {
namespace {

TEST(ReplayBuffer, HoldsNoMemoryWhenEmptyAndGivesItBackOnceAcked) {
  replay_buffer buf{1024, 1 << 20};
  EXPECT_EQ(buf.capacity_bytes(), 0u);  // an idle or detached session pays nothing here
  auto body = std::make_shared<const std::string>("x");
  for (std::uint64_t seq = 1; seq <= 500; ++seq) buf.push(seq, body);
  EXPECT_GT(buf.capacity_bytes(), 0u);
  buf.ack(500);
  EXPECT_EQ(buf.size(), 0u);
  EXPECT_EQ(buf.capacity_bytes(), 0u);
}

TEST(ReplayBuffer, StaysOrderedAndBoundedThroughLongRunsOfPushesAndAcks) {
  // Many more messages than the bound, acked in uneven steps: the dead
  // prefix is compacted away, the live part stays in order, and memory
  // stays proportional to the bound.
  replay_buffer buf{100, 1 << 20};
  auto body = std::make_shared<const std::string>("payload");
  std::uint64_t acked = 0;
  for (std::uint64_t seq = 1; seq <= 100000; ++seq) {
    buf.push(seq, body);
    if (seq % 7 == 0) buf.ack(acked = seq - 3);
    ASSERT_LE(buf.size(), 100u);
  }
  EXPECT_EQ(seqs_after(buf, 0).front(), acked + 1);
  EXPECT_EQ(seqs_after(buf, 0).back(), 100000u);
  EXPECT_EQ(buf.size(), 100000u - acked);
  EXPECT_LE(buf.capacity_bytes(), 4 * 100 * sizeof(replay_buffer::entry));
  EXPECT_EQ(buf.lost_through(), 0u);
  EXPECT_EQ(seqs_after(buf, 99998), (std::vector<std::uint64_t>{99999, 100000}));
}

}  // namespace
}  // namespace wsvisor
