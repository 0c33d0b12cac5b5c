// Fuzz target: the client library's decoder of server frames,
// wsvisor::detail::decode_server_frame (protocol/client_frames.hpp). Beyond "never
// crashes, never throws": a rejection says why; a decoded frame's `data` is
// one JSON value; and a decoded frame that the server's encoders
// (protocol/codec.hpp) can express decodes to the same fields when the
// server encodes it again.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "protocol/client_frames.hpp"
#include "protocol/codec.hpp"
#include "protocol/msgpack_codec.hpp"
#include "tests/fuzz/check.hpp"
#include "tests/fuzz/json_check.hpp"

namespace {

using namespace wsvisor;
using detail::server_frame;
using detail::server_frame_kind;

constexpr std::uint64_t max_ms = std::numeric_limits<duration::rep>::max();

server_frame decoded_again(const std::string& text, server_frame_kind kind) {
  std::string error;
  auto frame = detail::decode_server_frame(text, error);
  FUZZ_CHECK(frame.has_value());
  FUZZ_CHECK(frame->kind == kind);
  return std::move(*frame);
}

// Every value of the underlying type, so that codes added later are found too
// (to_string names the values past the last code "bad_frame", found first).
std::optional<proto::error_code> error_code_named(std::string_view name) {
  for (int i = 0; i <= std::numeric_limits<std::uint8_t>::max(); ++i) {
    auto code = static_cast<proto::error_code>(i);
    if (proto::to_string(code) == name) return code;
  }
  return std::nullopt;
}

void check_welcome(const server_frame& f) {
  if (f.heartbeat_ms > max_ms || f.resume_window_ms > max_ms) return;
  proto::welcome w{.session = f.session,
                   .token = f.token,
                   .resumed = f.resumed,
                   .reason = f.reason,
                   .last_cseq = f.last_cseq,
                   .heartbeat = duration{static_cast<duration::rep>(f.heartbeat_ms)},
                   .resume_window = duration{static_cast<duration::rep>(f.resume_window_ms)}};
  auto again = decoded_again(proto::encode(w), server_frame_kind::welcome);
  FUZZ_CHECK(again.session == f.session && again.token == f.token && again.resumed == f.resumed &&
             again.reason == f.reason && again.last_cseq == f.last_cseq &&
             again.heartbeat_ms == f.heartbeat_ms && again.resume_window_ms == f.resume_window_ms);
}

void check_message(const server_frame& f) {
  if (!f.data_msgpack.empty()) {
    // Data with no JSON equivalent: the server writes it back as the same bytes.
    FUZZ_CHECK(f.data.empty());
    if (!proto::valid_channel(f.channel)) return;  // the server's bodies have valid channels
    auto body = proto::encode_message_body_msgpack(f.channel, f.data_msgpack);
    auto again =
        decoded_again(proto::encode_message_head(f.seq).str() + *body, server_frame_kind::message);
    FUZZ_CHECK(again.seq == f.seq && again.channel == f.channel &&
               again.data_msgpack == f.data_msgpack);
    return;
  }
  FUZZ_CHECK(fuzz::parse_json(f.data, proto::max_frame_depth - 1).has_value());
  auto text =
      proto::encode_message_head(f.seq).str() + *proto::encode_message_body(f.channel, f.data);
  auto again = decoded_again(text, server_frame_kind::message);
  FUZZ_CHECK(again.seq == f.seq && again.channel == f.channel &&
             fuzz::same_json(again.data, f.data));
}

void check_error(const server_frame& f) {
  auto code = error_code_named(f.code);
  if (!code) return;  // the server sends only its own codes
  auto text = f.cseq == 0 ? proto::encode_error(*code, f.message)
                          : proto::encode_error(*code, f.message, f.cseq);
  auto again = decoded_again(text, server_frame_kind::error);
  FUZZ_CHECK(again.code == f.code && again.message == f.message && again.cseq == f.cseq);
}

void check_goaway(const server_frame& f) {
  if (f.retry_ms > max_ms) return;
  proto::goaway g{.reason = f.reason,
                  .retry = duration{static_cast<duration::rep>(f.retry_ms)},
                  .url = f.url.value_or("")};
  auto again = decoded_again(proto::encode(g), server_frame_kind::goaway);
  // The server omits an empty url.
  FUZZ_CHECK(again.reason == f.reason && again.retry_ms == f.retry_ms &&
             again.url.value_or("") == f.url.value_or(""));
}

// A presence event the server could have made (a hex member id, a valid
// channel, a known state) comes back the same from the server's encoding.
void check_presence_event(const server_frame& f) {
  auto state = f.state == "online" ? proto::presence_state::online
               : f.state == "away" ? proto::presence_state::away
               : f.state == "gone" ? proto::presence_state::gone
                                   : std::optional<proto::presence_state>{};
  bool hex =
      !f.member.empty() && f.member.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!state || !hex || !proto::valid_channel(f.channel)) return;
  auto body = proto::encode_presence_body(f.channel, f.member,
                                          proto::presence_subject_json(f.subject), *state);
  auto again = decoded_again(proto::encode_head(f.seq, *body).str() + *body, f.kind);
  FUZZ_CHECK(again.seq == f.seq && again.member == f.member && again.channel == f.channel &&
             again.subject == f.subject && again.state == f.state);
}

// A presence answer's members come back the same, in order.
void check_presence(const server_frame& f) {
  boost::json::array rows;
  for (auto& m : f.members)
    rows.push_back(boost::json::object{
        {"member", m.member},
        {"subject", m.subject.empty() ? boost::json::value() : boost::json::value(m.subject)},
        {"state", m.state}});
  auto again = decoded_again(
      proto::encode_presence_members(f.channel, boost::json::serialize(rows)), f.kind);
  FUZZ_CHECK(again.channel == f.channel && again.members.size() == f.members.size());
  for (std::size_t i = 0; i < f.members.size() && i < again.members.size(); ++i)
    FUZZ_CHECK(again.members[i].member == f.members[i].member &&
               again.members[i].subject == f.members[i].subject &&
               again.members[i].state == f.members[i].state);
}

void check_frame(const server_frame& f) {
  switch (f.kind) {
    case server_frame_kind::welcome:
      return check_welcome(f);
    case server_frame_kind::subscribed:
      FUZZ_CHECK(decoded_again(proto::encode_subscribed(f.channel), f.kind).channel == f.channel);
      return;
    case server_frame_kind::unsubscribed:
      FUZZ_CHECK(decoded_again(proto::encode_unsubscribed(f.channel), f.kind).channel == f.channel);
      return;
    case server_frame_kind::message:
      return check_message(f);
    case server_frame_kind::presence_event:
      return check_presence_event(f);
    case server_frame_kind::presence:
      return check_presence(f);
    case server_frame_kind::ack:
      FUZZ_CHECK(decoded_again(proto::encode_ack(f.cseq).str(), f.kind).cseq == f.cseq);
      return;
    case server_frame_kind::ping:
      decoded_again(proto::encode_ping(), f.kind);
      return;
    case server_frame_kind::error:
      return check_error(f);
    case server_frame_kind::goaway:
      return check_goaway(f);
    case server_frame_kind::unknown:
      return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string error;
  auto frame = detail::decode_server_frame(
      std::string_view{reinterpret_cast<const char*>(data), size}, error);
  if (frame)
    check_frame(*frame);
  else
    FUZZ_CHECK(!error.empty());
  return 0;
}
