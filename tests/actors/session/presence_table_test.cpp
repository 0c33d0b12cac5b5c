#include "actors/session/presence_table.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace wsvisor {
namespace {

using proto::presence_state;

std::string body(const std::string& member, presence_state state,
                 const std::string& subject = "null") {
  return *proto::encode_presence_body("room", member, subject, state);
}

TEST(PresenceTable, GoneRemovesARowAndOtherStatesSetIt) {
  presence_table t;
  EXPECT_TRUE(t.apply("room", "m1", R"("ann")", presence_state::online, 7, 1));
  EXPECT_TRUE(t.apply("room", "m2", "null", presence_state::away, 7, 2));
  EXPECT_EQ(t.members("room"), 2u);
  EXPECT_EQ(t.members_json("room"), R"([{"member":"m1","subject":"ann","state":"online"},)"
                                    R"({"member":"m2","subject":null,"state":"away"}])");
  EXPECT_TRUE(t.apply("room", "m1", R"("ann")", presence_state::gone, 7, 3));
  EXPECT_FALSE(t.apply("room", "m1", R"("ann")", presence_state::gone, 7, 4));
  EXPECT_EQ(t.members("room"), 1u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.members_json("empty"), "[]");
}

TEST(PresenceTable, AnOlderChangeFromTheSameOriginIsIgnoredAnotherOriginsIsNot) {
  presence_table t;
  t.apply("room", "m1", "null", presence_state::away, 7, 10);
  EXPECT_FALSE(t.apply("room", "m1", "null", presence_state::online, 7, 9));
  EXPECT_EQ(t.find("room", "m1")->state, presence_state::away);
  // The session moved to another node (adopted): its changes count; one
  // that only moves the row is no change members would see.
  EXPECT_FALSE(t.apply("room", "m1", "null", presence_state::away, 8, 1));
  EXPECT_EQ(t.find("room", "m1")->origin, 8u);
  EXPECT_TRUE(t.apply("room", "m1", "null", presence_state::online, 8, 3));
  EXPECT_FALSE(t.apply("room", "m1", "null", presence_state::away, 8, 2));
  EXPECT_EQ(t.find("room", "m1")->state, presence_state::online);
}

TEST(PresenceTable, ASnapshotSetsWhatItListsAndDropsWhatItLacksUnlessChangedSince) {
  presence_table t;
  t.apply("room", "old", "null", presence_state::online, 7, 3);     // gone by the snapshot
  t.apply("room", "newer", "null", presence_state::online, 7, 12);  // after it
  t.apply("room", "elsewhere", "null", presence_state::online, 9, 1);
  t.merge("room", 7, 10,
          {body("listed", presence_state::away), body("newer", presence_state::away)});
  EXPECT_FALSE(t.has("room", "old"));
  EXPECT_EQ(t.find("room", "listed")->state, presence_state::away);
  EXPECT_EQ(t.find("room", "newer")->state, presence_state::online);
  EXPECT_TRUE(t.has("room", "elsewhere"));
  EXPECT_EQ(t.size(), 3u);
  // Its own rows, as bodies, for a peer's snapshot.
  auto rows = t.rows_from("room", 7);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(*rows[0], body("listed", presence_state::away));
}

TEST(PresenceTable, ALostOriginsMembersAreAwayThenDroppedUnlessAnotherOriginTookThem) {
  presence_table t;
  t.apply("room", "a", R"("ann")", presence_state::online, 7, 1);
  t.apply("room", "b", "null", presence_state::away, 7, 2);
  t.apply("other", "c", "null", presence_state::online, 7, 3);
  t.apply("room", "d", "null", presence_state::online, 9, 1);
  auto away = t.away_from(7);
  ASSERT_EQ(away.size(), 2u);  // b was away already
  EXPECT_EQ(t.find("room", "a")->state, presence_state::away);
  // c's session was adopted by origin 8 meanwhile.
  t.apply("other", "c", "null", presence_state::away, 8, 1);
  auto dropped = t.drop_from(7);
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(dropped[0].subject_json + dropped[1].subject_json, R"("ann"null)");
  EXPECT_FALSE(t.has("room", "a"));
  EXPECT_TRUE(t.has("other", "c"));
  EXPECT_TRUE(t.has("room", "d"));
  EXPECT_EQ(t.size(), 2u);
}

}  // namespace
}  // namespace wsvisor
