#include "protocol/client_frames.hpp"

#include "protocol/codec.hpp"
#include "protocol/msgpack_codec.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace wsvisor::detail {

namespace json = boost::json;

namespace {

std::string frame(json::object obj) { return json::serialize(obj); }

// Field readers: false means "missing or of the wrong type".
bool read(const json::object& o, std::string_view key, std::string& out) {
  auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return false;
  out = std::string{v->get_string()};
  return true;
}

bool read(const json::object& o, std::string_view key, std::uint64_t& out) {
  auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) return false;
  json::error_code ec;
  out = v->to_number<std::uint64_t>(ec);  // rejects negatives and fractions
  return !ec;
}

bool read(const json::object& o, std::string_view key, bool& out) {
  auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_bool()) return false;
  out = v->get_bool();
  return true;
}

bool decode_fields(const json::object& o, server_frame& f, std::string& missing) {
  auto need = [&](bool ok, const char* name) {
    if (!ok && missing.empty()) missing = name;
    return ok;
  };
  switch (f.kind) {
    case server_frame_kind::welcome:
      // `reason` is optional (only on resumed: false); heartbeat and window
      // are required so that the client never guesses them.
      if (auto* r = o.if_contains("reason"); r != nullptr && r->is_string())
        f.reason = std::string{r->get_string()};
      return need(read(o, "session", f.session), "session") &&
             need(read(o, "token", f.token), "token") &&
             need(read(o, "resumed", f.resumed), "resumed") &&
             need(read(o, "last_cseq", f.last_cseq), "last_cseq") &&
             need(read(o, "heartbeat_ms", f.heartbeat_ms), "heartbeat_ms") &&
             need(read(o, "resume_window_ms", f.resume_window_ms), "resume_window_ms");
    case server_frame_kind::subscribed:
    case server_frame_kind::unsubscribed:
      return need(read(o, "channel", f.channel), "channel");
    case server_frame_kind::message: {
      auto* data = o.if_contains("data");
      if (auto* packed = o.if_contains("data_msgpack");
          data == nullptr && packed != nullptr && packed->is_string()) {
        const auto& text = packed->get_string();
        auto raw = proto::base64_decode(std::string_view{text.data(), text.size()});
        if (!need(raw && !raw->empty(), "data_msgpack")) return false;
        f.data_msgpack = std::move(*raw);
        return need(read(o, "seq", f.seq), "seq") && need(read(o, "channel", f.channel), "channel");
      }
      if (!need(data != nullptr && proto::finite_numbers(*data), "data")) return false;
      f.data = json::serialize(*data);
      return need(read(o, "seq", f.seq), "seq") && need(read(o, "channel", f.channel), "channel");
    }
    case server_frame_kind::presence_event:
      read(o, "subject", f.subject);  // null: empty
      return need(read(o, "seq", f.seq), "seq") && need(read(o, "channel", f.channel), "channel") &&
             need(read(o, "member", f.member), "member") &&
             need(read(o, "state", f.state), "state");
    case server_frame_kind::presence: {
      auto* members = o.if_contains("members");
      if (!need(members != nullptr && members->is_array(), "members")) return false;
      for (auto& m : members->get_array()) {
        if (!need(m.is_object(), "members")) return false;
        server_frame::member_row row;
        read(m.get_object(), "subject", row.subject);
        if (!need(read(m.get_object(), "member", row.member), "members") ||
            !need(read(m.get_object(), "state", row.state), "members"))
          return false;
        f.members.push_back(std::move(row));
      }
      return need(read(o, "channel", f.channel), "channel");
    }
    case server_frame_kind::ack:
      return need(read(o, "cseq", f.cseq), "cseq");
    case server_frame_kind::error:
      // Only the code matters to the client; a missing message is tolerated.
      read(o, "message", f.message);
      read(o, "cseq", f.cseq);  // only on an error about one publish (upstream_down)
      return need(read(o, "code", f.code), "code");
    case server_frame_kind::goaway: {
      read(o, "reason", f.reason);
      std::string url;
      if (read(o, "url", url)) f.url = std::move(url);
      return need(read(o, "retry_ms", f.retry_ms), "retry_ms");
    }
    case server_frame_kind::ping:
    case server_frame_kind::unknown:
      return true;
  }
  return true;
}

server_frame_kind kind_of(std::string_view type) {
  if (type == "welcome") return server_frame_kind::welcome;
  if (type == "subscribed") return server_frame_kind::subscribed;
  if (type == "unsubscribed") return server_frame_kind::unsubscribed;
  if (type == "message") return server_frame_kind::message;
  if (type == "presence_event") return server_frame_kind::presence_event;
  if (type == "presence") return server_frame_kind::presence;
  if (type == "ack") return server_frame_kind::ack;
  if (type == "ping") return server_frame_kind::ping;
  if (type == "error") return server_frame_kind::error;
  if (type == "goaway") return server_frame_kind::goaway;
  return server_frame_kind::unknown;
}

}  // namespace

std::string encode_hello(const std::optional<std::string>& auth) {
  json::object o{{"type", "hello"}};
  if (auth) o["auth"] = *auth;
  return frame(std::move(o));
}

std::string encode_resume(const std::string& session, const std::string& token,
                          std::uint64_t last_seq) {
  return frame(
      {{"type", "resume"}, {"session", session}, {"token", token}, {"last_seq", last_seq}});
}

std::string encode_subscribe(const std::string& channel, bool presence) {
  json::object o{{"type", "subscribe"}, {"channel", channel}};
  if (presence) o["presence"] = true;
  return frame(std::move(o));
}

std::string encode_presence(const std::string& channel) {
  return frame({{"type", "presence"}, {"channel", channel}});
}

std::string encode_unsubscribe(const std::string& channel) {
  return frame({{"type", "unsubscribe"}, {"channel", channel}});
}

std::string encode_publish(const std::string& channel, std::uint64_t cseq,
                           const std::string& json_data) {
  // Spliced rather than re-serialised: the data was validated once when it
  // was published and may be resent many times.
  std::string out = R"({"type":"publish","channel":)";
  out += json::serialize(json::string{channel});
  out += R"(,"cseq":)";
  out += std::to_string(cseq);
  out += R"(,"data":)";
  out += json_data;
  out += '}';
  return out;
}

std::string encode_ack(std::uint64_t seq) { return frame({{"type", "ack"}, {"seq", seq}}); }

std::string encode_pong() { return R"({"type":"pong"})"; }

std::string encode_bye() { return R"({"type":"bye"})"; }

bool is_valid_channel(std::string_view channel) { return proto::valid_channel(channel); }

bool is_json_value(std::string_view text) {
  // What the server accepts as a publish's `data`.
  json::parse_options options;
  options.max_depth = proto::max_frame_depth - 1;
  json::error_code ec;
  auto value = json::parse(text, ec, {}, options);
  return !ec && proto::finite_numbers(value);
}

std::optional<server_frame> decode_server_frame(std::string_view text, std::string& error) {
  // boost::json's default depth (32) is below what the server sends: a
  // message frame nests as deep as its data, which a publisher chose.
  json::parse_options options;
  options.max_depth = proto::max_frame_depth;
  json::error_code ec;
  auto value = json::parse(text, ec, {}, options);
  if (ec || !value.is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  const auto& o = value.get_object();
  server_frame f;
  if (!read(o, "type", f.type)) {
    error = "no string field `type`";
    return std::nullopt;
  }
  f.kind = kind_of(f.type);
  std::string missing;
  if (!decode_fields(o, f, missing)) {
    error = f.type + ": field `" + missing + "` missing or of the wrong type";
    return std::nullopt;
  }
  return f;
}

}  // namespace wsvisor::detail
