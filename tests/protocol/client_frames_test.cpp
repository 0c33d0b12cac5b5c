#include "protocol/client_frames.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <variant>

#include "protocol/codec.hpp"

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

TEST(ClientFrames, DecodesDataPublishedOverMessagePackWithoutAJsonEquivalent) {
  // A message whose data a MessagePack client published as bytes: the
  // client reads data_msgpack rather than dropping the frame (which, with
  // the seq gap that follows, would make it resume into the same frame
  // forever).
  std::string error;
  auto f = decode_server_frame(
      R"({"type":"message","seq":5,"channel":"c","data_msgpack":"xAIAAQ=="})", error);
  ASSERT_TRUE(f) << error;
  EXPECT_EQ(f->seq, 5u);
  EXPECT_EQ(f->data, "");
  EXPECT_EQ(f->data_msgpack, std::string("\xc4\x02\x00\x01", 4));
  EXPECT_FALSE(decode_server_frame(
      R"({"type":"message","seq":5,"channel":"c","data_msgpack":"not base64!"})", error));
  EXPECT_EQ(error, "message: field `data_msgpack` missing or of the wrong type");
}

TEST(ClientFrames, EncodesPresenceAndDecodesPresenceEventsAndAnswers) {
  EXPECT_EQ(encode_subscribe("room", true),
            R"({"type":"subscribe","channel":"room","presence":true})");
  EXPECT_EQ(encode_subscribe("room"), R"({"type":"subscribe","channel":"room"})");
  EXPECT_EQ(encode_presence("room"), R"({"type":"presence","channel":"room"})");
  std::string error;
  auto e = decode_server_frame(
      R"({"type":"presence_event","seq":4,"member":"ab","channel":"room","subject":"ann",)"
      R"("state":"away"})",
      error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->kind, server_frame_kind::presence_event);
  EXPECT_EQ(e->seq, 4u);
  EXPECT_EQ(e->member, "ab");
  EXPECT_EQ(e->subject, "ann");
  EXPECT_EQ(e->state, "away");
  EXPECT_FALSE(decode_server_frame(
      R"({"type":"presence_event","member":"ab","channel":"room","state":"away"})", error));
  EXPECT_EQ(error, "presence_event: field `seq` missing or of the wrong type");
  auto a = decode_server_frame(
      R"({"type":"presence","channel":"room","members":[{"member":"ab","subject":null,)"
      R"("state":"online"},{"member":"cd","subject":"bo","state":"away"}]})",
      error);
  ASSERT_TRUE(a) << error;
  EXPECT_EQ(a->kind, server_frame_kind::presence);
  ASSERT_EQ(a->members.size(), 2u);
  EXPECT_EQ(a->members[0].member, "ab");
  EXPECT_EQ(a->members[0].subject, "");
  EXPECT_EQ(a->members[1].subject, "bo");
  EXPECT_EQ(a->members[1].state, "away");
  EXPECT_FALSE(decode_server_frame(R"({"type":"presence","channel":"room","members":[1]})", error));
}

// Found by tests/fuzz/protocol_fuzz: the server accepts `data` nested up to
// max_frame_depth - 1 deep, but the client parsed frames with boost::json's
// default depth of 32 and dropped the message as a bad frame.
TEST(ClientFrames, DecodesMessagesAsDeepAsTheServerSendsThem) {
  auto data = std::string(proto::max_frame_depth - 1, '[') + "7" +
              std::string(proto::max_frame_depth - 1, ']');
  auto parsed = proto::parse(R"({"type":"publish","channel":"c","cseq":1,"data":)" + data + "}");
  ASSERT_TRUE(std::holds_alternative<proto::client_frame>(parsed));
  auto& p = std::get<proto::publish>(std::get<proto::client_frame>(parsed));
  std::string error;
  auto f = decode_server_frame(proto::encode_message_head(3).str() + *p.body, error);
  ASSERT_TRUE(f) << error;
  EXPECT_EQ(f->data, data);
  EXPECT_TRUE(is_json_value(data));
  EXPECT_FALSE(is_json_value("[" + data + "]"));
}

// Found by tests/fuzz/frames_fuzz: boost::json reads 1e400 as infinity and
// writes it back as `Infinity`, which the application cannot parse.
TEST(ClientFrames, RejectsDataWithANumberBeyondADouble) {
  std::string error;
  EXPECT_FALSE(
      decode_server_frame(R"({"type":"message","seq":1,"channel":"c","data":[1e400]})", error));
  EXPECT_NE(error.find("data"), std::string::npos) << error;
  EXPECT_FALSE(is_json_value("1e400"));
  EXPECT_FALSE(is_json_value(R"({"a":-1e999})"));
  EXPECT_TRUE(is_json_value("1e308"));
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
