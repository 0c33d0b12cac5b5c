#include "protocol/frame_text.hpp"

#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace wsvisor {
namespace {

TEST(FrameText, KeepsShortTextInlineAndLongTextWhole) {
  std::string exact(frame_text::inline_capacity, 'a');
  std::string longer(frame_text::inline_capacity + 1, 'b');
  EXPECT_EQ(frame_text{exact}.view(), exact);
  EXPECT_EQ(frame_text{std::string{longer}}.view(), longer);
  EXPECT_EQ(frame_text{longer}.size(), longer.size());
  frame_text empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.view(), "");
}

TEST(FrameText, AppendsAcrossTheInlineCapacity) {
  frame_text t{"{\"type\":\"message\",\"seq\":"};
  t.append(std::numeric_limits<std::uint64_t>::max()).append(",");
  EXPECT_EQ(t.view(), "{\"type\":\"message\",\"seq\":18446744073709551615,");
  // Past the inline capacity the text moves to the heap, whole.
  std::string expected = t.str();
  for (int i = 0; i < 10; ++i) {
    t.append(std::uint64_t{1234567});
    expected += "1234567";
  }
  EXPECT_EQ(t.view(), expected);
  EXPECT_EQ(t.size(), expected.size());
  EXPECT_EQ(t.find("1234567"), expected.find("1234567"));
}

TEST(FrameText, CopiesAndMovesKeepTheText) {
  frame_text small{"ack"};
  frame_text big{std::string(200, 'x')};
  auto small_copy = small;
  auto big_copy = big;
  EXPECT_EQ(small_copy, small);
  EXPECT_EQ(big_copy, big);
  frame_text moved{std::move(big)};
  EXPECT_EQ(moved.view(), std::string(200, 'x'));
  frame_text zero;
  zero.append(std::uint64_t{0});
  EXPECT_EQ(zero.view(), "0");
}

}  // namespace
}  // namespace wsvisor
