#include "protocol/codec.hpp"

#include "config/checks.hpp"
#include "protocol/msgpack_codec.hpp"

#include <array>
#include <cmath>
#include <utility>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace wsvisor::proto {
namespace {

namespace json = boost::json;

// Error messages echo at most this much of a client-chosen string (a type
// name), so an error frame cannot be made arbitrarily large.
constexpr std::size_t max_echo = 64;

// The error frame is a text frame, and a WebSocket client fails the
// connection on invalid UTF-8 (RFC 6455 section 8.1).
std::string_view echo(std::string_view text) { return utf8_prefix(text, max_echo); }

protocol_error fail(error_code code, std::string message) {
  return protocol_error{code, std::move(message)};
}

protocol_error missing(std::string_view type, std::string_view key) {
  return fail(error_code::bad_frame,
              std::string{type} + ": field \"" + std::string{key} + "\" is missing");
}

protocol_error wrong(std::string_view type, std::string_view key, std::string_view what) {
  return fail(error_code::bad_frame, std::string{type} + ": field \"" + std::string{key} +
                                         "\" must be " + std::string{what});
}

std::optional<protocol_error> get_string(const json::object& obj, std::string_view type,
                                         std::string_view key, std::string& out) {
  auto* v = obj.if_contains(key);
  if (v == nullptr) return missing(type, key);
  if (!v->is_string()) return wrong(type, key, "a string");
  auto& s = v->get_string();
  out.assign(s.data(), s.size());
  return std::nullopt;
}

// Sequence numbers are non-negative integers. boost::json stores a
// non-negative literal as int64 when it fits and as uint64 above that; a
// fraction or exponent makes a double, which is rejected rather than rounded.
std::optional<protocol_error> get_count(const json::object& obj, std::string_view type,
                                        std::string_view key, std::uint64_t& out) {
  auto* v = obj.if_contains(key);
  if (v == nullptr) return missing(type, key);
  if (v->is_uint64()) {
    out = v->get_uint64();
  } else if (v->is_int64() && v->get_int64() >= 0) {
    out = static_cast<std::uint64_t>(v->get_int64());
  } else {
    return wrong(type, key, "a non-negative integer");
  }
  return std::nullopt;
}

std::optional<protocol_error> get_channel(const json::object& obj, std::string_view type,
                                          std::string& out) {
  if (auto err = get_string(obj, type, "channel", out)) return err;
  if (!valid_channel(out))
    return fail(error_code::bad_channel,
                std::string{type} + ": channel must match ^[A-Za-z0-9_.:-]{1,128}$");
  return std::nullopt;
}

// Takes the frame by reference: had it been a by-value argument next to the
// call that fills it, the copy could be made before the field was read.
template <class Frame>
parse_result frame_or(std::optional<protocol_error> err, Frame& frame) {
  if (err) return std::move(*err);
  return client_frame{std::move(frame)};
}

}  // namespace

parse_result parse_object(const json::object& obj, std::string_view data_msgpack) {
  auto* type_field = obj.if_contains("type");
  if (type_field == nullptr) return missing("frame", "type");
  if (!type_field->is_string()) return wrong("frame", "type", "a string");
  std::string_view type{type_field->get_string().data(), type_field->get_string().size()};
  // `auth` is optional on both; when present it must be a string.
  auto get_auth = [&obj, type](std::optional<std::string>& out) -> std::optional<protocol_error> {
    auto* auth = obj.if_contains("auth");
    if (auth == nullptr) return std::nullopt;
    if (!auth->is_string()) return wrong(type, "auth", "a string");
    out.emplace(auth->get_string().data(), auth->get_string().size());
    return std::nullopt;
  };
  if (type == "hello") {
    hello f;
    auto err = get_auth(f.auth);
    return frame_or(std::move(err), f);
  }
  if (type == "resume") {
    resume f;
    if (auto err = get_string(obj, type, "session", f.session)) return std::move(*err);
    if (auto err = get_string(obj, type, "token", f.token)) return std::move(*err);
    if (auto err = get_count(obj, type, "last_seq", f.last_seq)) return std::move(*err);
    auto err = get_auth(f.auth);
    return frame_or(std::move(err), f);
  }
  if (type == "subscribe") {
    subscribe f;
    if (auto err = get_channel(obj, type, f.channel)) return std::move(*err);
    if (auto* flag = obj.if_contains("presence"); flag != nullptr) {
      if (!flag->is_bool()) return wrong(type, "presence", "true or false");
      f.presence = flag->get_bool();
    }
    return client_frame{std::move(f)};
  }
  if (type == "presence") {
    presence f;
    auto err = get_channel(obj, type, f.channel);
    return frame_or(std::move(err), f);
  }
  if (type == "unsubscribe") {
    unsubscribe f;
    auto err = get_channel(obj, type, f.channel);
    return frame_or(std::move(err), f);
  }
  if (type == "publish") {
    publish f;
    // Field errors are reported in a fixed order (channel, data, cseq) so a
    // client sees the same message for the same frame every time.
    std::string channel_text;
    if (auto err = get_string(obj, type, "channel", channel_text)) return std::move(*err);
    auto* data = obj.if_contains("data");
    if (data == nullptr) return missing(type, "data");
    if (auto err = get_count(obj, type, "cseq", f.cseq)) return std::move(*err);
    if (f.cseq == 0) return wrong(type, "cseq", "a positive integer");
    if (!valid_channel(channel_text))
      return fail(error_code::bad_channel, "publish: channel must match ^[A-Za-z0-9_.:-]{1,128}$");
    if (reserved_channel(channel_text))
      return fail(error_code::bad_channel,
                  "publish: channels starting with \"sys.\" are reserved for the server");
    f.channel = std::move(channel_text);
    if (!data_msgpack.empty()) {
      f.body = encode_message_body_msgpack(f.channel, data_msgpack);
      return client_frame{std::move(f)};
    }
    if (!finite_numbers(*data)) return wrong(type, "data", "JSON whose numbers fit in a double");
    // The one re-serialisation of `data`: from here on every subscriber's
    // frame shares these bytes.
    f.body = encode_message_body(f.channel, json::serialize(*data));
    return client_frame{std::move(f)};
  }
  if (type == "ack") {
    ack f;
    auto err = get_count(obj, type, "seq", f.seq);
    return frame_or(std::move(err), f);
  }
  if (type == "pong") return client_frame{pong{}};
  if (type == "bye") return client_frame{bye{}};
  return fail(error_code::unknown_type, "unknown type \"" + std::string{echo(type)} + "\"");
}

namespace {

void append_quoted(std::string& out, std::string_view text) {
  out += json::serialize(json::string_view{text.data(), text.size()});
}

}  // namespace

std::string_view to_string(error_code code) {
  switch (code) {
    case error_code::bad_json:
      return "bad_json";
    case error_code::bad_frame:
      return "bad_frame";
    case error_code::unknown_type:
      return "unknown_type";
    case error_code::no_session:
      return "no_session";
    case error_code::bad_channel:
      return "bad_channel";
    case error_code::bad_cseq:
      return "bad_cseq";
    case error_code::binary_unsupported:
      return "binary_unsupported";
    case error_code::unauthorized:
      return "unauthorized";
    case error_code::rate_limited:
      return "rate_limited";
    case error_code::upstream_down:
      return "upstream_down";
    case error_code::forbidden:
      return "forbidden";
    case error_code::too_many_subscriptions:
      return "too_many_subscriptions";
    case error_code::too_many_channels:
      return "too_many_channels";
    case error_code::server_full:
      return "server_full";
    case error_code::text_unsupported:
      return "text_unsupported";
    case error_code::bad_msgpack:
      return "bad_msgpack";
    case error_code::too_many_members:
      return "too_many_members";
    case error_code::not_subscribed:
      return "not_subscribed";
  }
  return "bad_frame";
}

parse_result parse(std::string_view text) {
  // Parsed values die with this call: a monotonic arena is cheaper than the
  // default allocator for the many small nodes of one frame, and its first
  // block on the stack means a typical frame allocates nothing at all (its
  // default first block went to the heap: a 1 KiB+ malloc per frame that
  // made glibc consolidate its fast bins, 3 % of a fan-out profile). Nesting
  // is allowed deeper than boost::json's default of 32 because `data` is the
  // client's own document.
  unsigned char first_block[2048];
  json::monotonic_resource arena{first_block, sizeof first_block};
  json::parse_options options;
  options.max_depth = max_frame_depth;
  boost::system::error_code ec;
  auto value = json::parse(json::string_view{text.data(), text.size()}, ec, &arena, options);
  if (ec) return fail(error_code::bad_json, "not valid JSON: " + ec.message());
  if (!value.is_object()) return fail(error_code::bad_json, "a frame must be a JSON object");
  return parse_object(value.get_object());
}

std::string_view type_name(const client_frame& frame) {
  static constexpr std::array<std::string_view, std::variant_size_v<client_frame>> names{
      "hello", "resume", "subscribe", "unsubscribe", "publish", "ack", "pong", "bye", "presence"};
  return names[frame.index()];
}

// One definition of a channel name for the config, the server and the client.
bool valid_channel(std::string_view channel) { return is_channel_name(channel); }

std::string_view utf8_prefix(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text;
  auto end = max;
  // Back over continuation bytes (10xxxxxx) to the start of the character
  // that byte `max` belongs to.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

bool reserved_channel(std::string_view channel) { return channel.starts_with("sys."); }

bool finite_numbers(const json::value& value) {
  // Recursion is bounded by the parser's max_depth.
  switch (value.kind()) {
    case json::kind::double_:
      return std::isfinite(value.get_double());
    case json::kind::array:
      for (const auto& element : value.get_array())
        if (!finite_numbers(element)) return false;
      return true;
    case json::kind::object:
      for (const auto& member : value.get_object())
        if (!finite_numbers(member.value())) return false;
      return true;
    default:
      return true;
  }
}

std::string encode(const welcome& frame) {
  json::object obj;
  obj["type"] = "welcome";
  obj["session"] = frame.session;
  obj["token"] = frame.token;
  obj["resumed"] = frame.resumed;
  if (!frame.reason.empty()) obj["reason"] = frame.reason;
  obj["last_cseq"] = frame.last_cseq;
  obj["heartbeat_ms"] = frame.heartbeat.count();
  obj["resume_window_ms"] = frame.resume_window.count();
  if (frame.replay) obj["replay"] = *frame.replay;
  return json::serialize(obj);
}

std::string encode(const goaway& frame) {
  json::object obj;
  obj["type"] = "goaway";
  obj["reason"] = frame.reason;
  obj["retry_ms"] = frame.retry.count();
  if (!frame.url.empty()) obj["url"] = frame.url;
  return json::serialize(obj);
}

std::string encode_subscribed(std::string_view channel) {
  std::string out = R"({"type":"subscribed","channel":)";
  append_quoted(out, channel);
  out += '}';
  return out;
}

std::string encode_unsubscribed(std::string_view channel) {
  std::string out = R"({"type":"unsubscribed","channel":)";
  append_quoted(out, channel);
  out += '}';
  return out;
}

frame_text encode_ack(std::uint64_t cseq) {
  frame_text out{R"({"type":"ack","cseq":)"};
  out.append(cseq).append("}");
  return out;
}

std::string encode_ping() { return R"({"type":"ping"})"; }

std::string encode_error(error_code code, std::string_view message) {
  std::string out = R"({"type":"error","code":")";
  out += to_string(code);
  out += R"(","message":)";
  append_quoted(out, message);
  out += '}';
  return out;
}

std::string encode_error(error_code code, std::string_view message, std::uint64_t cseq) {
  auto out = encode_error(code, message);
  out.pop_back();
  out += R"(,"cseq":)" + std::to_string(cseq) + "}";
  return out;
}

shared_body encode_message_body(std::string_view channel, std::string_view data_json) {
  std::string out;
  out.reserve(channel.size() + data_json.size() + 24);
  out += R"("channel":)";
  append_quoted(out, channel);
  out += R"(,"data":)";
  out += data_json;
  out += '}';
  return std::make_shared<const std::string>(std::move(out));
}

frame_text encode_message_head(std::uint64_t seq) {
  frame_text out{R"({"type":"message","seq":)"};
  out.append(seq).append(",");
  return out;
}

std::string_view to_string(presence_state state) {
  switch (state) {
    case presence_state::online:
      return "online";
    case presence_state::away:
      return "away";
    case presence_state::gone:
      return "gone";
  }
  return "gone";
}

std::string presence_subject_json(std::string_view subject) {
  if (subject.empty()) return "null";
  std::string out;
  append_quoted(out, subject);
  return out;
}

shared_body encode_presence_body(std::string_view channel, std::string_view member,
                                 std::string_view subject_json, presence_state state) {
  // A member id is hex and a channel name needs no escaping: both are
  // written as they are, which read_presence_body relies on.
  std::string out;
  out.reserve(member.size() + channel.size() + subject_json.size() + 56);
  out.append(R"("member":")").append(member);
  out.append(R"(","channel":")").append(channel);
  out.append(R"(","subject":)").append(subject_json);
  out.append(R"(,"state":")").append(to_string(state)).append(R"("})");
  return std::make_shared<const std::string>(std::move(out));
}

std::optional<presence_fields> read_presence_body(std::string_view body) {
  constexpr std::string_view member_key = R"("member":")";
  constexpr std::string_view channel_key = R"(","channel":")";
  constexpr std::string_view subject_key = R"(","subject":)";
  constexpr std::string_view state_key = R"(,"state":")";
  if (!body.starts_with(member_key) || !body.ends_with(R"("})")) return std::nullopt;
  presence_fields f;
  auto at = member_key.size();
  auto end = body.find('"', at);
  if (end == std::string_view::npos) return std::nullopt;
  f.member = body.substr(at, end - at);
  if (body.substr(end, channel_key.size()) != channel_key) return std::nullopt;
  at = end + channel_key.size();
  end = body.find('"', at);
  if (end == std::string_view::npos) return std::nullopt;
  f.channel = body.substr(at, end - at);
  if (body.substr(end, subject_key.size()) != subject_key) return std::nullopt;
  at = end + subject_key.size();
  // The subject may hold anything; the state is the last field.
  auto state_at = body.rfind(state_key);
  if (state_at == std::string_view::npos || state_at < at) return std::nullopt;
  f.subject_json = body.substr(at, state_at - at);
  auto state = body.substr(state_at + state_key.size());
  state.remove_suffix(2);
  if (state == "online")
    f.state = presence_state::online;
  else if (state == "away")
    f.state = presence_state::away;
  else if (state == "gone")
    f.state = presence_state::gone;
  else
    return std::nullopt;
  return f;
}

frame_text encode_head(std::uint64_t seq, std::string_view body) {
  frame_text out{is_presence_body(body) ? std::string_view{R"({"type":"presence_event","seq":)"}
                                        : std::string_view{R"({"type":"message","seq":)"}};
  out.append(seq).append(",");
  return out;
}

std::string encode_presence_members(std::string_view channel, std::string_view members_json) {
  std::string out = R"({"type":"presence","channel":)";
  append_quoted(out, channel);
  out += R"(,"members":)";
  out += members_json;
  out += '}';
  return out;
}

std::string_view message_body_data(std::string_view body) {
  // `"channel":"NAME","data":DATA}`; a channel name needs no escaping, so the
  // first `","data":` ends it.
  constexpr std::string_view marker = R"(","data":)";
  auto at = body.find(marker);
  if (at == std::string_view::npos || body.empty()) return {};
  auto begin = at + marker.size();
  return body.substr(begin, body.size() - 1 - begin);
}

std::string upstream_text(std::string_view data_json) {
  if (data_json.empty() || data_json.front() != '"') return std::string{data_json};
  boost::system::error_code ec;
  auto value = json::parse(json::string_view{data_json.data(), data_json.size()}, ec);
  if (ec || !value.is_string()) return std::string{data_json};
  auto& s = value.get_string();
  return std::string{s.data(), s.size()};
}

std::string upstream_data(std::string_view text) {
  unsigned char first_block[2048];
  json::monotonic_resource arena{first_block, sizeof first_block};
  json::parse_options options;
  // As deep as a client's `data` may nest, so that the message frame carrying
  // it stays within max_frame_depth.
  options.max_depth = max_frame_depth - 1;
  boost::system::error_code ec;
  auto value = json::parse(json::string_view{text.data(), text.size()}, ec, &arena, options);
  if (!ec && finite_numbers(value)) return std::string{text};
  std::string out;
  append_quoted(out, text);
  return out;
}

}  // namespace wsvisor::proto
