#pragma once

/// The `wsvisor.v1.msgpack` subprotocol (docs/protocol.md, "MessagePack"):
/// every frame in both directions is one binary WebSocket message holding
/// one MessagePack map with the fields and types of the JSON frame. Pure
/// functions over msgpack-cxx (Debian's libmsgpack-cxx-dev), no I/O: safe
/// from any thread, except `msgpack_bodies` (one per thread).
///
/// Inside the server every frame stays JSON: a client's MessagePack frame is
/// decoded into the frame the JSON parser would have made (`parse_msgpack`),
/// and what the server sends is encoded from its JSON text on the way out
/// (`msgpack_frame`, and `msgpack_bodies` for a message's shared body). A
/// publish's `data` that has no JSON equivalent (a `bin` or `ext` anywhere,
/// a map key that is not a string, a string that is not UTF-8, a float that
/// is not finite) travels as its MessagePack encoding: the message body is
/// then `"channel":C,"data_msgpack":"<base64>"}`, which JSON subscribers
/// receive as it is and MessagePack subscribers as the original `data`.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/codec.hpp"
#include "protocol/frame_text.hpp"

namespace wsvisor::proto {

/// The value of `Sec-WebSocket-Protocol` for MessagePack frames.
inline constexpr std::string_view msgpack_subprotocol = "wsvisor.v1.msgpack";

/// Parses one client binary frame: one MessagePack map (nested at most
/// max_frame_depth deep) with the fields of a JSON client frame; then as
/// `parse`. Not one MessagePack value, or trailing bytes: bad_msgpack; not a
/// map: bad_msgpack; a known field whose value has no JSON equivalent reads
/// as null (so `"channel": bin` is "must be a string"), except a publish's
/// `data`, which may hold anything. Never throws on any input.
parse_result parse_msgpack(std::string_view bytes);

/// One client frame as it came off the socket, text or `binary`, on a
/// connection of wsvisor.v1 or (`msgpack`) wsvisor.v1.msgpack: `parse` or
/// `parse_msgpack`; a frame of the other kind is binary_unsupported (on
/// wsvisor.v1) or text_unsupported (on wsvisor.v1.msgpack).
parse_result parse_frame(std::string_view payload, bool binary, bool msgpack);

/// One MessagePack map (a client frame, or the body of an HTTP publish)
/// decoded into `out`: each field whose name is a string, with its value in
/// JSON, or null when it has no JSON equivalent; the `data` field's value
/// then also in `data_msgpack`, MessagePack-encoded (else left empty). Counts
/// are bounded by the input's size and nesting by max_frame_depth. Answers
/// why not when `bytes` is not one MessagePack map ("empty", "not a
/// MessagePack map", ...). Never throws.
std::optional<std::string> decode_msgpack_map(std::string_view bytes, boost::json::object& out,
                                              std::string& data_msgpack);

/// The body of a message whose `data` has no JSON equivalent:
/// `"channel":C,"data_msgpack":"<base64 of data_msgpack>"}`.
shared_body encode_message_body_msgpack(std::string_view channel, std::string_view data_msgpack);

/// The base64 `data_msgpack` of a body made by encode_message_body_msgpack;
/// empty for any other body.
std::string_view message_body_data_msgpack(std::string_view body);

/// The text frame an upstream receives for a message body: upstream_text of
/// its `data` (codec.hpp), or, for data without a JSON equivalent,
/// `{"data_msgpack":"<base64>"}` (upstream links send text frames only).
std::string upstream_text_of(std::string_view body);

/// A server frame, JSON text as the codec encodes it (one object), as one
/// MessagePack map; a `data_msgpack` field becomes `data` holding the value
/// it encodes. Empty when `json_frame` is not a JSON object (never for the
/// codec's frames).
std::string msgpack_frame(std::string_view json_frame);

/// A message frame in MessagePack: its head, then its shared body's pairs.
struct msgpack_body {
  std::shared_ptr<const std::string> pairs;  // "channel" C "data" V, encoded
  std::uint32_t count = 0;                   // pairs in `pairs`
};
/// A message body (encode_message_body or encode_message_body_msgpack) as
/// MessagePack pairs; empty `pairs` when it is not such a body.
msgpack_body msgpack_message_body(std::string_view json_body);
/// The map header for `body_pairs` + 2, then "type" "message" "seq" N.
frame_text msgpack_message_head(std::uint64_t seq, std::uint32_t body_pairs);

/// The MessagePack forms of the message bodies one thread sent last (the
/// last `cached` bodies, held by reference): a fan-out encodes each message
/// once per thread, not once per recipient. Not thread-safe.
class msgpack_bodies {
 public:
  static constexpr std::size_t cached = 8;
  /// `body`'s MessagePack pairs, from the cache or encoded now.
  msgpack_body get(const shared_body& body);
  /// How many bodies `get` had to encode (not found cached).
  std::uint64_t encoded() const { return encoded_; }

 private:
  struct entry {
    shared_body json;
    msgpack_body packed;
  };
  entry entries_[cached];
  std::size_t next_ = 0;
  std::uint64_t encoded_ = 0;
};

/// Standard base64 (RFC 4648 §4) with padding; decode answers nullopt on
/// anything else.
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace wsvisor::proto
