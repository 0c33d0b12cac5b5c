#include "actors/ids.hpp"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace wsvisor {
namespace {

bool all_of_alphabet(const std::string& s, const std::string& alphabet) {
  return s.find_first_not_of(alphabet) == std::string::npos;
}

TEST(Ids, SessionIdsAre128RandomBitsInHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = new_session_id();
    EXPECT_EQ(id.size(), 32u);  // 16 bytes
    EXPECT_TRUE(all_of_alphabet(id, "0123456789abcdef")) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Ids, TokensAre256RandomBitsInBase64Url) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto token = new_token();
    EXPECT_EQ(token.size(), 43u);  // 32 bytes, unpadded
    EXPECT_TRUE(
        all_of_alphabet(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
        << token;
    seen.insert(token);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Ids, Base64UrlMatchesRfc4648WithoutPadding) {
  EXPECT_EQ(base64url(""), "");
  EXPECT_EQ(base64url("f"), "Zg");
  EXPECT_EQ(base64url("fo"), "Zm8");
  EXPECT_EQ(base64url("foo"), "Zm9v");
  EXPECT_EQ(base64url("foob"), "Zm9vYg");
  EXPECT_EQ(base64url("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url("\xfb\xff"), "-_8");  // the two url-safe characters
}

TEST(Ids, TokenComparisonChecksContentAndLength) {
  auto token = new_token();
  EXPECT_TRUE(token_equal(token, std::string{token}));
  auto last_differs = token;
  last_differs.back() = last_differs.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(token_equal(token, last_differs));
  auto first_differs = token;
  first_differs.front() = first_differs.front() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(token_equal(token, first_differs));
  EXPECT_FALSE(token_equal(token, token.substr(0, 42)));
  EXPECT_FALSE(token_equal(token, token + "A"));
  EXPECT_FALSE(token_equal(token, ""));
  EXPECT_TRUE(token_equal("", ""));
}

}  // namespace
}  // namespace wsvisor
