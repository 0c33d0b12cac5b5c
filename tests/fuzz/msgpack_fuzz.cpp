// Fuzz target: the server's parser of wsvisor.v1.msgpack client frames,
// wsvisor::proto::parse_msgpack (protocol/msgpack_codec.hpp). Beyond "never
// crashes, never throws":
// - a rejection says why, and its error frame encodes to a MessagePack map;
// - an accepted publish has a valid channel and cseq >= 1, and a body that
//   is either JSON `data` (one JSON value within the depth limit) or
//   `data_msgpack` (base64 of one MessagePack value);
// - the message frame a MessagePack subscriber would receive for it (head +
//   the body's pairs) is one map of four fields whose `data` is exactly what
//   `data_msgpack` holds, and the JSON subscriber's frame is read by the
//   client library.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <msgpack.hpp>

#include "protocol/client_frames.hpp"
#include "protocol/codec.hpp"
#include "protocol/msgpack_codec.hpp"
#include "tests/fuzz/check.hpp"
#include "tests/fuzz/json_check.hpp"

namespace {

using namespace wsvisor;

struct sink {
  std::string bytes;
  void write(const char* p, std::size_t n) { bytes.append(p, n); }
};

/// Unpacks `bytes` as one map; its `data` re-packed into `data`.
void check_map(const std::string& bytes, std::uint32_t fields, std::string* data) {
  std::size_t offset = 0;
  msgpack::object_handle handle;
  try {
    handle = msgpack::unpack(bytes.data(), bytes.size(), offset);
  } catch (const std::exception&) {
    FUZZ_CHECK(false);
  }
  FUZZ_CHECK(offset == bytes.size());
  const auto& m = handle.get();
  FUZZ_CHECK(m.type == msgpack::type::MAP);
  if (fields) FUZZ_CHECK(m.via.map.size == fields);
  if (!data) return;
  for (std::uint32_t i = 0; i < m.via.map.size; ++i) {
    const auto& kv = m.via.map.ptr[i];
    if (kv.key.type == msgpack::type::STR &&
        std::string_view{kv.key.via.str.ptr, kv.key.via.str.size} == "data") {
      sink out;
      msgpack::pack(out, kv.val);
      *data = out.bytes;
    }
  }
}

void check_publish(const proto::publish& p) {
  FUZZ_CHECK(proto::valid_channel(p.channel));
  FUZZ_CHECK(!proto::reserved_channel(p.channel));
  FUZZ_CHECK(p.cseq >= 1);
  FUZZ_CHECK(p.body != nullptr);
  const std::string& body = *p.body;
  std::string raw;  // the data's MessagePack when it has no JSON equivalent
  if (auto b64 = proto::message_body_data_msgpack(body); !b64.empty()) {
    auto decoded = proto::base64_decode(b64);
    FUZZ_CHECK(decoded.has_value());
    raw = *decoded;
  } else {
    auto data = std::string{proto::message_body_data(body)};
    FUZZ_CHECK(fuzz::parse_json(data, proto::max_frame_depth - 1).has_value());
  }
  // What a MessagePack subscriber receives.
  auto pairs = proto::msgpack_message_body(body);
  FUZZ_CHECK(pairs.pairs != nullptr && pairs.count == 2);
  auto frame = proto::msgpack_message_head(p.cseq, pairs.count).str() + *pairs.pairs;
  std::string data;
  check_map(frame, 4, &data);
  if (!raw.empty()) FUZZ_CHECK(data == raw);
  // What a JSON subscriber receives: a frame the client library reads
  // (data_msgpack is a field it does not know; `data` is then missing).
  if (raw.empty()) {
    std::string error;
    auto f = detail::decode_server_frame(proto::encode_message_head(p.cseq).str() + body, error);
    FUZZ_CHECK(f.has_value() && f->channel == p.channel);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto result = proto::parse_msgpack(std::string_view{reinterpret_cast<const char*>(data), size});
  if (auto* err = std::get_if<proto::protocol_error>(&result)) {
    FUZZ_CHECK(!err->message.empty());
    check_map(proto::msgpack_frame(proto::encode_error(err->code, err->message)), 3, nullptr);
    return 0;
  }
  auto& frame = std::get<proto::client_frame>(result);
  FUZZ_CHECK(!proto::type_name(frame).empty());
  if (auto* p = std::get_if<proto::publish>(&frame)) check_publish(*p);
  return 0;
}
