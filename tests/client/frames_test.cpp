#include "client/frames.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace wsvisor::detail {
namespace {

namespace json = boost::json;

json::object parsed(const std::string& text) { return json::parse(text).as_object(); }

TEST(ClientFrames, EncodesEveryClientFrameAsTheProtocolSpells) {
  EXPECT_EQ(parsed(encode_hello(std::nullopt)), (json::object{{"type", "hello"}}));
  EXPECT_EQ(parsed(encode_hello("k")), (json::object{{"type", "hello"}, {"auth", "k"}}));
  EXPECT_EQ(parsed(encode_resume("s1", "t", 7)),
            (json::object{{"type", "resume"}, {"session", "s1"}, {"token", "t"}, {"last_seq", 7}}));
  EXPECT_EQ(parsed(encode_subscribe("a.b")),
            (json::object{{"type", "subscribe"}, {"channel", "a.b"}}));
  EXPECT_EQ(parsed(encode_unsubscribe("a")),
            (json::object{{"type", "unsubscribe"}, {"channel", "a"}}));
  EXPECT_EQ(parsed(encode_publish("c", 3, R"({"x":[1,2]})")),
            (json::object{{"type", "publish"},
                          {"channel", "c"},
                          {"cseq", 3},
                          {"data", json::parse(R"({"x":[1,2]})")}}));
  EXPECT_EQ(parsed(encode_ack(9)), (json::object{{"type", "ack"}, {"seq", 9}}));
  EXPECT_EQ(parsed(encode_pong()), (json::object{{"type", "pong"}}));
  EXPECT_EQ(parsed(encode_bye()), (json::object{{"type", "bye"}}));
}

TEST(ClientFrames, DecodesAWelcomeAndRequiresItsFields) {
  std::string error;
  auto f = decode_server_frame(
      R"({"type":"welcome","session":"s","token":"t","resumed":false,"reason":"expired",)"
      R"("last_cseq":0,"heartbeat_ms":25000,"resume_window_ms":30000,"extra":1})",
      error);
  ASSERT_TRUE(f) << error;
  EXPECT_EQ(f->kind, server_frame_kind::welcome);
  EXPECT_EQ(f->session, "s");
  EXPECT_FALSE(f->resumed);
  EXPECT_EQ(f->reason, "expired");
  EXPECT_EQ(f->heartbeat_ms, 25000u);
  EXPECT_FALSE(decode_server_frame(R"({"type":"welcome","session":"s"})", error));
  EXPECT_NE(error.find("token"), std::string::npos) << error;
}

TEST(ClientFrames, DecodesMessagesWithAnyJsonData) {
  std::string error;
  auto f = decode_server_frame(R"({"type":"message","seq":4,"channel":"c","data":[1,"x"]})", error);
  ASSERT_TRUE(f) << error;
  EXPECT_EQ(f->seq, 4u);
  EXPECT_EQ(f->data, R"([1,"x"])");
  EXPECT_FALSE(decode_server_frame(R"({"type":"message","seq":-1,"channel":"c","data":1})", error));
  EXPECT_FALSE(decode_server_frame(R"({"type":"message","seq":1,"channel":"c"})", error));
}

TEST(ClientFrames, DecodesGoawayWithAndWithoutUrl) {
  std::string error;
  auto f = decode_server_frame(R"({"type":"goaway","reason":"drain","retry_ms":50})", error);
  ASSERT_TRUE(f) << error;
  EXPECT_EQ(f->retry_ms, 50u);
  EXPECT_FALSE(f->url);
  f = decode_server_frame(R"({"type":"goaway","reason":"x","retry_ms":0,"url":"ws://h/ws"})",
                          error);
  ASSERT_TRUE(f) << error;
  EXPECT_EQ(f->url, "ws://h/ws");
}

TEST(ClientFrames, IgnoresUnknownTypesAndRejectsNonObjects) {
  std::string error;
  auto f = decode_server_frame(R"({"type":"future_thing","x":1})", error);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, server_frame_kind::unknown);
  EXPECT_FALSE(decode_server_frame("[1]", error));
  EXPECT_FALSE(decode_server_frame("{", error));
  EXPECT_FALSE(decode_server_frame(R"({"type":1})", error));
}

TEST(ClientFrames, ValidatesChannelsAndJsonValues) {
  EXPECT_TRUE(is_valid_channel("a-Z_0.9:x"));
  EXPECT_FALSE(is_valid_channel(""));
  EXPECT_FALSE(is_valid_channel("a b"));
  EXPECT_FALSE(is_valid_channel(std::string(129, 'a')));
  EXPECT_TRUE(is_valid_channel(std::string(128, 'a')));
  EXPECT_TRUE(is_json_value("1"));
  EXPECT_TRUE(is_json_value(R"( {"a":null} )"));
  EXPECT_FALSE(is_json_value("{} {}"));
  EXPECT_FALSE(is_json_value(""));
}

}  // namespace
}  // namespace wsvisor::detail
