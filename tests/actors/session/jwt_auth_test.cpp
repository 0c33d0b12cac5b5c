// The HS256 verifier of [auth] and the channel patterns of the `channels`
// claim. Tokens are made here with libjwt (and by hand where libjwt would not
// make them: alg none, a truncated or tampered token).

#include <gtest/gtest.h>

#include <jwt.h>

#include <chrono>
#include <memory>
#include <string>

#include "actors/ids.hpp"
#include "actors/session/jwt_auth.hpp"
#include "tests/support/jwt_tokens.hpp"

namespace wsvisor {
namespace {

using namespace std::chrono_literals;
using test::make_jwt;

const std::string key = "0123456789abcdef0123456789abcdef";
const auto now = std::chrono::system_clock::time_point{std::chrono::seconds{1'800'000'000}};
constexpr long now_s = 1'800'000'000;

TEST(ChannelPatterns, StarMatchesAnyRun) {
  EXPECT_TRUE(channel_matches("*", "anything.at:all"));
  EXPECT_TRUE(channel_matches("chat.*", "chat.room1"));
  EXPECT_TRUE(channel_matches("chat.*", "chat."));
  EXPECT_FALSE(channel_matches("chat.*", "chat"));
  EXPECT_FALSE(channel_matches("chat.*", "chatroom"));
  EXPECT_TRUE(channel_matches("user.42", "user.42"));
  EXPECT_FALSE(channel_matches("user.42", "user.421"));
  EXPECT_TRUE(channel_matches("*.public", "news.public"));
  EXPECT_FALSE(channel_matches("*.public", "news.private"));
  EXPECT_TRUE(channel_matches("a*b*c", "a-x-b-y-c"));
  EXPECT_FALSE(channel_matches("a*b*c", "a-x-c-y-b"));
  EXPECT_FALSE(channel_matches("", "x"));
}

TEST(ChannelPatterns, UnrestrictedIdentityAllowsEverything) {
  EXPECT_TRUE(channel_allowed(client_identity{}, "x"));
  client_identity none{.restricted = true};
  EXPECT_FALSE(channel_allowed(none, "x"));
  client_identity some{.restricted = true, .channels = {"news.*", "user.7"}};
  EXPECT_TRUE(channel_allowed(some, "news.eu"));
  EXPECT_TRUE(channel_allowed(some, "user.7"));
  EXPECT_FALSE(channel_allowed(some, "user.8"));
}

TEST(JwtVerifier, AcceptsAValidTokenAndReadsSubjectAndChannels) {
  jwt_verifier v{key, ""};
  auto token =
      make_jwt(key, R"({"sub":"alice","exp":)" + std::to_string(now_s + 60) + R"(,"nbf":)" +
                        std::to_string(now_s - 60) + R"(,"channels":["chat.*","user.alice"]})");
  auto r = v.verify(token, now);
  ASSERT_TRUE(r.identity) << r.error;
  EXPECT_TRUE(r.identity->restricted);
  EXPECT_EQ(r.identity->subject, "alice");
  EXPECT_EQ(r.identity->channels, (std::vector<std::string>{"chat.*", "user.alice"}));
}

TEST(JwtVerifier, ATokenWithoutChannelsAllowsNoChannel) {
  jwt_verifier v{key, ""};
  auto r = v.verify(make_jwt(key, R"({"sub":"bob"})"), now);
  ASSERT_TRUE(r.identity) << r.error;
  EXPECT_FALSE(channel_allowed(*r.identity, "anything"));
}

TEST(JwtVerifier, RefusesExpiredAndNotYetValidTokens) {
  jwt_verifier v{key, ""};
  auto expired = v.verify(make_jwt(key, R"({"exp":)" + std::to_string(now_s) + "}"), now);
  EXPECT_FALSE(expired.identity);
  EXPECT_EQ(expired.error, "token expired");
  auto early = v.verify(make_jwt(key, R"({"nbf":)" + std::to_string(now_s + 1) + "}"), now);
  EXPECT_FALSE(early.identity);
  EXPECT_EQ(early.error, "token not valid yet (nbf)");
  auto text_exp = v.verify(make_jwt(key, R"({"exp":"tomorrow"})"), now);
  EXPECT_FALSE(text_exp.identity);
}

TEST(JwtVerifier, RefusesAWrongSignature) {
  jwt_verifier v{key, ""};
  auto other = make_jwt("another-key-another-key-another-k", R"({"sub":"mallory"})");
  auto r = v.verify(other, now);
  EXPECT_FALSE(r.identity);
  EXPECT_NE(r.error.find("bad signature"), std::string::npos) << r.error;
}

TEST(JwtVerifier, RefusesAlgNoneAndOtherAlgorithms) {
  jwt_verifier v{key, ""};
  // {"alg":"none","typ":"JWT"} . {"sub":"mallory"} . (no signature)
  auto none = base64url(R"({"alg":"none","typ":"JWT"})") + "." +
              base64url(R"({"sub":"mallory","channels":["*"]})") + ".";
  EXPECT_FALSE(v.verify(none, now).identity);
  // The same key, but HS512: a valid signature of the wrong algorithm.
  auto hs512 = make_jwt(key, R"({"sub":"x"})", JWT_ALG_HS512);
  auto r = v.verify(hs512, now);
  EXPECT_FALSE(r.identity);
}

TEST(JwtVerifier, RefusesTamperedAndTruncatedTokens) {
  jwt_verifier v{key, ""};
  auto token = make_jwt(key, R"({"sub":"alice","channels":["user.alice"]})");
  ASSERT_TRUE(v.verify(token, now).identity);
  // The payload swapped for one granting every channel, signature kept.
  auto dot1 = token.find('.');
  auto dot2 = token.find('.', dot1 + 1);
  auto forged = token.substr(0, dot1 + 1) + base64url(R"({"sub":"alice","channels":["*"]})") +
                token.substr(dot2);
  EXPECT_FALSE(v.verify(forged, now).identity);
  for (std::size_t len : {std::size_t{0}, std::size_t{1}, dot1, dot1 + 1, dot2, token.size() - 1})
    EXPECT_FALSE(v.verify(token.substr(0, len), now).identity) << len;
  EXPECT_FALSE(v.verify("not a token", now).identity);
  EXPECT_FALSE(v.verify(std::string{"a.b\0c", 5}, now).identity);
}

TEST(JwtVerifier, ChecksTheAudienceWhenConfigured) {
  jwt_verifier v{key, "wsvisor"};
  EXPECT_TRUE(v.verify(make_jwt(key, R"({"aud":"wsvisor"})"), now).identity);
  EXPECT_TRUE(v.verify(make_jwt(key, R"({"aud":["other","wsvisor"]})"), now).identity);
  auto wrong = v.verify(make_jwt(key, R"({"aud":"other"})"), now);
  EXPECT_FALSE(wrong.identity);
  EXPECT_EQ(wrong.error, "token audience does not match");
  EXPECT_FALSE(v.verify(make_jwt(key, R"({"sub":"x"})"), now).identity);
}

TEST(JwtVerifier, RefusesClaimsOfTheWrongType) {
  jwt_verifier v{key, ""};
  EXPECT_FALSE(v.verify(make_jwt(key, R"({"sub":42})"), now).identity);
  EXPECT_FALSE(v.verify(make_jwt(key, R"({"channels":"*"})"), now).identity);
  EXPECT_FALSE(v.verify(make_jwt(key, R"({"channels":[1]})"), now).identity);
}

}  // namespace
}  // namespace wsvisor
