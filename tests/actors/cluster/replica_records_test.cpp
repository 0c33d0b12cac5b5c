#include "actors/cluster/replica_records.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <caf/node_id.hpp>

namespace wsvisor {
namespace {

using names = std::vector<std::string>;
using numbers = std::vector<std::uint64_t>;

caf::node_id node(std::uint32_t process) {
  return *caf::make_node_id(process, "0102030405060708090a0b0c0d0e0f1011121314");
}

shared_body body(std::string text) { return std::make_shared<const std::string>(std::move(text)); }

// A session `id` holding messages first..last ("m<seq>"), subscribed to `channels`.
session_handover whole(const std::string& id, std::uint64_t first, std::uint64_t last,
                       names channels, std::uint64_t epoch = 0) {
  session_handover h{.id = id, .token = "t", .seq = last, .channels = std::move(channels)};
  h.epoch = epoch;
  for (auto s = first; s <= last; ++s) {
    h.buffer_seqs.push_back(s);
    h.buffer_bodies.push_back("m" + std::to_string(s));
  }
  return h;
}

// An update of `id` adding messages first..last, with origin `o`'s mark at `counter`.
replica_update delta(const std::string& id, std::uint64_t first, std::uint64_t last, names channels,
                     std::uint64_t o, std::uint64_t counter, std::uint64_t epoch = 0) {
  replica_update u{.id = id,
                   .epoch = epoch,
                   .seq = last,
                   .channels_changed = true,
                   .channels = std::move(channels),
                   .through_origins = {o},
                   .through_counters = {counter}};
  for (auto s = first; s <= last; ++s)
    u.entries.push_back({.seq = s, .body = "m" + std::to_string(s)});
  return u;
}

bool apply(replica_records& r, replica_update u, channel_changes& ch) { return r.update(u, ch); }

numbers counters(const std::vector<kept_delivery>& ds) {
  numbers out;
  for (auto& d : ds) out.push_back(d.counter);
  return out;
}

TEST(Rendezvous, EveryNodePicksTheSamePeerAndALostPeerMovesOnlyItsOwnSessions) {
  names members{"a", "b", "c", "d"};
  std::size_t moved = 0;
  std::map<std::string, std::size_t> per_peer;
  for (int i = 0; i < 400; ++i) {
    auto id = "x." + std::to_string(i);
    auto pick = rendezvous_pick(id, members);
    ++per_peer[pick];
    // Any order of the same members: the same pick.
    EXPECT_EQ(pick, rendezvous_pick(id, names{"d", "c", "b", "a"}));
    auto without_b = rendezvous_pick(id, names{"a", "c", "d"});
    if (pick == "b") {
      ++moved;
    } else {
      EXPECT_EQ(without_b, pick) << id;
    }
  }
  EXPECT_EQ(moved, per_peer["b"]);
  for (auto& m : members) EXPECT_GT(per_peer[m], 60u) << m << ": spread";
  EXPECT_EQ(rendezvous_pick("x.1", {}), "");
}

TEST(ReplicaRecords, APutSubscribesItsChannelsOnceAndTheLastDropUnsubscribes) {
  replica_records r{100, 1 << 20};
  channel_changes ch;
  ASSERT_TRUE(r.put(whole("a.1", 1, 2, {"x", "y"}), node(1), ch));
  EXPECT_EQ(ch.subscribe, (names{"x", "y"}));
  channel_changes ch2;
  ASSERT_TRUE(r.put(whole("a.2", 1, 1, {"y", "z"}), node(1), ch2));
  EXPECT_EQ(ch2.subscribe, (names{"z"}));
  channel_changes ch3;
  r.drop("a.1", 0, ch3);
  EXPECT_EQ(ch3.unsubscribe, (names{"x"}));
  EXPECT_FALSE(r.holds("a.1"));
  EXPECT_TRUE(r.holds("a.2"));
  // A drop of another epoch (a handover's predecessor) leaves the record.
  channel_changes ch4;
  r.drop("a.2", 7, ch4);
  EXPECT_TRUE(r.holds("a.2"));
}

TEST(ReplicaRecords, AnAdoptionHasTheRecordThenWhatArrivedAboveItsMarksInOrder) {
  replica_records r{100, 1 << 20};
  channel_changes ch;
  ASSERT_TRUE(r.put(whole("a.1", 1, 2, {"x", "y"}), node(1), ch));
  // Deliveries this node got itself: origin 5 counters 1..6 over x and y,
  // origin 9 counter 1 on x.
  r.keep("x", body("c1"), 5, 1);
  r.keep("y", body("c2"), 5, 2);
  r.keep("x", body("c3"), 5, 3);
  r.keep("x", body("n1"), 9, 1);
  r.keep("y", body("c4"), 5, 4);
  r.keep("x", body("c5"), 5, 5);
  // The home had appended origin 5 up to 3 (seq 3..5) and nothing of 9.
  ASSERT_TRUE(apply(r, delta("a.1", 3, 5, {"x", "y"}, 5, 3), ch));
  auto h = r.begin_adoption("a.1");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->epoch, 1u);
  EXPECT_EQ(h->seq, 5u);
  EXPECT_EQ(h->buffer_seqs, (numbers{1, 2, 3, 4, 5}));
  EXPECT_EQ(h->token, "t");
  // While adopted: no update, no put of the old epoch.
  EXPECT_FALSE(apply(r, delta("a.1", 6, 6, {"x"}, 5, 4), ch));
  r.keep("x", body("c6"), 5, 6);  // arrives before the adopter is subscribed
  channel_changes done;
  auto tail = r.finish_adoption("a.1", done);
  EXPECT_EQ(counters(tail.deliveries), (numbers{1, 4, 5, 6}));  // n1 (origin 9), c4, c5, c6
  EXPECT_EQ(tail.deliveries[0].origin, 9u);
  EXPECT_TRUE(tail.gaps.empty());
  EXPECT_EQ(done.unsubscribe, (names{"x", "y"}));
  EXPECT_FALSE(r.holds("a.1"));
  // The frozen home that wakes cannot put its old copy back.
  EXPECT_FALSE(r.put(whole("a.1", 1, 5, {"x"}, 0), node(1), ch));
  EXPECT_TRUE(r.put(whole("a.1", 1, 5, {"x"}, 1), node(3), ch));
}

TEST(ReplicaRecords, AnUpdateAddsOnlyNewMessagesAndTrimsWhatTheClientAcknowledged) {
  replica_records r{100, 1 << 20};
  channel_changes ch;
  ASSERT_TRUE(r.put(whole("a.1", 1, 3, {"x"}), node(1), ch));
  auto d = delta("a.1", 3, 6, {"x"}, 5, 6);  // 3 again: held already
  d.acked_through = 4;
  d.last_cseq = 9;
  ASSERT_TRUE(apply(r, d, ch));
  auto h = r.begin_adoption("a.1");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->buffer_seqs, (numbers{5, 6}));
  EXPECT_EQ(h->buffer_bodies, (names{"m5", "m6"}));
  EXPECT_EQ(h->acked_through, 4u);
  EXPECT_EQ(h->last_cseq, 9u);
  EXPECT_EQ(h->seq, 6u);
}

TEST(ReplicaRecords, AnUpdateOfAnUnknownOrOtherEpochIsRefused) {
  replica_records r{100, 1 << 20};
  channel_changes ch;
  EXPECT_FALSE(apply(r, delta("a.1", 1, 1, {"x"}, 5, 1), ch));
  ASSERT_TRUE(r.put(whole("a.1", 1, 1, {"x"}, 2), node(1), ch));
  EXPECT_FALSE(apply(r, delta("a.1", 2, 2, {"x"}, 5, 1, 1), ch));
  EXPECT_TRUE(apply(r, delta("a.1", 2, 2, {"x"}, 5, 1, 2), ch));
  // An older epoch's put does not replace a newer one.
  EXPECT_FALSE(r.put(whole("a.1", 1, 1, {"x"}, 1), node(1), ch));
}

TEST(ReplicaRecords, AnEvictionAboveARecordsMarkIsAGapAtItsAdoption) {
  replica_records r{3, 1 << 20};
  channel_changes ch;
  ASSERT_TRUE(r.put(whole("a.1", 1, 1, {"x"}), node(1), ch));
  ASSERT_TRUE(r.put(whole("a.2", 1, 1, {"x"}), node(1), ch));
  for (std::uint64_t n = 1; n <= 5; ++n) r.keep("x", body("c"), 5, n);  // 1 and 2 evicted
  EXPECT_EQ(r.kept(), 3u);
  ASSERT_TRUE(apply(r, delta("a.1", 2, 2, {"x"}, 5, 2), ch));  // a.1 holds up to 2: complete
  ASSERT_TRUE(r.begin_adoption("a.1"));
  auto tail = r.finish_adoption("a.1", ch);
  EXPECT_EQ(counters(tail.deliveries), (numbers{3, 4, 5}));
  EXPECT_TRUE(tail.gaps.empty());
  ASSERT_TRUE(r.begin_adoption("a.2"));  // a.2 holds nothing of origin 5
  auto tail2 = r.finish_adoption("a.2", ch);
  EXPECT_EQ(tail2.gaps, (names{"x"}));
}

TEST(ReplicaRecords, ALaterEpochHereOrAdoptedHereIsNewerThanTheAskingCopy) {
  replica_records r{100, 1 << 20};
  channel_changes ch;
  ASSERT_TRUE(r.put(whole("a.1", 1, 1, {"x"}, 3), node(1), ch));
  EXPECT_TRUE(r.newer_than("a.1", 2));   // a copy that outlived a handover or an adoption
  EXPECT_FALSE(r.newer_than("a.1", 3));  // the home itself
  EXPECT_FALSE(r.newer_than("a.1", 4));  // its successor (the predecessor's record is here)
  ASSERT_TRUE(r.begin_adoption("a.1"));
  EXPECT_TRUE(r.newer_than("a.1", 3));  // the adopter is epoch 4
  EXPECT_FALSE(r.newer_than("a.1", 4));
  r.finish_adoption("a.1", ch);
  EXPECT_TRUE(r.newer_than("a.1", 3));
  EXPECT_FALSE(r.newer_than("a.1", 4));
  EXPECT_FALSE(r.newer_than("b.1", 0));
}

TEST(ReplicaRecords, APeerBackFromALossKeepsOnlyTheReplicasPutSince) {
  replica_records r{100, 1 << 20};
  channel_changes ch;
  ASSERT_TRUE(r.put(whole("a.1", 1, 1, {"x"}), node(1), ch, 0));
  ASSERT_TRUE(r.put(whole("a.2", 1, 1, {"y"}), node(1), ch, 1));  // put again after loss 1
  ASSERT_TRUE(r.put(whole("b.1", 1, 1, {"x"}), node(2), ch, 0));
  channel_changes gone;
  EXPECT_EQ(r.forget_homed_before(node(1), 1, gone), 1u);
  EXPECT_FALSE(r.holds("a.1"));
  EXPECT_TRUE(r.holds("a.2"));
  EXPECT_TRUE(r.holds("b.1"));
  EXPECT_TRUE(gone.unsubscribe.empty());  // b.1 still wants x
}

// An update naming messages by origin and counter.
replica_update by_reference(const std::string& id, std::uint64_t first, std::uint64_t o,
                            std::vector<std::uint64_t> counters, names channels) {
  auto u = delta(id, first, first + counters.size() - 1, std::move(channels), o, counters.back());
  for (std::size_t i = 0; i < counters.size(); ++i) {
    u.entries[i].body.clear();
    u.entries[i].origin = o;
    u.entries[i].counter = counters[i];
  }
  return u;
}

TEST(ReplicaRecords, AMessageNamedByReferenceTakesTheBodyThisNodeReceivedBeforeOrAfter) {
  replica_records r{100, 1 << 20};
  channel_changes ch;
  ASSERT_TRUE(r.put(whole("a.1", 1, 1, {"x"}), node(1), ch));
  ASSERT_TRUE(r.put(whole("a.2", 1, 1, {"x"}), node(1), ch));
  r.keep("x", body("c1"), 5, 1);
  ASSERT_TRUE(apply(r, by_reference("a.1", 2, 5, {1, 2}, {"x"}), ch));
  ASSERT_TRUE(apply(r, by_reference("a.2", 2, 5, {1, 2}, {"x"}), ch));
  EXPECT_EQ(r.awaiting_bodies(), 2u);  // c2, for both
  r.keep("x", body("c2"), 5, 2);
  EXPECT_EQ(r.awaiting_bodies(), 0u);
  auto h = r.begin_adoption("a.1");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->buffer_seqs, (numbers{1, 2, 3}));
  EXPECT_EQ(h->buffer_bodies, (names{"m1", "c1", "c2"}));
  EXPECT_EQ(h->lost_through, 0u);
}

TEST(ReplicaRecords, AMessageNamedByReferenceThatNeverArrivesIsLostAtTheAdoption) {
  replica_records r{100, 1 << 20};
  channel_changes ch;
  ASSERT_TRUE(r.put(whole("a.1", 1, 1, {"x"}), node(1), ch));
  ASSERT_TRUE(apply(r, by_reference("a.1", 2, 5, {7}, {"x"}), ch));
  auto h = r.begin_adoption("a.1");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->buffer_seqs, (numbers{1}));
  EXPECT_EQ(h->lost_through, 2u);  // a resume from before it gets overflow
}

TEST(ReplicaRecords, RecordsAreFoundByTheirHomeNode) {
  replica_records r{100, 1 << 20};
  channel_changes ch;
  ASSERT_TRUE(r.put(whole("a.1", 1, 1, {"x"}), node(1), ch));
  ASSERT_TRUE(r.put(whole("b.1", 1, 1, {"x"}), node(2), ch));
  ASSERT_TRUE(r.put(whole("a.2", 1, 1, {"y"}), node(1), ch));
  EXPECT_EQ(r.homed_at(node(1)), (names{"a.1", "a.2"}));
  EXPECT_EQ(r.homed_at(node(2)), (names{"b.1"}));
  ASSERT_TRUE(r.begin_adoption("a.1"));
  EXPECT_EQ(r.homed_at(node(1)), (names{"a.2"}));
}

}  // namespace
}  // namespace wsvisor
