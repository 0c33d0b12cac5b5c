#include "actors/session/parking_lot.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace wsvisor {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

std::unique_ptr<parked_entry> entry(clock_type::time_point due,
                                    std::vector<std::string> channels = {}) {
  auto e = std::make_unique<parked_entry>();
  e->rec.due = due;
  e->rec.channels = std::move(channels);
  return e;
}

TEST(ParkingLot, FindsTheEntriesFiledUnderAChannelUntilTheyAreUnfiled) {
  parking_lot lot;
  auto t0 = clock_type::now();
  auto a = entry(t0, {"news", "x"});
  auto b = entry(t0, {"news"});
  lot.file(*a);
  lot.file(*b);
  lot.file(*b);  // once only
  EXPECT_EQ(lot.on("news").size(), 2u);
  EXPECT_EQ(lot.on("x"), (std::vector<parked_entry*>{a.get()}));
  EXPECT_TRUE(lot.on("y").empty());
  lot.unfile(*a);
  EXPECT_EQ(lot.on("news"), (std::vector<parked_entry*>{b.get()}));
  EXPECT_TRUE(lot.on("x").empty());
  lot.unfile(*a);  // no effect
  lot.unfile(*b);
  EXPECT_TRUE(lot.on("news").empty());
}

TEST(ParkingLot, GivesTheEarliestDueFirstWhateverTheOrderOfQueueingAndRemoval) {
  parking_lot lot;
  auto t0 = clock_type::now();
  std::vector<std::unique_ptr<parked_entry>> entries;
  std::minstd_rand rng{42};
  for (int i = 0; i < 200; ++i)
    entries.push_back(entry(t0 + std::chrono::milliseconds{rng() % 1000}));
  for (auto& e : entries) lot.queue(*e);
  // Every third leaves early (a resume), from anywhere in the queue.
  for (std::size_t i = 0; i < entries.size(); i += 3) lot.unqueue(*entries[i]);
  EXPECT_EQ(lot.queued(), 200u - 67u);
  auto last = t0;
  std::size_t popped = 0;
  while (auto* first = lot.first_due()) {
    EXPECT_GE(first->rec.due, last);
    last = first->rec.due;
    lot.unqueue(*first);
    EXPECT_EQ(first->queued, parked_entry::not_queued);
    ++popped;
  }
  EXPECT_EQ(popped, 133u);
  EXPECT_EQ(lot.queued(), 0u);
}

}  // namespace
}  // namespace wsvisor
