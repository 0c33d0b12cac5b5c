#include "protocol/codec.hpp"

#include <string>
#include <variant>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace wsvisor::proto {
namespace {

namespace json = boost::json;

template <class Frame>
Frame parsed_as(std::string_view text) {
  auto result = parse(text);
  if (auto* err = std::get_if<protocol_error>(&result)) {
    ADD_FAILURE() << text << " -> " << to_string(err->code) << ": " << err->message;
    return {};
  }
  auto& frame = std::get<client_frame>(result);
  if (!std::holds_alternative<Frame>(frame)) {
    ADD_FAILURE() << text << " parsed as " << type_name(frame);
    return {};
  }
  return std::get<Frame>(frame);
}

protocol_error rejected(std::string_view text) {
  auto result = parse(text);
  if (auto* err = std::get_if<protocol_error>(&result)) return *err;
  ADD_FAILURE() << text << " was accepted";
  return {};
}

json::object object_of(const std::string& text) {
  auto v = json::parse(text);
  EXPECT_TRUE(v.is_object()) << text;
  return v.is_object() ? v.get_object() : json::object{};
}

TEST(Protocol, ParsesEveryClientFrameAndIgnoresUnknownFields) {
  EXPECT_FALSE(parsed_as<hello>(R"({"type":"hello"})").auth.has_value());
  EXPECT_EQ(parsed_as<hello>(R"({"type":"hello","auth":"secret","x":1})").auth, "secret");
  auto r = parsed_as<resume>(R"({"type":"resume","session":"s1","token":"t1","last_seq":7,"v":2})");
  EXPECT_EQ(r.session, "s1");
  EXPECT_EQ(r.token, "t1");
  EXPECT_EQ(r.last_seq, 7u);
  EXPECT_EQ(parsed_as<subscribe>(R"({"type":"subscribe","channel":"a.b:c-d_1"})").channel,
            "a.b:c-d_1");
  EXPECT_EQ(parsed_as<unsubscribe>(R"({"channel":"news","type":"unsubscribe"})").channel, "news");
  auto p = parsed_as<publish>(R"({"type":"publish","channel":"news","data":{"a":[1,2]},"cseq":3})");
  EXPECT_EQ(p.channel, "news");
  EXPECT_EQ(p.cseq, 3u);
  EXPECT_EQ(parsed_as<ack>(R"({"type":"ack","seq":18446744073709551615})").seq,
            18446744073709551615u);
  parsed_as<pong>(R"({"type":"pong"})");
  parsed_as<bye>(R"({"type":"bye","why":"done"})");
}

TEST(Protocol, SubscribeTakesAPresenceFlagAndPresenceAsksForMembers) {
  EXPECT_FALSE(parsed_as<subscribe>(R"({"type":"subscribe","channel":"room"})").presence);
  EXPECT_TRUE(
      parsed_as<subscribe>(R"({"type":"subscribe","channel":"room","presence":true})").presence);
  EXPECT_EQ(parsed_as<presence>(R"({"type":"presence","channel":"room"})").channel, "room");
  auto bad = std::get<protocol_error>(parse(R"({"type":"subscribe","channel":"r","presence":1})"));
  EXPECT_EQ(bad.code, error_code::bad_frame);
  EXPECT_NE(bad.message.find("presence"), std::string::npos) << bad.message;
  auto no_channel = std::get<protocol_error>(parse(R"({"type":"presence"})"));
  EXPECT_EQ(no_channel.code, error_code::bad_frame);
  EXPECT_EQ(type_name(client_frame{presence{"x"}}), "presence");
}

TEST(Protocol, APresenceBodyIsToldApartFromAMessageAndReadBack) {
  auto body = encode_presence_body("room", "0a1b", presence_subject_json("ann \"x\""),
                                   presence_state::away);
  EXPECT_TRUE(is_presence_body(*body));
  EXPECT_FALSE(is_presence_body(*encode_message_body("room", "1")));
  auto f = read_presence_body(*body);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->member, "0a1b");
  EXPECT_EQ(f->channel, "room");
  EXPECT_EQ(f->subject_json, R"("ann \"x\"")");
  EXPECT_EQ(f->state, presence_state::away);
  auto frame = std::string{encode_head(4, *body).view()} + *body;
  auto v = object_of(frame);
  EXPECT_EQ(v["type"], "presence_event");
  EXPECT_EQ(v["seq"], 4);
  EXPECT_EQ(v["subject"], "ann \"x\"");
  EXPECT_EQ(v["state"], "away");
  auto message = std::string{encode_head(5, "\"channel\":\"room\",\"data\":1}").view()};
  EXPECT_EQ(message, R"({"type":"message","seq":5,)");
  EXPECT_EQ(presence_subject_json(""), "null");
  EXPECT_FALSE(read_presence_body(*encode_message_body("room", "1")));
  EXPECT_EQ(encode_presence_members("room", "[]"),
            R"({"type":"presence","channel":"room","members":[]})");
}

TEST(Protocol, PublishDataIsSerialisedOnceIntoTheMessageBody) {
  for (auto data :
       {R"({"k":"v","n":[1,2.5,null,true]})", R"("text \"quoted\"")", "null", "42", "[]"}) {
    auto text = std::string{R"({"type":"publish","channel":"ch","cseq":1,"data":)"} + data + "}";
    auto p = parsed_as<publish>(text);
    ASSERT_TRUE(p.body) << text;
    auto message = object_of(encode_message_head(9).str() + *p.body);
    EXPECT_EQ(message.at("type"), "message");
    EXPECT_EQ(message.at("seq"), 9);
    EXPECT_EQ(message.at("channel"), "ch");
    EXPECT_EQ(message.at("data"), json::parse(data)) << data;
  }
}

TEST(Protocol, NonObjectsAreBadJson) {
  for (auto text : {"", "nope", "[]", "42", "\"hello\"", "{", R"({"type":"hello"} x)", "null"})
    EXPECT_EQ(rejected(text).code, error_code::bad_json) << text;
}

TEST(Protocol, MissingOrWrongTypedFieldsAreBadFrameNamingTheField) {
  struct row {
    const char* text;
    const char* field;
  };
  for (auto [text, field] : {
           row{R"({})", "type"},
           row{R"({"type":5})", "type"},
           row{R"({"type":"hello","auth":1})", "auth"},
           row{R"({"type":"resume","token":"t","last_seq":0})", "session"},
           row{R"({"type":"resume","session":"s","last_seq":0})", "token"},
           row{R"({"type":"resume","session":"s","token":"t"})", "last_seq"},
           row{R"({"type":"resume","session":"s","token":"t","last_seq":-1})", "last_seq"},
           row{R"({"type":"resume","session":"s","token":"t","last_seq":1.5})", "last_seq"},
           row{R"({"type":"resume","session":1,"token":"t","last_seq":0})", "session"},
           row{R"({"type":"subscribe"})", "channel"},
           row{R"({"type":"unsubscribe","channel":["a"]})", "channel"},
           row{R"({"type":"publish","data":1,"cseq":1})", "channel"},
           row{R"({"type":"publish","channel":"c","cseq":1})", "data"},
           row{R"({"type":"publish","channel":"c","data":1})", "cseq"},
           row{R"({"type":"publish","channel":"c","data":1,"cseq":0})", "cseq"},
           row{R"({"type":"publish","channel":"c","data":1,"cseq":"1"})", "cseq"},
           row{R"({"type":"ack"})", "seq"},
           row{R"({"type":"ack","seq":true})", "seq"},
       }) {
    auto err = rejected(text);
    EXPECT_EQ(err.code, error_code::bad_frame) << text;
    EXPECT_NE(err.message.find(std::string{"\""} + field + "\""), std::string::npos)
        << text << " -> " << err.message;
  }
}

TEST(Protocol, UnknownTypesAreUnknownType) {
  auto err = rejected(R"({"type":"welcome"})");
  EXPECT_EQ(err.code, error_code::unknown_type);
  EXPECT_NE(err.message.find("welcome"), std::string::npos);
  EXPECT_EQ(rejected(R"({"type":""})").code, error_code::unknown_type);
  EXPECT_EQ(rejected(R"({"type":"HELLO"})").code, error_code::unknown_type);
}

// Found by tests/fuzz/protocol_fuzz: the echo was cut at 64 bytes, inside
// "é", and the error frame was no longer UTF-8 (a WebSocket client fails the
// connection on such a text frame).
TEST(Protocol, AnUnknownTypeIsEchoedWithoutCuttingACharacterInTwo) {
  auto type = std::string(63, 'x') + "\xc3\xa9\xe2\x82\xac";
  auto err = rejected(R"({"type":")" + type + R"("})");
  EXPECT_EQ(err.code, error_code::unknown_type);
  EXPECT_EQ(err.message, "unknown type \"" + std::string(63, 'x') + "\"");
  EXPECT_NO_THROW(json::parse(encode_error(err.code, err.message)));
  auto fits = std::string(62, 'x') + "\xc3\xa9";
  EXPECT_EQ(rejected(R"({"type":")" + fits + "z\"}").message, "unknown type \"" + fits + "\"");
}

TEST(Protocol, Utf8PrefixCutsOnlyBetweenCharacters) {
  const std::string mixed = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";  // a é € 😀 z
  EXPECT_EQ(utf8_prefix(mixed, 100), mixed);
  EXPECT_EQ(utf8_prefix(mixed, mixed.size()), mixed);
  const std::vector<std::pair<std::size_t, std::string>> cuts{
      {0, ""},
      {1, "a"},
      {2, "a"},
      {3, "a\xc3\xa9"},
      {4, "a\xc3\xa9"},
      {5, "a\xc3\xa9"},
      {6, "a\xc3\xa9\xe2\x82\xac"},
      {9, "a\xc3\xa9\xe2\x82\xac"},
      {10, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"}};
  for (const auto& [max, expected] : cuts) EXPECT_EQ(utf8_prefix(mixed, max), expected) << max;
}

// Found by tests/fuzz/protocol_fuzz: boost::json reads 1e400 as infinity and
// wrote it back as `Infinity`, so every subscriber got a frame that is not JSON.
TEST(Protocol, APublishWhoseDataHoldsANumberBeyondADoubleIsBadFrame) {
  for (auto data : {"1e400", "[1,-1e400]", R"({"a":{"b":[2E+999]}})"}) {
    auto err =
        rejected(std::string{R"({"type":"publish","channel":"c","cseq":1,"data":)"} + data + "}");
    EXPECT_EQ(err.code, error_code::bad_frame) << data;
    EXPECT_EQ(err.message, R"(publish: field "data" must be JSON whose numbers fit in a double)");
  }
  auto p =
      parsed_as<publish>(R"({"type":"publish","channel":"c","cseq":1,"data":[1e308,-5e-324]})");
  ASSERT_TRUE(p.body);
  EXPECT_NO_THROW(json::parse(encode_message_head(1).str() + *p.body));
}

TEST(Protocol, ChannelNamesAreCheckedByHand) {
  EXPECT_TRUE(valid_channel(std::string(128, 'x')));
  EXPECT_TRUE(valid_channel("AZaz09_.:-"));
  EXPECT_FALSE(valid_channel(""));
  EXPECT_FALSE(valid_channel(std::string(129, 'x')));
  for (auto bad : {"a b", "a/b", "a\"b", "caf\xc3\xa9", "a\nb", "a*", "#"})
    EXPECT_FALSE(valid_channel(bad)) << bad;
  for (auto text :
       {R"({"type":"subscribe","channel":""})", R"({"type":"unsubscribe","channel":"a b"})",
        R"({"type":"publish","channel":"x/y","data":1,"cseq":1})"})
    EXPECT_EQ(rejected(text).code, error_code::bad_channel) << text;
}

TEST(Protocol, EncodesWelcomeWithAndWithoutReason) {
  auto fresh = object_of(
      encode(welcome{"s1", "t1", false, "expired", 0, duration{25'000}, duration{30'000}}));
  EXPECT_EQ(fresh, object_of(R"({"type":"welcome","session":"s1","token":"t1","resumed":false,
      "reason":"expired","last_cseq":0,"heartbeat_ms":25000,"resume_window_ms":30000})"));
  EXPECT_FALSE(fresh.contains("replay"));
  auto resumed = object_of(encode(welcome{"s1", "t1", true, "", 12, duration{1}, duration{2}, 7}));
  EXPECT_EQ(resumed.at("replay"), 7);
  EXPECT_FALSE(resumed.contains("reason"));
  EXPECT_EQ(resumed.at("resumed"), true);
  EXPECT_EQ(resumed.at("last_cseq"), 12);
}

TEST(Protocol, EncodesEveryOtherServerFrame) {
  EXPECT_EQ(object_of(encode_subscribed("a.b")),
            object_of(R"({"type":"subscribed","channel":"a.b"})"));
  EXPECT_EQ(object_of(encode_unsubscribed("a.b")),
            object_of(R"({"type":"unsubscribed","channel":"a.b"})"));
  EXPECT_EQ(object_of(encode_ack(18446744073709551615u).str()).at("cseq"), 18446744073709551615u);
  EXPECT_EQ(object_of(encode_ping()), object_of(R"({"type":"ping"})"));
  auto err = object_of(encode_error(error_code::bad_frame, "say \"hi\"\n\\"));
  EXPECT_EQ(
      err, (json::object{{"type", "error"}, {"code", "bad_frame"}, {"message", "say \"hi\"\n\\"}}));
  EXPECT_EQ(object_of(encode(goaway{"shutdown", duration{500}, ""})),
            object_of(R"({"type":"goaway","reason":"shutdown","retry_ms":500})"));
  EXPECT_EQ(object_of(encode(goaway{"shed", duration{0}, "ws://b:8080/ws"})).at("url"),
            "ws://b:8080/ws");
}

TEST(Protocol, MessageHeadPlusSharedBodyIsOneObject) {
  auto body = encode_message_body("news", R"({"x":"\u00e9"})");
  for (std::uint64_t seq : {std::uint64_t{1}, std::uint64_t{18446744073709551615u}}) {
    auto obj = object_of(encode_message_head(seq).str() + *body);
    EXPECT_EQ(obj.at("type"), "message");
    EXPECT_EQ(obj.at("seq"), seq);
    EXPECT_EQ(obj.at("channel"), "news");
    EXPECT_EQ(obj.at("data").at("x"), "\xc3\xa9");
    EXPECT_EQ(obj.size(), 4u);
  }
}

TEST(Protocol, ErrorCodesHaveTheirWireNames) {
  EXPECT_EQ(to_string(error_code::bad_json), "bad_json");
  EXPECT_EQ(to_string(error_code::bad_frame), "bad_frame");
  EXPECT_EQ(to_string(error_code::unknown_type), "unknown_type");
  EXPECT_EQ(to_string(error_code::no_session), "no_session");
  EXPECT_EQ(to_string(error_code::bad_channel), "bad_channel");
  EXPECT_EQ(to_string(error_code::bad_cseq), "bad_cseq");
  EXPECT_EQ(to_string(error_code::binary_unsupported), "binary_unsupported");
  EXPECT_EQ(to_string(error_code::unauthorized), "unauthorized");
  EXPECT_EQ(to_string(error_code::rate_limited), "rate_limited");
  EXPECT_EQ(to_string(error_code::upstream_down), "upstream_down");
}

TEST(Protocol, APublishOnASysChannelIsRefusedButASubscribeIsNot) {
  auto pub = parse(R"({"type":"publish","channel":"sys.upstream.feed","data":1,"cseq":1})");
  ASSERT_TRUE(std::holds_alternative<protocol_error>(pub));
  EXPECT_EQ(std::get<protocol_error>(pub).code, error_code::bad_channel);
  EXPECT_NE(std::get<protocol_error>(pub).message.find("reserved"), std::string::npos);
  auto sub = parse(R"({"type":"subscribe","channel":"sys.upstream.feed"})");
  EXPECT_TRUE(std::holds_alternative<client_frame>(sub));
  EXPECT_TRUE(reserved_channel("sys.x"));
  EXPECT_FALSE(reserved_channel("system"));
}

TEST(Protocol, AnErrorAboutOnePublishCarriesItsCseq) {
  auto v = json::parse(encode_error(error_code::upstream_down, "down", 7));
  EXPECT_EQ(v.at("type"), "error");
  EXPECT_EQ(v.at("code"), "upstream_down");
  EXPECT_EQ(v.at("message"), "down");
  EXPECT_EQ(v.at("cseq"), 7);
}

TEST(Protocol, UpstreamTextIsAStringsContentOrTheJsonOfAnyOtherValue) {
  auto body = encode_message_body("feed", R"("say \"hi\"")");
  EXPECT_EQ(message_body_data(*body), R"("say \"hi\"")");
  EXPECT_EQ(upstream_text(message_body_data(*body)), R"(say "hi")");
  EXPECT_EQ(upstream_text(R"({"a":[1,2]})"), R"({"a":[1,2]})");
  EXPECT_EQ(upstream_text("42"), "42");
  EXPECT_EQ(upstream_text("null"), "null");
  EXPECT_EQ(message_body_data(*encode_message_body("a.b:c-d", "{}")), "{}");
}

TEST(Protocol, UpstreamDataIsTheFrameWhenItIsJsonAndAStringOtherwise) {
  EXPECT_EQ(upstream_data(R"({"price": 10})"), R"({"price": 10})");
  EXPECT_EQ(upstream_data("3.5"), "3.5");
  EXPECT_EQ(upstream_data("hello"), R"("hello")");
  EXPECT_EQ(upstream_data(R"({"broken":)"), R"("{\"broken\":")");
  EXPECT_EQ(upstream_data(""), R"("")");
  // Either way the result is one JSON value.
  for (auto text : {"x\ny", "[1,", "\"q\"", "tab\tend"})
    EXPECT_NO_THROW(json::parse(upstream_data(text))) << text;
}

// Found by tests/fuzz/protocol_fuzz with the two tests above: an upstream's
// frame becomes `data` verbatim only if a client could have published it.
TEST(Protocol, UpstreamDataIsAStringWhenAClientCouldNotPublishIt) {
  EXPECT_EQ(upstream_data("1e400"), R"("1e400")");
  EXPECT_EQ(upstream_data("[1e400]"), R"("[1e400]")");
  auto deepest = std::string(max_frame_depth - 1, '[') + std::string(max_frame_depth - 1, ']');
  EXPECT_EQ(upstream_data(deepest), deepest);
  auto too_deep = "[" + deepest + "]";
  EXPECT_EQ(upstream_data(too_deep), json::serialize(json::string{too_deep}));
  EXPECT_EQ(upstream_text(upstream_data(too_deep)), too_deep);
}

}  // namespace
}  // namespace wsvisor::proto
