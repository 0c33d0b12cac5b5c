// Fuzz target: the server's parser of client frames, wsvisor::proto::parse
// (protocol/codec.hpp). Beyond "never crashes, never throws":
// - an accepted frame holds what the protocol promises (a valid channel, a
//   publish cseq >= 1, no publish on a sys. channel, a body whose data is one
//   JSON value) and reads back the same after the client library encodes it;
// - what the server would send in answer (the error frame of a rejection,
//   subscribed/unsubscribed, the message frame of a publish) is decoded by
//   the client library to the same fields.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "protocol/client_frames.hpp"
#include "protocol/codec.hpp"
#include "tests/fuzz/check.hpp"
#include "tests/fuzz/json_check.hpp"

namespace {

using namespace wsvisor;

template <class Frame>
Frame reparsed(const std::string& text) {
  auto result = proto::parse(text);
  auto* frame = std::get_if<proto::client_frame>(&result);
  FUZZ_CHECK(frame != nullptr);
  auto* typed = std::get_if<Frame>(frame);
  FUZZ_CHECK(typed != nullptr);
  return std::move(*typed);
}

detail::server_frame client_decoded(const std::string& text, detail::server_frame_kind kind) {
  std::string error;
  auto frame = detail::decode_server_frame(text, error);
  FUZZ_CHECK(frame.has_value());
  FUZZ_CHECK(frame->kind == kind);
  return std::move(*frame);
}

void check_rejection(const proto::protocol_error& err) {
  FUZZ_CHECK(!err.message.empty());
  auto f =
      client_decoded(proto::encode_error(err.code, err.message), detail::server_frame_kind::error);
  FUZZ_CHECK(f.code == proto::to_string(err.code));
  FUZZ_CHECK(f.message == err.message);
}

void check_channel_answer(const std::string& channel, bool subscribed) {
  FUZZ_CHECK(proto::valid_channel(channel));
  auto kind =
      subscribed ? detail::server_frame_kind::subscribed : detail::server_frame_kind::unsubscribed;
  auto f = client_decoded(
      subscribed ? proto::encode_subscribed(channel) : proto::encode_unsubscribed(channel), kind);
  FUZZ_CHECK(f.channel == channel);
}

void check_publish(const proto::publish& p) {
  FUZZ_CHECK(proto::valid_channel(p.channel));
  FUZZ_CHECK(!proto::reserved_channel(p.channel));
  FUZZ_CHECK(p.cseq >= 1);
  FUZZ_CHECK(p.body != nullptr);
  auto data = std::string{proto::message_body_data(*p.body)};
  FUZZ_CHECK(fuzz::parse_json(data, proto::max_frame_depth - 1).has_value());

  auto again = reparsed<proto::publish>(detail::encode_publish(p.channel, p.cseq, data));
  FUZZ_CHECK(again.channel == p.channel && again.cseq == p.cseq);
  FUZZ_CHECK(fuzz::same_json(proto::message_body_data(*again.body), data));

  // Every subscriber receives head + body; the client must read it whole.
  auto f = client_decoded(proto::encode_message_head(p.cseq).str() + *p.body,
                          detail::server_frame_kind::message);
  FUZZ_CHECK(f.seq == p.cseq && f.channel == p.channel && fuzz::same_json(f.data, data));

  // On an upstream's channel the data goes out as a text frame, and what an
  // upstream sends back becomes data: always one JSON value.
  auto text = proto::upstream_text(data);
  FUZZ_CHECK(fuzz::parse_json(proto::upstream_data(text), proto::max_frame_depth - 1).has_value());
}

void check_frame(const proto::client_frame& frame) {
  FUZZ_CHECK(!proto::type_name(frame).empty());
  std::visit(
      [](const auto& f) {
        using frame_type = std::decay_t<decltype(f)>;
        if constexpr (std::is_same_v<frame_type, proto::hello>) {
          FUZZ_CHECK(reparsed<proto::hello>(detail::encode_hello(f.auth)).auth == f.auth);
        } else if constexpr (std::is_same_v<frame_type, proto::resume>) {
          auto again =
              reparsed<proto::resume>(detail::encode_resume(f.session, f.token, f.last_seq));
          FUZZ_CHECK(again.session == f.session && again.token == f.token &&
                     again.last_seq == f.last_seq);
        } else if constexpr (std::is_same_v<frame_type, proto::subscribe>) {
          FUZZ_CHECK(reparsed<proto::subscribe>(detail::encode_subscribe(f.channel)).channel ==
                     f.channel);
          check_channel_answer(f.channel, true);
        } else if constexpr (std::is_same_v<frame_type, proto::unsubscribe>) {
          FUZZ_CHECK(reparsed<proto::unsubscribe>(detail::encode_unsubscribe(f.channel)).channel ==
                     f.channel);
          check_channel_answer(f.channel, false);
        } else if constexpr (std::is_same_v<frame_type, proto::publish>) {
          check_publish(f);
        } else if constexpr (std::is_same_v<frame_type, proto::ack>) {
          FUZZ_CHECK(reparsed<proto::ack>(detail::encode_ack(f.seq)).seq == f.seq);
        }
      },
      frame);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto result = proto::parse(std::string_view{reinterpret_cast<const char*>(data), size});
  if (auto* err = std::get_if<proto::protocol_error>(&result))
    check_rejection(*err);
  else
    check_frame(std::get<proto::client_frame>(result));
  return 0;
}
