#pragma once

/// The wsvisor.v1 wire codec (docs/protocol.md): client text frames parsed into
/// typed frames or a protocol error, and every server frame encoded as JSON
/// text. Pure functions, no state: safe from any thread.
///
/// A `message` frame is sent as two parts (out_frame in actors/transport.hpp):
/// a body `"channel":…,"data":…}` encoded once per publish and shared by every
/// recipient, and a per-session head `{"type":"message","seq":N,`. Together
/// they are one JSON object.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <boost/json/fwd.hpp>

#include "config/config.hpp"
#include "protocol/frame_text.hpp"

namespace wsvisor::proto {

/// How deep a frame may nest: a client frame nested deeper is refused with
/// bad_json, so its `data` nests at most one level less. A `message` frame
/// nests as deep as the `data` it carries plus one, so clients read frames
/// up to this depth.
inline constexpr std::size_t max_frame_depth = 64;

/// One encoded payload shared by every recipient (same type as wsvisor::shared_body).
using shared_body = std::shared_ptr<const std::string>;

/// Values of `error.code`. The names are part of the wire contract.
enum class error_code : std::uint8_t {
  bad_json,            // the frame is not a JSON object
  bad_frame,           // a required field is missing or has the wrong type
  unknown_type,        // `type` names no client frame
  no_session,          // a frame other than hello/resume before the session exists
  bad_channel,         // a channel name outside ^[A-Za-z0-9_.:-]{1,128}$
  bad_cseq,            // a publish cseq skips ahead of the next expected value
  binary_unsupported,  // a binary frame
  unauthorized,        // hello (or a failed resume) without a valid token where [auth] is on
  rate_limited,        // over limits.messages_per_second, or too many frames before `welcome`
  upstream_down,       // a publish on an upstream's channel while that link is given up
  forbidden,           // subscribe/publish on a channel the token's `channels` claim does not allow
  too_many_subscriptions,  // over limits.subscriptions_per_session
  too_many_channels,       // a subscribe that would exceed limits.channels on this node
  server_full,             // a new session over limits.sessions (then close 4429)
  text_unsupported,        // a text frame on wsvisor.v1.msgpack
  bad_msgpack,             // a binary frame on wsvisor.v1.msgpack that is not one MessagePack map
  too_many_members,        // a presence subscribe beyond limits.presence_members
  not_subscribed,          // a presence query on a channel the session is not subscribed to
};

/// The wire name, e.g. "bad_json".
std::string_view to_string(error_code code);

/// Why a client frame was rejected; sent back as an `error` frame.
struct protocol_error {
  error_code code = error_code::bad_frame;
  std::string message;  // human-readable; names the offending field where there is one
};

// -- client frames -------------------------------------------------------------

struct hello {
  std::optional<std::string> auth;  // the JWT; checked where [auth] is on, else ignored
};

struct resume {
  std::string session;
  std::string token;
  std::uint64_t last_seq = 0;  // highest seq the client holds, 0 if none
  /// Optional: where [auth] is on, the JWT for the new session started when
  /// this resume fails (the resume itself needs only `token`).
  std::optional<std::string> auth;
};

struct subscribe {
  std::string channel;
  bool presence = false;  // the session becomes a member of the channel (docs/protocol.md)
};

struct unsubscribe {
  std::string channel;
};

struct publish {
  std::string channel;
  std::uint64_t cseq = 0;  // >= 1
  /// The `message` body for this publish (encode_message_body), with `data`
  /// re-serialised once: every subscriber's frame shares it.
  shared_body body;
};

struct ack {
  std::uint64_t seq = 0;
};

struct pong {};

struct bye {};

/// `{"type":"presence","channel":C}`: who is a member of C.
struct presence {
  std::string channel;
};

using client_frame =
    std::variant<hello, resume, subscribe, unsubscribe, publish, ack, pong, bye, presence>;

/// A parsed client frame, or why it was rejected.
using parse_result = std::variant<client_frame, protocol_error>;

/// Parses one client text frame. Unknown fields are ignored. Never throws on
/// any input.
parse_result parse(std::string_view text);

/// One client frame already decoded into a JSON object (`parse`, and
/// `parse_msgpack` in protocol/msgpack_codec.hpp). `data_msgpack`: a
/// publish's `data` that has no JSON equivalent, MessagePack-encoded (the
/// object then only needs some `data`); empty: none.
parse_result parse_object(const boost::json::object& frame, std::string_view data_msgpack = {});

/// The frame's `type` as on the wire, e.g. "publish".
std::string_view type_name(const client_frame& frame);

/// True iff `channel` matches ^[A-Za-z0-9_.:-]{1,128}$.
bool valid_channel(std::string_view channel);

/// The longest prefix of `text` (valid UTF-8) of at most `max` bytes that
/// does not cut a character in two: what a client-chosen string may be cut
/// to before it is echoed in a frame, a close reason or an error body.
std::string_view utf8_prefix(std::string_view text, std::size_t max);

/// True unless `value` holds a number beyond the range of a double (`1e400`).
/// boost::json reads one as infinity and writes it back as `Infinity`, which
/// is not JSON: such `data` would reach subscribers in frames that no JSON
/// parser reads. A publish carrying one is refused with bad_frame.
bool finite_numbers(const boost::json::value& value);

/// True iff `channel` is reserved for the server's own publishes (`sys.`
/// prefix, e.g. `sys.upstream.NAME`): clients may subscribe, not publish.
bool reserved_channel(std::string_view channel);

// -- server frames -------------------------------------------------------------

struct welcome {
  std::string session;
  std::string token;
  bool resumed = false;
  std::string reason;  // unknown | expired | overflow; empty: the field is omitted
  std::uint64_t last_cseq = 0;
  duration heartbeat{0};      // sent as heartbeat_ms
  duration resume_window{0};  // sent as resume_window_ms
  // resumed: the buffered messages that follow this welcome (a wsvisor
  // extension, docs/protocol.md); nullopt: the field is omitted.
  std::optional<std::uint64_t> replay;
};

struct goaway {
  std::string reason;
  duration retry{0};  // sent as retry_ms
  std::string url;    // empty: the field is omitted
};

std::string encode(const welcome& frame);
std::string encode(const goaway& frame);
std::string encode_subscribed(std::string_view channel);
std::string encode_unsubscribed(std::string_view channel);
frame_text encode_ack(std::uint64_t cseq);
std::string encode_ping();
std::string encode_error(error_code code, std::string_view message);
/// An error about the publish with this `cseq` (the field is added).
std::string encode_error(error_code code, std::string_view message, std::uint64_t cseq);

/// The shared part of a `message` frame: `"channel":"…","data":…}`.
/// `data_json` must be one serialised JSON value; it is copied verbatim.
shared_body encode_message_body(std::string_view channel, std::string_view data_json);

/// The per-session part of a `message` frame: `{"type":"message","seq":N,`.
frame_text encode_message_head(std::uint64_t seq);

// -- presence (docs/protocol.md, "Presence") ------------------------------------
//
// A presence event travels inside the server as a message does: a shared
// body on the channel, numbered per session, buffered and replayed. Its body
// starts with `"member"` where a message's starts with `"channel"`, which
// tells the two apart in one byte.

/// A member's state as on the wire.
enum class presence_state : std::uint8_t { online, away, gone };

std::string_view to_string(presence_state state);

/// The shared part of a `presence_event` frame:
/// `"member":"M","channel":"C","subject":S,"state":"online"}`. `subject_json`
/// is one serialised JSON value (a string, or `null`).
shared_body encode_presence_body(std::string_view channel, std::string_view member,
                                 std::string_view subject_json, presence_state state);

/// A member's `subject` as JSON: the string, or `null` when empty.
std::string presence_subject_json(std::string_view subject);

/// True iff `body` was made by encode_presence_body (not encode_message_body).
inline bool is_presence_body(std::string_view body) { return body.size() > 2 && body[1] == 'm'; }

/// The fields of a body made by encode_presence_body.
struct presence_fields {
  std::string_view member;
  std::string_view channel;
  std::string_view subject_json;
  presence_state state = presence_state::gone;
};

/// Reads a body made by encode_presence_body; nullopt for anything else.
std::optional<presence_fields> read_presence_body(std::string_view body);

/// The per-session part of the frame for a shared body: `{"type":"message",
/// "seq":N,` or, for a presence body, `{"type":"presence_event","seq":N,`.
frame_text encode_head(std::uint64_t seq, std::string_view body);

/// The answer to a presence query: `{"type":"presence","channel":C,
/// "members":[…]}`, `members_json` being the serialised array.
std::string encode_presence_members(std::string_view channel, std::string_view members_json);

// -- upstream links (docs/upstreams.md) ------------------------------------------

/// The serialised `data` of a body made by encode_message_body.
std::string_view message_body_data(std::string_view body);

/// The text frame an upstream receives for a publish whose serialised data is
/// `data_json`: a JSON string is sent as its content, any other value as its
/// JSON text.
std::string upstream_text(std::string_view data_json);

/// The serialised `data` for a text frame an upstream sent: the frame itself
/// when it is one JSON value that a client may publish as `data` (nested at
/// most max_frame_depth - 1 deep, finite_numbers), otherwise the frame as a
/// JSON string.
std::string upstream_data(std::string_view text);

}  // namespace wsvisor::proto
