#include "actors/session/answer_order.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace wsvisor {
namespace {

using frames = std::vector<std::string>;

// Releases what is due, deciding undecided subscribes with `decide`.
struct released {
  frames sent;
  std::vector<std::string> decided;  // the channels decide was asked about

  void from(answer_order& order, std::optional<std::string> verdict = std::string{"decided"}) {
    order.release(
        [&](const std::string& channel, std::uint64_t) {
          decided.push_back(channel);
          return verdict;
        },
        [&](frame_text f) { sent.push_back(f.str()); });
  }
};

TEST(AnswerOrder, AnswersLeaveInTheOrderTheyWereReservedWhicheverComesFirst) {
  answer_order order;
  auto first = order.reserve(1);
  auto second = order.reserve(2);
  auto third = order.reserve(3);
  released out;
  order.fill(third, "ack 3");
  order.fill(second, "ack 2");
  out.from(order);
  EXPECT_EQ(out.sent, frames{});  // ack 1 is still outstanding
  order.fill(first, "ack 1");
  out.from(order);
  EXPECT_EQ(out.sent, (frames{"ack 1", "ack 2", "ack 3"}));
  EXPECT_TRUE(order.empty());
}

TEST(AnswerOrder, AReadyAnswerWaitsBehindOutstandingOnesAndOnlyThose) {
  answer_order order;
  auto publish = order.reserve(1);
  order.queue("unsubscribed");
  auto later = order.reserve(2);
  released out;
  out.from(order);
  EXPECT_EQ(out.sent, frames{});
  order.fill(publish, "ack 1");
  out.from(order);
  EXPECT_EQ(out.sent, (frames{"ack 1", "unsubscribed"}));
  EXPECT_FALSE(order.empty());
  order.fill(later, "ack 2");
  out.from(order);
  EXPECT_EQ(out.sent, (frames{"ack 1", "unsubscribed", "ack 2"}));
  EXPECT_TRUE(order.empty());
}

TEST(AnswerOrder, APublishIsAwaitedUntilItsAnswerHasLeftNotJustArrived) {
  answer_order order;
  auto first = order.reserve(1);
  auto second = order.reserve(2);
  EXPECT_TRUE(order.awaiting(1));
  EXPECT_TRUE(order.awaiting(2));
  EXPECT_FALSE(order.awaiting(3));
  order.fill(second, "ack 2");
  released out;
  out.from(order);
  // Its ack is queued behind ack 1: a resend of cseq 2 must not be acked
  // again now (it would overtake ack 1).
  EXPECT_TRUE(order.awaiting(2));
  order.fill(first, "ack 1");
  out.from(order);
  EXPECT_FALSE(order.awaiting(1));
  EXPECT_FALSE(order.awaiting(2));
}

TEST(AnswerOrder, AnUndecidedSubscribeIsDecidedOnlyWhenEverythingBeforeItIsOut) {
  answer_order order;
  auto publish = order.reserve(1);
  order.reserve_undecided("news");
  order.queue("after");
  released out;
  out.from(order);
  EXPECT_EQ(out.decided, std::vector<std::string>{});  // not at the front yet
  order.fill(publish, "ack 1");
  out.from(order);
  EXPECT_EQ(out.decided, std::vector<std::string>{"news"});
  EXPECT_EQ(out.sent, (frames{"ack 1", "decided", "after"}));
  EXPECT_TRUE(order.empty());
}

TEST(AnswerOrder, ASubscribeThatCannotBeDecidedYetHoldsTheLineAndIsAskedAgain) {
  answer_order order;
  order.reserve_undecided("news");
  order.queue("after");
  released out;
  out.from(order, std::nullopt);
  out.from(order, std::nullopt);
  EXPECT_EQ(out.sent, frames{});
  EXPECT_EQ(out.decided, (std::vector<std::string>{"news", "news"}));
  out.from(order);
  EXPECT_EQ(out.sent, (frames{"decided", "after"}));
}

TEST(AnswerOrder, ASubscribeDecidedToAskTheBrokerWaitsForItsAnswerUnderItsOwnTicket) {
  answer_order order;
  order.reserve_undecided("news");
  order.queue("after");
  std::uint64_t ticket = 0;
  frames sent;
  order.release(
      [&](const std::string&, std::uint64_t t) {
        ticket = t;
        return std::optional<std::string>{std::string{}};  // asked the broker
      },
      [&](frame_text f) { sent.push_back(f.str()); });
  EXPECT_NE(ticket, 0u);
  EXPECT_EQ(sent, frames{});
  order.fill(ticket, "subscribed");
  released out;
  out.from(order);
  EXPECT_EQ(out.decided, std::vector<std::string>{});  // decided once only
  EXPECT_EQ(out.sent, (frames{"subscribed", "after"}));
}

}  // namespace
}  // namespace wsvisor
