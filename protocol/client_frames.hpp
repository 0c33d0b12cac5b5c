#pragma once

/// The JSON frames of wsvisor.v1 (../shared/protocol.md) as the client writes
/// and reads them. Pure functions, no I/O: the client actor decides, these
/// only encode and decode. Internal to the client.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsvisor::detail {

// -- client to server -----------------------------------------------------------

std::string encode_hello(const std::optional<std::string>& auth);
std::string encode_resume(const std::string& session, const std::string& token,
                          std::uint64_t last_seq);
std::string encode_subscribe(const std::string& channel, bool presence = false);
/// `{"type":"presence","channel":C}`: who is a member of C.
std::string encode_presence(const std::string& channel);
std::string encode_unsubscribe(const std::string& channel);
/// `json_data` must be one valid JSON value (see is_json_value); it is
/// spliced into the frame as is, so it is parsed once, at publish time.
std::string encode_publish(const std::string& channel, std::uint64_t cseq,
                           const std::string& json_data);
std::string encode_ack(std::uint64_t seq);
std::string encode_pong();
std::string encode_bye();

/// Channel names match ^[A-Za-z0-9_.:-]{1,128}$ (checked without std::regex).
bool is_valid_channel(std::string_view channel);

/// True when `text` holds exactly one JSON value that the server accepts as
/// a publish's `data`: nested at most proto::max_frame_depth - 1 deep, with
/// every number within the range of a double (proto::finite_numbers).
bool is_json_value(std::string_view text);

// -- server to client -----------------------------------------------------------

enum class server_frame_kind {
  welcome,
  subscribed,
  unsubscribed,
  message,
  presence_event,  // numbered like a message
  presence,        // the answer to a presence query
  ack,
  ping,
  error,
  goaway,
  unknown,  // a `type` this client does not know: ignored (forward compatibility)
};

/// One decoded server frame; only the fields of its kind are set.
struct server_frame {
  server_frame_kind kind = server_frame_kind::unknown;
  std::string type;  // as received
  // welcome
  std::string session;
  std::string token;
  bool resumed = false;
  std::string reason;  // welcome (resumed: false) and goaway
  std::uint64_t last_cseq = 0;
  std::uint64_t heartbeat_ms = 0;
  std::uint64_t resume_window_ms = 0;
  // subscribed, unsubscribed, message
  std::string channel;
  // message
  std::uint64_t seq = 0;
  std::string data;  // the JSON value, serialised
  // message published over MessagePack whose data has no JSON equivalent
  // (`data_msgpack` on the wire, protocol.md): that data's MessagePack
  // encoding, decoded from base64; `data` is then empty.
  std::string data_msgpack;
  // presence_event (with seq, channel): the member, its subject (empty: null)
  // and state (online, away or gone)
  std::string member;
  std::string subject;
  std::string state;
  // presence (with channel): the members, each with member, subject and state
  struct member_row {
    std::string member;
    std::string subject;
    std::string state;
  };
  std::vector<member_row> members;
  // ack; error about one publish (0: none)
  std::uint64_t cseq = 0;
  // error
  std::string code;
  std::string message;
  // goaway
  std::uint64_t retry_ms = 0;
  std::optional<std::string> url;
};

/// Decodes one text frame. Returns nullopt and sets `error` when the frame is
/// not a JSON object with a string `type`, or a known type lacks a required
/// field or has one of the wrong type (a message needs `data`, or a base64
/// `data_msgpack`). Unknown fields are ignored.
std::optional<server_frame> decode_server_frame(std::string_view text, std::string& error);

}  // namespace wsvisor::detail
