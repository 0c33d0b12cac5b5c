#include "actors/session/peer_resend.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

namespace wsvisor {
namespace {

std::shared_ptr<const std::string> body(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

std::vector<std::uint64_t> counters(const peer_resend::catch_up& c) {
  std::vector<std::uint64_t> out;
  for (auto* e : c.resend) out.push_back(e->counter);
  return out;
}

using numbers = std::vector<std::uint64_t>;
using names = std::vector<std::string>;

class PeerResend : public ::testing::Test {
 protected:
  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  caf::scoped_actor b_{sys_};  // stands for peer b's cluster actor
  caf::scoped_actor c_{sys_};  // and c's
  caf::actor_addr b() { return b_->address(); }
  caf::actor_addr c() { return c_->address(); }

  // Publishes `from`..`to` on `channel` (counter = the number), kept if wanted.
  void publish(peer_resend& r, const std::string& channel, std::uint64_t from, std::uint64_t to) {
    for (auto n = from; n <= to; ++n)
      if (r.wanted(channel)) r.keep(n, channel, body(channel + std::to_string(n)));
  }
};

TEST_F(PeerResend, APeerThatWasLostGetsWhatItWantedAfterWhatItReceivedInOrder) {
  peer_resend r{100, 1 << 20};
  r.interest(b(), "news", true, 0);
  publish(r, "news", 1, 3);  // b received 1..3
  r.gone(b(), "b", true);
  EXPECT_TRUE(r.wanted("news"));  // an away peer wants it still
  publish(r, "news", 4, 6);
  auto c = r.rejoined(b(), "b", 3, {"news"});
  EXPECT_EQ(counters(c), (numbers{4, 5, 6}));
  EXPECT_EQ(*c.resend[0]->body, "news4");
  EXPECT_EQ(c.lost_channels, names{});
  EXPECT_EQ(r.away_peers(), 0u);
  EXPECT_FALSE(r.wanted("news"));
}

TEST_F(PeerResend, WhatWasLostInFlightAsTheLinkWentIsSentAgain) {
  peer_resend r{100, 1 << 20};
  r.interest(b(), "news", true, 0);
  publish(r, "news", 1, 5);  // sent 1..5; only 1..2 arrived before the link went
  r.gone(b(), "b", true);
  EXPECT_EQ(counters(r.rejoined(b(), "b", 2, {"news"})), (numbers{3, 4, 5}));
}

TEST_F(PeerResend, OnlyTheChannelsItWantedAndOnlyFromWhenItBeganToWantThem) {
  peer_resend r{100, 1 << 20};
  r.interest(b(), "other", true, 0);
  publish(r, "other", 1, 1);
  r.interest(c(), "news", true, 1);  // keeps "news" for c
  publish(r, "news", 2, 3);          // before b wanted it
  r.interest(b(), "news", true, 3);
  publish(r, "news", 4, 4);
  r.gone(b(), "b", true);
  publish(r, "news", 5, 5);
  publish(r, "sport", 6, 6);  // nobody wants it: not kept
  EXPECT_EQ(counters(r.rejoined(b(), "b", 1, {"news", "other"})), (numbers{4, 5}));
}

TEST_F(PeerResend, APublishItNeededThatWasEvictedNamesItsChannelAsLost) {
  peer_resend r{3, 1 << 20};
  r.interest(b(), "news", true, 0);
  r.interest(b(), "quiet", true, 0);
  publish(r, "quiet", 1, 1);
  r.gone(b(), "b", true);
  publish(r, "news", 2, 6);  // 2 and 3 are evicted
  auto c = r.rejoined(b(), "b", 1, {"news", "quiet"});
  EXPECT_EQ(counters(c), (numbers{4, 5, 6}));
  EXPECT_EQ(c.lost_channels, names{"news"});  // nothing on "quiet" was evicted after 1
}

TEST_F(PeerResend, AnEvictionOfWhatThePeerAlreadyHadIsNoLoss) {
  peer_resend r{2, 1 << 20};
  r.interest(b(), "news", true, 0);
  publish(r, "news", 1, 4);  // 1 and 2 evicted, b had received all four
  r.gone(b(), "b", true);
  auto c = r.rejoined(b(), "b", 4, {"news"});
  EXPECT_EQ(counters(c), numbers{});
  EXPECT_EQ(c.lost_channels, names{});
}

TEST_F(PeerResend, TheByteBoundEvictsToo) {
  peer_resend r{100, 10};
  r.interest(b(), "n", true, 0);
  publish(r, "n", 1, 9);  // "n1".."n9": 2 bytes each, 5 fit
  EXPECT_EQ(r.size(), 5u);
  EXPECT_EQ(r.bytes(), 10u);
  r.gone(b(), "b", true);
  auto c = r.rejoined(b(), "b", 0, {"n"});
  EXPECT_EQ(counters(c), (numbers{5, 6, 7, 8, 9}));
  EXPECT_EQ(c.lost_channels, names{"n"});
}

TEST_F(PeerResend, APeerThatLeftOnPurposeOrRestartedGetsNothing) {
  peer_resend r{100, 1 << 20};
  r.interest(b(), "news", true, 0);
  r.interest(c(), "news", true, 0);
  r.gone(b(), "b", false);  // a drain: its sessions moved
  EXPECT_EQ(r.away_peers(), 0u);
  r.gone(c(), "c", true);
  publish(r, "news", 1, 2);
  // c comes back as another process (another cluster actor) under its name.
  auto c2 = r.rejoined(b(), "c", 0, {"news"});
  EXPECT_EQ(counters(c2), numbers{});
  EXPECT_EQ(c2.lost_channels, names{});
  EXPECT_EQ(r.away_peers(), 0u);
  EXPECT_FALSE(r.wanted("news"));
}

TEST_F(PeerResend, AJoinOfAMemberOrOfANewPeerIsNoRejoin) {
  peer_resend r{100, 1 << 20};
  r.interest(b(), "news", true, 0);
  publish(r, "news", 1, 2);
  // The two links between two nodes each join them: the second is no rejoin.
  EXPECT_EQ(counters(r.rejoined(b(), "b", 0, {"news"})), numbers{});
  // A peer never seen, which received nothing from here.
  auto fresh = r.rejoined(c(), "c", 0, {"news"});
  EXPECT_EQ(counters(fresh), numbers{});
  EXPECT_EQ(fresh.lost_channels, names{});
}

TEST_F(PeerResend, APeerAwayLongerThanRememberedLosesEveryChannelItWants) {
  peer_resend r{100, 1 << 20};
  r.interest(b(), "news", true, 0);
  publish(r, "news", 1, 1);
  r.gone(b(), "b", true);
  // More peers go away than are remembered: b, away longest, is forgotten.
  std::vector<std::unique_ptr<caf::scoped_actor>> others;
  for (std::size_t i = 0; i < peer_resend::max_away; ++i) {
    others.push_back(std::make_unique<caf::scoped_actor>(sys_));
    r.interest((*others.back())->address(), "x", true, 0);
    r.gone((*others.back())->address(), "p" + std::to_string(i), true);
  }
  EXPECT_EQ(r.away_peers(), peer_resend::max_away);
  publish(r, "news", 2, 2);
  auto c = r.rejoined(b(), "b", 1, {"news"});
  EXPECT_EQ(counters(c), numbers{});
  EXPECT_EQ(c.lost_channels, names{"news"});
}

}  // namespace
}  // namespace wsvisor
