#include "net/api_routes.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <thread>
#include <vector>

namespace wsvisor::net {
namespace {

TEST(ApiLoopback, LoopbackAddressesAndLocalhostCount) {
  for (auto listen : {"127.0.0.1:8080", "127.0.0.1:0", "127.1.2.3:80", "[::1]:8080",
                      "localhost:8080", "LocalHost:1", "[::ffff:127.0.0.1]:80"})
    EXPECT_TRUE(is_loopback_listen(listen)) << listen;
}

TEST(ApiLoopback, WildcardRoutableNamedAndMalformedAddressesDoNot) {
  for (auto listen : {"0.0.0.0:8080", "[::]:8080", "10.0.0.1:80", "128.0.0.1:80",
                      "[::ffff:10.0.0.1]:80", "[fe80::1]:80", "example.com:80",
                      "localhost.example:80", "localhost", "127.0.0.1", "::1:80", ""})
    EXPECT_FALSE(is_loopback_listen(listen)) << listen;
}

TEST(ApiAccess, BearerTokenMatchesOnlyTheExactToken) {
  const std::string token = "0123456789abcdef";
  EXPECT_TRUE(bearer_matches("Bearer 0123456789abcdef", token));
  EXPECT_TRUE(bearer_matches("bearer 0123456789abcdef", token));
  EXPECT_TRUE(bearer_matches("BEARER   0123456789abcdef", token));
  EXPECT_FALSE(bearer_matches("Bearer 0123456789abcdeF", token));
  EXPECT_FALSE(bearer_matches("Bearer 0123456789abcde", token));
  EXPECT_FALSE(bearer_matches("Bearer 0123456789abcdef0", token));
  EXPECT_FALSE(bearer_matches("Basic 0123456789abcdef", token));
  EXPECT_FALSE(bearer_matches("Bearer0123456789abcdef", token));
  EXPECT_FALSE(bearer_matches("0123456789abcdef", token));
  EXPECT_FALSE(bearer_matches("Bearer ", token));
  EXPECT_FALSE(bearer_matches("", token));
  EXPECT_FALSE(bearer_matches("Bearer ", ""));
}

TEST(ApiAccess, ChecksMethodThenExposureThenToken) {
  auto get = check_publish_access(false, "", "", true);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405u);
  EXPECT_EQ(get->allow, "POST");
  EXPECT_FALSE(check_publish_access(true, "", "", true));
  auto exposed = check_publish_access(true, "", "", false);
  ASSERT_TRUE(exposed);
  EXPECT_EQ(exposed->status, 403u);
  EXPECT_NE(exposed->body.find("\"error\":\"api_disabled\""), std::string::npos);
  const std::string token = "0123456789abcdef";
  for (bool loopback : {true, false}) {
    auto missing = check_publish_access(true, "", token, loopback);
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 401u);
    EXPECT_TRUE(missing->challenge);
    EXPECT_NE(missing->body.find("\"error\":\"unauthorized\""), std::string::npos);
    EXPECT_FALSE(check_publish_access(true, "Bearer " + token, token, loopback));
  }
}

api_answer rejected(std::string_view body) {
  auto parsed = parse_publish(body);
  if (auto* answer = std::get_if<api_answer>(&parsed)) return *answer;
  ADD_FAILURE() << "accepted: " << body;
  return {};
}

TEST(ApiParse, AcceptsAnyJsonValueAsDataIncludingNull) {
  for (auto [body, data] : std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {R"({"channel":"news","data":{"a":[1,2,"x"]}})", R"({"a":[1,2,"x"]})"},
           {R"({"data":null,"channel":"news","extra":1})", "null"},
           {R"( {"channel":"a.b:c-d_e","data":"text"} )", R"("text")"},
           {R"({"channel":"news","data":1.5})", "1.5E0"},
       }) {
    auto parsed = parse_publish(body);
    auto* request = std::get_if<publish_request>(&parsed);
    ASSERT_TRUE(request) << body << " -> " << std::get<api_answer>(parsed).body;
    EXPECT_EQ(request->channel, body.find("a.b") != std::string_view::npos ? "a.b:c-d_e" : "news");
    EXPECT_EQ(request->data_json, data) << body;
  }
}

TEST(ApiParse, AMessagePackBodyCarriesTheSameFieldsAndAnyData) {
  using namespace std::string_literals;
  // {"channel":"news","data":{"a":1}}
  const auto plain =
      "\x82\xa7"
      "channel\xa4news\xa4"
      "data\x81\xa1\x61\x01"s;
  // {"channel":"news","data":bin(00 01)}
  const auto binary =
      "\x82\xa7"
      "channel\xa4news\xa4"
      "data\xc4\x02\x00\x01"s;
  for (auto type :
       {"application/msgpack", "Application/MsgPack; charset=binary", " application/x-msgpack "}) {
    auto parsed = parse_publish(plain, type);
    auto* request = std::get_if<publish_request>(&parsed);
    ASSERT_TRUE(request) << type << " -> " << std::get<api_answer>(parsed).body;
    EXPECT_EQ(request->channel, "news");
    EXPECT_EQ(request->data_json, R"({"a":1})");
    EXPECT_EQ(request->data_msgpack, "");
  }
  auto parsed = parse_publish(binary, "application/msgpack");
  auto* request = std::get_if<publish_request>(&parsed);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->data_msgpack, "\xc4\x02\x00\x01"s);
  // Any other type is JSON, which these bytes are not.
  auto as_json = std::get<api_answer>(parse_publish(plain, "application/json"));
  EXPECT_NE(as_json.body.find("bad_json"), std::string::npos);
  // Not MessagePack, or not a map: bad_msgpack; fields are checked as in JSON.
  auto garbage = std::get<api_answer>(parse_publish("\xc1", "application/msgpack"));
  EXPECT_EQ(garbage.status, 400u);
  EXPECT_NE(garbage.body.find(R"("error":"bad_msgpack")"), std::string::npos) << garbage.body;
  auto array = std::get<api_answer>(parse_publish("\x91\x01", "application/msgpack"));
  EXPECT_EQ(array.body, R"({"error":"bad_msgpack","message":"the body is not a MessagePack map"})");
  auto no_channel =
      std::get<api_answer>(parse_publish("\x81\xa4"
                                         "data\xc4\x01\x00"s,
                                         "application/msgpack"));
  EXPECT_EQ(no_channel.body, R"({"error":"bad_request","message":"missing \"channel\""})");
}

TEST(ApiParse, RejectsBodiesThatAreNotJsonObjects) {
  for (auto body : {"", "not json", "[1]", "\"x\"", "null", "{\"channel\":", "channel=a&data=1"}) {
    auto answer = rejected(body);
    EXPECT_EQ(answer.status, 400u) << body;
    EXPECT_NE(answer.body.find("\"error\":\"bad_json\""), std::string::npos) << body;
  }
}

TEST(ApiParse, RejectsMissingOrMistypedFieldsNamingThem) {
  auto no_data = rejected(R"({"channel":"news"})");
  EXPECT_EQ(no_data.status, 400u);
  EXPECT_EQ(no_data.body, R"({"error":"bad_request","message":"missing \"data\""})");
  auto no_channel = rejected(R"({"data":1})");
  EXPECT_EQ(no_channel.body, R"({"error":"bad_request","message":"missing \"channel\""})");
  auto number = rejected(R"({"channel":5,"data":1})");
  EXPECT_EQ(number.body, R"({"error":"bad_request","message":"\"channel\" must be a string"})");
}

TEST(ApiParse, RejectsInvalidAndReservedChannelsNamingThem) {
  auto spaced = rejected(R"({"channel":"a b","data":1})");
  EXPECT_EQ(spaced.status, 400u);
  EXPECT_NE(spaced.body.find("\"error\":\"bad_channel\""), std::string::npos);
  EXPECT_NE(spaced.body.find(R"(invalid channel \"a b\")"), std::string::npos) << spaced.body;
  EXPECT_NE(rejected(R"({"channel":"","data":1})").body.find("bad_channel"), std::string::npos);
  auto reserved = rejected(R"({"channel":"sys.upstream.feed","data":1})");
  EXPECT_NE(reserved.body.find("bad_channel"), std::string::npos);
  EXPECT_NE(reserved.body.find(R"(\"sys.upstream.feed\" is reserved)"), std::string::npos)
      << reserved.body;
  auto long_name = rejected(R"({"channel":")" + std::string(5000, 'x') + R"(","data":1})");
  EXPECT_LT(long_name.body.size(), 400u);
}

// The channel shown in the error is cut to 140 bytes; cut inside "é" the
// body would not be UTF-8, and a JSON parser refuses it.
TEST(ApiParse, ALongMultiByteChannelIsShownCutBetweenCharacters) {
  std::string e_acute = "\xc3\xa9";
  std::string name = "a";
  for (int i = 0; i < 100; ++i) name += e_acute;
  auto answer = rejected(R"({"channel":")" + name + R"(","data":1})");
  EXPECT_EQ(answer.status, 400u);
  boost::json::value body;
  ASSERT_NO_THROW(body = boost::json::parse(answer.body)) << answer.body;
  std::string shown = "a";
  for (int i = 0; i < 69; ++i) shown += e_acute;  // 139 bytes: the 70th "é" would end at 141
  EXPECT_EQ(body.at("message").as_string(),
            "invalid channel \"" + shown + "\"...: channel names match ^[A-Za-z0-9_.:-]{1,128}$");
}

// As a publish frame (tests/protocol/codec_test.cpp): boost::json would
// write 1e400 back as `Infinity`, which is not JSON.
TEST(ApiParse, RejectsDataWithANumberBeyondADouble) {
  auto answer = rejected(R"({"channel":"news","data":{"x":[1e400]}})");
  EXPECT_EQ(answer.status, 400u);
  EXPECT_EQ(
      answer.body,
      R"({"error":"bad_request","message":"\"data\" holds a number beyond the range of a double"})");
}

TEST(ApiAnswer, MapsOutcomesToStatusAndJson) {
  auto ok = answer_publish({.sessions = 3});
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.body, R"({"sessions":3})");
  auto upstream = answer_publish({.upstream = "feed"});
  EXPECT_EQ(upstream.body, R"({"sessions":0,"upstream":"feed"})");
  auto down = answer_publish({.error = "upstream_down", .message = "feed is \"down\""});
  EXPECT_EQ(down.status, 503u);
  EXPECT_EQ(down.body, R"({"error":"upstream_down","message":"feed is \"down\""})");
  EXPECT_EQ(answer_publish({.error = "timeout"}).status, 503u);
  EXPECT_EQ(answer_publish({.error = "internal"}).status, 500u);
  auto large = body_too_large(1024);
  EXPECT_EQ(large.status, 413u);
  EXPECT_NE(large.body.find("1024 bytes"), std::string::npos);
}

TEST(ApiReply, DeliversTheFirstAnswerOnly) {
  std::vector<publish_outcome> got;
  auto reply = make_publish_reply([&](publish_outcome o) { got.push_back(std::move(o)); });
  auto copy = reply;
  reply({.sessions = 1});
  copy({.sessions = 2});
  reply = nullptr;
  copy = nullptr;
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].sessions, 1u);
}

TEST(ApiReply, AnswersInternalErrorWhenDroppedUnanswered) {
  std::vector<publish_outcome> got;
  {
    auto reply = make_publish_reply([&](publish_outcome o) { got.push_back(std::move(o)); });
    auto copy = reply;
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].error, "internal");
}

TEST(ApiReply, MayBeCalledFromAnotherThread) {
  std::atomic<int> calls{0};
  auto reply = make_publish_reply([&](publish_outcome) { ++calls; });
  std::thread a{[reply] { reply({}); }};
  std::thread b{[reply] { reply({}); }};
  a.join();
  b.join();
  reply = nullptr;
  EXPECT_EQ(calls.load(), 1);
}

}  // namespace
}  // namespace wsvisor::net
