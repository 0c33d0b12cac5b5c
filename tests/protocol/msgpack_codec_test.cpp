// The wsvisor.v1.msgpack codec (protocol/msgpack_codec.hpp): client frames
// in MessagePack decoded to the frames the JSON parser makes, data without a
// JSON equivalent kept as its MessagePack, server frames encoded as maps,
// and every malformed input rejected with a clear error. Inputs are built
// and outputs read with msgpack-cxx itself.

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <variant>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <msgpack.hpp>

#include "protocol/codec.hpp"
#include "protocol/msgpack_codec.hpp"

namespace wsvisor::proto {
namespace {

struct sink {
  std::string bytes;
  void write(const char* p, std::size_t n) { bytes.append(p, n); }
};
using packer = msgpack::packer<sink>;

std::string packed(const std::function<void(packer&)>& f) {
  sink out;
  packer pk{out};
  f(pk);
  return out.bytes;
}

void str(packer& pk, std::string_view s) {
  pk.pack_str(static_cast<std::uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

/// A publish frame on channel `c`, cseq 1, whose data `data` writes.
std::string publish_with(const std::function<void(packer&)>& data) {
  return packed([&](packer& pk) {
    pk.pack_map(4);
    str(pk, "type");
    str(pk, "publish");
    str(pk, "channel");
    str(pk, "c");
    str(pk, "cseq");
    pk.pack_uint64(1);
    str(pk, "data");
    data(pk);
  });
}

client_frame accepted(std::string_view bytes) {
  auto r = parse_msgpack(bytes);
  if (auto* err = std::get_if<protocol_error>(&r)) {
    ADD_FAILURE() << "rejected: " << to_string(err->code) << ": " << err->message;
    return bye{};
  }
  return std::get<client_frame>(r);
}

protocol_error rejected(std::string_view bytes) {
  auto r = parse_msgpack(bytes);
  if (auto* err = std::get_if<protocol_error>(&r)) return *err;
  ADD_FAILURE() << "accepted";
  return {};
}

std::string body_of(std::string_view bytes) {
  auto f = accepted(bytes);
  auto* p = std::get_if<publish>(&f);
  if (!p) {
    ADD_FAILURE() << "not a publish";
    return {};
  }
  return *p->body;
}

/// The data a msgpack_message_body carries, re-packed (canonical bytes).
std::string data_of_message(const shared_body& json_body) {
  auto body = msgpack_message_body(*json_body);
  EXPECT_TRUE(body.pairs);
  if (!body.pairs) return {};
  auto frame = msgpack_message_head(9, body.count).str() + *body.pairs;
  auto handle = msgpack::unpack(frame.data(), frame.size());
  const auto& m = handle.get();
  EXPECT_EQ(m.type, msgpack::type::MAP);
  EXPECT_EQ(m.via.map.size, 4u);
  std::string data;
  for (std::uint32_t i = 0; i < m.via.map.size; ++i) {
    const auto& kv = m.via.map.ptr[i];
    auto key = kv.key.as<std::string>();
    if (key == "type") {
      EXPECT_EQ(kv.val.as<std::string>(), "message");
    } else if (key == "seq") {
      EXPECT_EQ(kv.val.as<std::uint64_t>(), 9u);
    } else if (key == "channel") {
      EXPECT_EQ(kv.val.as<std::string>(), "c");
    } else if (key == "data") {
      sink out;
      msgpack::pack(out, kv.val);
      data = out.bytes;
    }
  }
  return data;
}

TEST(MsgpackCodec, DecodesClientFramesAsTheJsonParserDoes) {
  auto hello_frame = packed([](packer& pk) {
    pk.pack_map(1);
    str(pk, "type");
    str(pk, "hello");
  });
  EXPECT_TRUE(std::holds_alternative<hello>(accepted(hello_frame)));

  auto resume_frame = packed([](packer& pk) {
    pk.pack_map(4);
    str(pk, "type");
    str(pk, "resume");
    str(pk, "session");
    str(pk, "s1");
    str(pk, "token");
    str(pk, "t1");
    str(pk, "last_seq");
    pk.pack_uint64(5);
  });
  auto r = std::get<resume>(accepted(resume_frame));
  EXPECT_EQ(r.session, "s1");
  EXPECT_EQ(r.token, "t1");
  EXPECT_EQ(r.last_seq, 5u);

  auto sub = packed([](packer& pk) {
    pk.pack_map(2);
    str(pk, "channel");  // field order does not matter
    str(pk, "news");
    str(pk, "type");
    str(pk, "subscribe");
  });
  EXPECT_EQ(std::get<subscribe>(accepted(sub)).channel, "news");

  auto ack_frame = packed([](packer& pk) {
    pk.pack_map(2);
    str(pk, "type");
    str(pk, "ack");
    str(pk, "seq");
    pk.pack_uint8(7);  // any integer width
  });
  EXPECT_EQ(std::get<ack>(accepted(ack_frame)).seq, 7u);
}

TEST(MsgpackCodec, PublishedDataWithAJsonEquivalentBecomesTheSameJsonBody) {
  auto body = body_of(publish_with([](packer& pk) {
    pk.pack_map(1);
    str(pk, "a");
    pk.pack_array(6);
    pk.pack_int8(1);
    pk.pack_int64(-2);
    pk.pack_double(1.5);
    str(pk, "x");
    pk.pack_true();
    pk.pack_nil();
  }));
  // The JSON parser's own serialisation of the same value.
  auto json_text = boost::json::serialize(boost::json::parse(R"({"a":[1,-2,1.5,"x",true,null]})"));
  EXPECT_EQ(body, *encode_message_body("c", json_text));
}

TEST(MsgpackCodec, PublishedBinaryDataTravelsAsItsMessagePack) {
  auto write_data = [](packer& pk) {
    pk.pack_map(2);
    str(pk, "img");
    pk.pack_bin(3);
    pk.pack_bin_body("\x00\xff\x10", 3);
    str(pk, "n");
    pk.pack_uint64(1);
  };
  auto data = packed(write_data);
  auto frame = publish_with(write_data);
  auto body = body_of(frame);
  // JSON subscribers: `data_msgpack`, the base64 of data's MessagePack.
  EXPECT_EQ(body, R"("channel":"c","data_msgpack":")" + base64_encode(data) + "\"}");
  // MessagePack subscribers: `data` as it was published.
  EXPECT_EQ(data_of_message(std::make_shared<const std::string>(body)), data);
}

TEST(MsgpackCodec, DataWithoutAJsonEquivalentIsKeptWhateverMakesIt) {
  std::vector<std::function<void(packer&)>> cases{
      [](packer& pk) {  // a map key that is not a string
        pk.pack_map(1);
        pk.pack_uint64(1);
        str(pk, "one");
      },
      [](packer& pk) { str(pk, "\xc3\x28"); },  // a string that is not UTF-8
      [](packer& pk) { pk.pack_double(std::nan("")); },
      [](packer& pk) {  // an ext value, deep inside
        pk.pack_array(1);
        pk.pack_map(1);
        str(pk, "e");
        pk.pack_ext(1, 5);
        pk.pack_ext_body("\x01", 1);
      },
      [](packer& pk) {  // a repeated key
        pk.pack_map(2);
        str(pk, "k");
        pk.pack_uint64(1);
        str(pk, "k");
        pk.pack_uint64(2);
      },
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto body = body_of(publish_with(cases[i]));
    EXPECT_NE(body.find("\"data_msgpack\":"), std::string::npos) << "case " << i << ": " << body;
    EXPECT_EQ(data_of_message(std::make_shared<const std::string>(body)), packed(cases[i]))
        << "case " << i;
  }
}

TEST(MsgpackCodec, EmptyStringsAndKeysAreValues) {
  // msgpack-cxx may hold an empty str as a null pointer (found by fuzz.msgpack).
  auto body = body_of(publish_with([](packer& pk) {
    pk.pack_map(1);
    str(pk, "");
    str(pk, "");
  }));
  EXPECT_EQ(body, *encode_message_body("c", R"({"":""})"));
}

TEST(MsgpackCodec, JsonDataReachesMessagePackSubscribersAsTheEquivalentValue) {
  auto data = data_of_message(encode_message_body("c", R"({"a":[1,-2,1.5,"x",true,null]})"));
  auto handle = msgpack::unpack(data.data(), data.size());
  const auto& m = handle.get();
  ASSERT_EQ(m.type, msgpack::type::MAP);
  const auto& a = m.via.map.ptr[0].val;
  ASSERT_EQ(a.type, msgpack::type::ARRAY);
  ASSERT_EQ(a.via.array.size, 6u);
  EXPECT_EQ(a.via.array.ptr[0].as<int>(), 1);
  EXPECT_EQ(a.via.array.ptr[1].as<int>(), -2);
  EXPECT_EQ(a.via.array.ptr[2].as<double>(), 1.5);
  EXPECT_EQ(a.via.array.ptr[3].as<std::string>(), "x");
  EXPECT_EQ(a.via.array.ptr[4].as<bool>(), true);
  EXPECT_EQ(a.via.array.ptr[5].type, msgpack::type::NIL);
}

TEST(MsgpackCodec, MalformedFramesAreRejectedWithTheReason) {
  EXPECT_EQ(rejected("").message, "the frame is empty");
  auto truncated = packed([](packer& pk) {
    pk.pack_map(2);
    str(pk, "type");
    str(pk, "hello");
  });
  EXPECT_EQ(rejected(truncated).code, error_code::bad_msgpack);
  auto two = packed([](packer& pk) {
    pk.pack_map(0);
    pk.pack_map(0);
  });
  EXPECT_EQ(rejected(two).message, "the frame is more than one MessagePack value");
  auto array = packed([](packer& pk) { pk.pack_array(0); });
  EXPECT_EQ(rejected(array).message, "the frame is not a MessagePack map");
  // An array header claiming 2^32-1 elements in 5 bytes: refused, not allocated.
  EXPECT_EQ(rejected(std::string{"\xdd\xff\xff\xff\xff", 5}).code, error_code::bad_msgpack);
  // Nested deeper than max_frame_depth (the frame's map is the first level,
  // as in JSON): data 63 deep is the most.
  auto nested = [](std::size_t depth) {
    return publish_with([depth](packer& pk) {
      for (std::size_t i = 0; i + 1 < depth; ++i) pk.pack_array(1);
      pk.pack_array(0);
    });
  };
  EXPECT_TRUE(std::holds_alternative<publish>(accepted(nested(max_frame_depth - 1))));
  EXPECT_EQ(rejected(nested(max_frame_depth)).code, error_code::bad_msgpack);
  // Fields are checked as in JSON; one without a JSON equivalent reads as null.
  auto bin_channel = packed([](packer& pk) {
    pk.pack_map(2);
    str(pk, "type");
    str(pk, "subscribe");
    str(pk, "channel");
    pk.pack_bin(1);
    pk.pack_bin_body("a", 1);
  });
  auto err = rejected(bin_channel);
  EXPECT_EQ(err.code, error_code::bad_frame);
  EXPECT_EQ(err.message, R"(subscribe: field "channel" must be a string)");
  auto unknown = packed([](packer& pk) {
    pk.pack_map(1);
    str(pk, "type");
    str(pk, "shout");
  });
  EXPECT_EQ(rejected(unknown).code, error_code::unknown_type);
  EXPECT_EQ(rejected(packed([](packer& pk) { pk.pack_map(0); })).message,
            R"(frame: field "type" is missing)");
}

TEST(MsgpackCodec, ServerFramesBecomeMapsWithTheJsonFieldsAndTypes) {
  welcome w{.session = "s",
            .token = "t",
            .resumed = true,
            .last_cseq = 3,
            .heartbeat = duration{25000},
            .resume_window = duration{120000},
            .replay = 2};
  auto bytes = msgpack_frame(encode(w));
  auto handle = msgpack::unpack(bytes.data(), bytes.size());
  std::map<std::string, msgpack::object> fields;
  handle.get().convert(fields);
  EXPECT_EQ(fields.at("type").as<std::string>(), "welcome");
  EXPECT_EQ(fields.at("resumed").type, msgpack::type::BOOLEAN);
  EXPECT_EQ(fields.at("heartbeat_ms").type, msgpack::type::POSITIVE_INTEGER);
  EXPECT_EQ(fields.at("heartbeat_ms").as<std::uint64_t>(), 25000u);
  EXPECT_EQ(fields.at("replay").as<std::uint64_t>(), 2u);
  EXPECT_EQ(fields.size(), 8u);  // no `reason` (empty): omitted, as in JSON

  auto err = msgpack_frame(encode_error(error_code::text_unsupported, "no text", 4));
  auto h2 = msgpack::unpack(err.data(), err.size());
  std::map<std::string, msgpack::object> e;
  h2.get().convert(e);
  EXPECT_EQ(e.at("code").as<std::string>(), "text_unsupported");
  EXPECT_EQ(e.at("cseq").as<std::uint64_t>(), 4u);
  EXPECT_EQ(msgpack_frame("not json"), "");
}

TEST(MsgpackCodec, EachThreadEncodesAMessageBodyOnce) {
  msgpack_bodies bodies;
  auto first = encode_message_body("c", "1");
  auto a = bodies.get(first);
  auto b = bodies.get(first);
  EXPECT_EQ(a.pairs, b.pairs);  // the same bytes, shared
  EXPECT_EQ(bodies.encoded(), 1u);
  for (std::size_t i = 0; i < msgpack_bodies::cached; ++i)
    bodies.get(encode_message_body("c", "2"));
  EXPECT_EQ(bodies.encoded(), 1u + msgpack_bodies::cached);
  bodies.get(first);  // pushed out of the cache by the others
  EXPECT_EQ(bodies.encoded(), 2u + msgpack_bodies::cached);
  EXPECT_FALSE(msgpack_message_body("no body").pairs);
}

TEST(MsgpackCodec, UpstreamsGetDataWithoutAJsonEquivalentAsItsBase64InJson) {
  auto body = encode_message_body_msgpack("c", std::string{"\xc4\x01\x00", 3});
  EXPECT_EQ(message_body_data_msgpack(*body), "xAEA");
  EXPECT_EQ(upstream_text_of(*body), R"({"data_msgpack":"xAEA"})");
  // JSON data that merely holds such a key is JSON data.
  auto json_body = encode_message_body("c", R"({"a":"x","data_msgpack":"abc"})");
  EXPECT_EQ(message_body_data_msgpack(*json_body), "");
  EXPECT_EQ(upstream_text_of(*json_body), R"({"a":"x","data_msgpack":"abc"})");
  EXPECT_EQ(upstream_text_of(*encode_message_body("c", R"("hi")")), "hi");
}

TEST(MsgpackCodec, Base64FollowsRfc4648) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string{"\xff\xfe\x00", 3}), "//4A");
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"})
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
  EXPECT_EQ(base64_decode("//4A"), (std::string{"\xff\xfe\x00", 3}));
  for (const char* bad : {"Zg=", "Zm9v!AAA", "Z=g=", "=Zg=", "Zg=a", "Zg==Zg=="})
    EXPECT_FALSE(base64_decode(bad)) << bad;
}

}  // namespace
}  // namespace wsvisor::proto
