#include "protocol/msgpack_codec.hpp"

#include <cmath>
#include <exception>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <msgpack.hpp>

namespace wsvisor::proto {
namespace {

namespace json = boost::json;

/// msgpack-cxx's packer writes to anything with `write(const char*, size_t)`.
struct string_sink {
  std::string& out;
  void write(const char* data, std::size_t size) { out.append(data, size); }
};
using packer = msgpack::packer<string_sink>;

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;  // continuation bytes
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return false;
    i += n + 1;
  }
  return true;
}

/// A str object's text. An empty one may hold a null pointer, which must not
/// reach memcpy (Boost.JSON copies keys and strings with it).
std::string_view str_of(const msgpack::object& o) {
  return o.via.str.size == 0 ? std::string_view{""}
                             : std::string_view{o.via.str.ptr, o.via.str.size};
}

/// `o` as JSON, or false when it has no JSON equivalent. Recursion is
/// bounded by the unpacker's depth limit.
bool to_json(const msgpack::object& o, json::value& out) {
  switch (o.type) {
    case msgpack::type::NIL:
      out = nullptr;
      return true;
    case msgpack::type::BOOLEAN:
      out = o.via.boolean;
      return true;
    case msgpack::type::POSITIVE_INTEGER:
      out = o.via.u64;
      return true;
    case msgpack::type::NEGATIVE_INTEGER:
      out = o.via.i64;
      return true;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      if (!std::isfinite(o.via.f64)) return false;
      out = o.via.f64;
      return true;
    case msgpack::type::STR: {
      auto s = str_of(o);
      if (!valid_utf8(s)) return false;
      out = json::string{s, out.storage()};
      return true;
    }
    case msgpack::type::ARRAY: {
      json::array a(out.storage());
      a.reserve(o.via.array.size);
      for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
        json::value element(a.storage());
        if (!to_json(o.via.array.ptr[i], element)) return false;
        a.push_back(std::move(element));
      }
      out = std::move(a);
      return true;
    }
    case msgpack::type::MAP: {
      json::object m(out.storage());
      m.reserve(o.via.map.size);
      for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
        const auto& kv = o.via.map.ptr[i];
        if (kv.key.type != msgpack::type::STR) return false;
        auto key = str_of(kv.key);
        // A repeated key: JSON readers disagree on which one wins.
        if (!valid_utf8(key) || m.contains(key)) return false;
        json::value v(m.storage());
        if (!to_json(kv.val, v)) return false;
        m.emplace(key, std::move(v));
      }
      out = std::move(m);
      return true;
    }
    default:  // BIN, EXT
      return false;
  }
}

/// `v` in MessagePack. Recursion is bounded by the JSON parser's depth.
void pack_json(packer& pk, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      pk.pack_nil();
      return;
    case json::kind::bool_:
      v.get_bool() ? pk.pack_true() : pk.pack_false();
      return;
    case json::kind::int64:
      pk.pack_int64(v.get_int64());
      return;
    case json::kind::uint64:
      pk.pack_uint64(v.get_uint64());
      return;
    case json::kind::double_:
      pk.pack_double(v.get_double());
      return;
    case json::kind::string: {
      const auto& s = v.get_string();
      pk.pack_str(static_cast<std::uint32_t>(s.size()));
      pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
      return;
    }
    case json::kind::array:
      pk.pack_array(static_cast<std::uint32_t>(v.get_array().size()));
      for (const auto& element : v.get_array()) pack_json(pk, element);
      return;
    case json::kind::object:
      pk.pack_map(static_cast<std::uint32_t>(v.get_object().size()));
      for (const auto& member : v.get_object()) {
        pk.pack_str(static_cast<std::uint32_t>(member.key().size()));
        pk.pack_str_body(member.key().data(), static_cast<std::uint32_t>(member.key().size()));
        pack_json(pk, member.value());
      }
      return;
  }
}

template <class Packer>
void pack_key(Packer& pk, std::string_view key) {
  pk.pack_str(static_cast<std::uint32_t>(key.size()));
  pk.pack_str_body(key.data(), static_cast<std::uint32_t>(key.size()));
}

/// The members of a server frame's object as MessagePack pairs; a string
/// `data_msgpack` becomes `data` with the value it encodes.
void pack_members(packer& pk, std::string& out, const json::object& o) {
  for (const auto& member : o) {
    if (member.key() == "data_msgpack" && member.value().is_string()) {
      const auto& b64 = member.value().get_string();
      if (auto raw = base64_decode({b64.data(), b64.size()})) {
        pack_key(pk, "data");
        out += *raw;
        continue;
      }
    }
    pack_key(pk, {member.key().data(), member.key().size()});
    pack_json(pk, member.value());
  }
}

json::value parse_json(std::string_view text, json::storage_ptr sp) {
  json::parse_options options;
  options.max_depth = max_frame_depth + 1;
  boost::system::error_code ec;
  auto v = json::parse(json::string_view{text.data(), text.size()}, ec, std::move(sp), options);
  if (ec) return nullptr;
  return v;
}

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::optional<std::string> decode_msgpack_map(std::string_view bytes, boost::json::object& out,
                                              std::string& data_msgpack) {
  if (bytes.empty()) return "empty";
  msgpack::object_handle handle;
  std::size_t offset = 0;
  try {
    // Every element takes at least one byte, so no count may pass the
    // frame's size: a forged array header cannot make the unpacker allocate.
    auto n = bytes.size();
    msgpack::unpack_limit limit{n, n / 2, n, n, n, max_frame_depth};
    handle = msgpack::unpack(bytes.data(), n, offset, nullptr, nullptr, limit);
  } catch (const std::exception& e) {
    return std::string{"not one MessagePack value: "} + e.what();
  }
  if (offset != bytes.size()) return "more than one MessagePack value";
  const auto& root = handle.get();
  if (root.type != msgpack::type::MAP) return "not a MessagePack map";
  data_msgpack.clear();
  for (std::uint32_t i = 0; i < root.via.map.size; ++i) {
    const auto& kv = root.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR) continue;  // no field has such a name
    auto key = str_of(kv.key);
    json::value v(out.storage());
    if (!to_json(kv.val, v)) {
      v = nullptr;
      if (key == "data") {
        data_msgpack.clear();
        string_sink sink{data_msgpack};
        msgpack::pack(sink, kv.val);
      }
    } else if (key == "data") {
      data_msgpack.clear();  // a later `data` replaces an earlier one, as in JSON
    }
    out[key] = std::move(v);
  }
  return std::nullopt;
}

parse_result parse_msgpack(std::string_view bytes) {
  unsigned char first_block[2048];
  json::monotonic_resource arena{first_block, sizeof first_block};
  json::object frame(&arena);
  std::string data_msgpack;
  if (auto why = decode_msgpack_map(bytes, frame, data_msgpack))
    return protocol_error{error_code::bad_msgpack, "the frame is " + *why};
  return parse_object(frame, data_msgpack);
}

parse_result parse_frame(std::string_view payload, bool binary, bool msgpack) {
  if (binary == msgpack) return msgpack ? parse_msgpack(payload) : parse(payload);
  if (msgpack)
    return protocol_error{error_code::text_unsupported,
                          "text frames are not supported on wsvisor.v1.msgpack; send MessagePack "
                          "binary frames"};
  return protocol_error{error_code::binary_unsupported,
                        "binary frames are not supported on wsvisor.v1; send JSON text frames (or "
                        "choose the subprotocol wsvisor.v1.msgpack)"};
}

shared_body encode_message_body_msgpack(std::string_view channel, std::string_view data_msgpack) {
  std::string out;
  auto b64 = base64_encode(data_msgpack);
  out.reserve(channel.size() + b64.size() + 34);
  out += R"("channel":")";
  out += channel;  // a valid channel name needs no escaping
  out += R"(","data_msgpack":")";
  out += b64;
  out += "\"}";
  return std::make_shared<const std::string>(std::move(out));
}

std::string_view message_body_data_msgpack(std::string_view body) {
  // `"channel":"NAME","data_msgpack":"B64"}`: a channel name holds no quote,
  // so the first one after it ends the name (a `data` object may well hold a
  // "data_msgpack" key of its own further on).
  constexpr std::string_view start = R"("channel":")";
  constexpr std::string_view marker = R"(","data_msgpack":")";
  if (!body.starts_with(start) || !body.ends_with("\"}")) return {};
  auto end_of_name = body.find('"', start.size());
  if (end_of_name == std::string_view::npos || body.substr(end_of_name, marker.size()) != marker)
    return {};
  auto begin = end_of_name + marker.size();
  if (begin + 2 > body.size()) return {};
  return body.substr(begin, body.size() - 2 - begin);
}

std::string upstream_text_of(std::string_view body) {
  if (auto b64 = message_body_data_msgpack(body); !b64.empty())
    return R"({"data_msgpack":")" + std::string{b64} + "\"}";
  return upstream_text(message_body_data(body));
}

std::string msgpack_frame(std::string_view json_frame) {
  unsigned char first_block[1024];
  json::monotonic_resource arena{first_block, sizeof first_block};
  auto v = parse_json(json_frame, &arena);
  if (!v.is_object()) return {};
  std::string out;
  out.reserve(json_frame.size());
  string_sink sink{out};
  packer pk{sink};
  pk.pack_map(static_cast<std::uint32_t>(v.get_object().size()));
  pack_members(pk, out, v.get_object());
  return out;
}

msgpack_body msgpack_message_body(std::string_view json_body) {
  // The body is the rest of an object whose head the recipient adds.
  std::string text;
  text.reserve(json_body.size() + 1);
  text += '{';
  text += json_body;
  unsigned char first_block[2048];
  json::monotonic_resource arena{first_block, sizeof first_block};
  auto v = parse_json(text, &arena);
  if (!v.is_object()) return {};
  auto out = std::make_shared<std::string>();
  out->reserve(json_body.size());
  string_sink sink{*out};
  packer pk{sink};
  pack_members(pk, *out, v.get_object());
  return {std::move(out), static_cast<std::uint32_t>(v.get_object().size())};
}

frame_text msgpack_message_head(std::uint64_t seq, std::uint32_t body_pairs) {
  // Per recipient: packed straight into the frame_text, which holds a head
  // this short inline (no heap block per message and subscriber).
  struct head_sink {
    frame_text& out;
    void write(const char* data, std::size_t size) { out.append(std::string_view{data, size}); }
  };
  frame_text out;
  head_sink sink{out};
  msgpack::packer<head_sink> pk{sink};
  pk.pack_map(body_pairs + 2);
  pack_key(pk, "type");
  pack_key(pk, "message");
  pack_key(pk, "seq");
  pk.pack_uint64(seq);
  return out;
}

msgpack_body msgpack_bodies::get(const shared_body& body) {
  for (const auto& e : entries_)
    if (e.json == body) return e.packed;
  auto& slot = entries_[next_];
  next_ = (next_ + 1) % cached;
  slot.json = body;
  slot.packed = msgpack_message_body(body ? std::string_view{*body} : std::string_view{});
  ++encoded_;
  return slot.packed;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
             (static_cast<unsigned char>(bytes[i + 1]) << 8) |
             static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (auto rest = bytes.size() - i; rest > 0) {
    auto n = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += rest == 2 ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
    if (pad == 1 && text[i + 2] == '=') return std::nullopt;  // "x=y=" is not padding
    std::uint32_t n = 0;
    for (int k = 0; k < 4 - pad; ++k) {
      int v = value(text[i + k]);
      if (v < 0) return std::nullopt;
      n |= static_cast<std::uint32_t>(v) << (18 - 6 * k);
    }
    out += static_cast<char>((n >> 16) & 0xFF);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(n & 0xFF);
  }
  return out;
}

}  // namespace wsvisor::proto
