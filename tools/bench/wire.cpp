#include "tools/bench/wire.hpp"

#include <charconv>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "protocol/msgpack_codec.hpp"

namespace json = boost::json;

namespace wsbench {

std::optional<dialect> parse_dialect(std::string_view name) {
  if (name == "wsvisor") return dialect::wsvisor;
  if (name == "raw") return dialect::raw;
  if (name == "socketio") return dialect::socketio;
  return std::nullopt;
}

const char* to_string(dialect d) {
  switch (d) {
    case dialect::wsvisor:
      return "wsvisor";
    case dialect::raw:
      return "raw";
    case dialect::socketio:
      return "socketio";
  }
  return "?";
}

namespace {

template <class Int>
void append_number(std::string& out, Int v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

template <class Int>
bool read_number(std::string_view& in, Int& v) {
  auto [end, ec] = std::from_chars(in.data(), in.data() + in.size(), v);
  if (ec != std::errc{} || end == in.data() + in.size() || *end != ':') return false;
  in.remove_prefix(static_cast<std::size_t>(end - in.data()) + 1);
  return true;
}

std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

std::string string_field(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string{v->get_string()} : std::string{};
}

std::uint64_t uint_field(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
  return 0;
}

}  // namespace

std::optional<filler> parse_filler(std::string_view name) {
  if (name == "x") return filler::x;
  if (name == "ticks") return filler::ticks;
  return std::nullopt;
}

namespace {

/// Appends market-tick text until `out` holds `size` bytes (cut there).
/// No quote or backslash: the payload needs no JSON escaping.
void append_ticks(std::string& out, std::uint64_t k, std::size_t size) {
  static constexpr const char* symbols[] = {"ACME",  "GLOBEX", "INITECH", "UMBRELLA",
                                            "HOOLI", "STARK",  "WAYNE",   "WONKA"};
  std::uint64_t x = k * 0x9E3779B97F4A7C15ull + 1;  // splitmix64 over the message number
  auto next = [&x] {
    x += 0x9E3779B97F4A7C15ull;
    auto z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  auto price = [&](std::uint64_t cents) {
    append_number(out, cents / 100);
    out += '.';
    out += static_cast<char>('0' + cents / 10 % 10);
    out += static_cast<char>('0' + cents % 10);
  };
  while (out.size() < size) {
    auto cents = 1000 + next() % 49000;
    out += "symbol=";
    out += symbols[next() % 8];
    out += " exchange=XNAS ts=";
    append_number(out, 1765000000000ull + k * 37);
    out += " bid=";
    price(cents);
    out += 'x';
    append_number(out, 1 + next() % 900);
    out += " ask=";
    price(cents + 1 + next() % 9);
    out += 'x';
    append_number(out, 1 + next() % 900);
    out += " last=";
    price(cents);
    out += 'x';
    append_number(out, 1 + next() % 500);
    out += next() % 2 ? " buy" : " sell";
    out += " volume=";
    append_number(out, 10000 + next() % 8990000);
    out += " flags=regular,odd_lot; ";
  }
  out.resize(size);
}

}  // namespace

std::string make_payload(const stamp& s, std::size_t size, filler fill) {
  std::string out;
  out.reserve(size);
  append_number(out, s.src);
  out += ':';
  append_number(out, s.k);
  out += ':';
  append_number(out, s.t_ns);
  out += ':';
  if (out.size() >= size) return out;
  if (fill == filler::ticks)
    append_ticks(out, s.k, size);
  else
    out.append(size - out.size(), 'x');
  return out;
}

std::optional<stamp> parse_payload(std::string_view payload) {
  stamp s;
  if (!read_number(payload, s.src) || !read_number(payload, s.k) || !read_number(payload, s.t_ns))
    return std::nullopt;
  return s;
}

// ---- wsvisor.v1 ----------------------------------------------------------

std::string wsv_hello() { return R"({"type":"hello"})"; }

std::string wsv_resume(std::string_view session, std::string_view token, std::uint64_t last_seq) {
  std::string out = R"({"type":"resume","session":)" + quoted(session) + R"(,"token":)" +
                    quoted(token) + R"(,"last_seq":)";
  append_number(out, last_seq);
  out += '}';
  return out;
}

std::string wsv_subscribe(std::string_view channel) {
  return R"({"type":"subscribe","channel":)" + quoted(channel) + '}';
}

std::string wsv_publish(std::string_view channel, std::string_view payload, std::uint64_t cseq) {
  std::string out = R"({"type":"publish","channel":)" + quoted(channel) + R"(,"data":)" +
                    quoted(payload) + R"(,"cseq":)";
  append_number(out, cseq);
  out += '}';
  return out;
}

std::string wsv_ack(std::uint64_t seq) {
  std::string out = R"({"type":"ack","seq":)";
  append_number(out, seq);
  out += '}';
  return out;
}

std::string wsv_pong() { return R"({"type":"pong"})"; }
std::string wsv_bye() { return R"({"type":"bye"})"; }

namespace {

wsv_frame parse_wsv_object(const json::object& o) {
  wsv_frame f;
  auto type = string_field(o, "type");
  if (type == "message") {
    f.type = wsv_frame::message;
    f.seq = uint_field(o, "seq");
    f.data = string_field(o, "data");
  } else if (type == "ack") {
    f.type = wsv_frame::ack;
    f.cseq = uint_field(o, "cseq");
  } else if (type == "ping") {
    f.type = wsv_frame::ping;
  } else if (type == "welcome") {
    f.type = wsv_frame::welcome;
    f.session = string_field(o, "session");
    f.token = string_field(o, "token");
    auto* r = o.if_contains("resumed");
    f.resumed = r && r->is_bool() && r->get_bool();
    f.reason = string_field(o, "reason");
  } else if (type == "subscribed") {
    f.type = wsv_frame::subscribed;
  } else if (type == "error") {
    f.type = wsv_frame::error;
    f.reason = string_field(o, "code");
  } else if (type == "goaway") {
    f.type = wsv_frame::goaway;
    f.reason = string_field(o, "reason");
  }
  return f;
}

}  // namespace

wsv_frame parse_wsv(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return wsv_frame{.type = wsv_frame::malformed};
  return parse_wsv_object(v.get_object());
}

wsv_frame parse_wsv_msgpack(std::string_view bytes) {
  json::object o;
  std::string data_msgpack;  // the bench's data is a string: never set
  if (wsvisor::proto::decode_msgpack_map(bytes, o, data_msgpack))
    return wsv_frame{.type = wsv_frame::malformed};
  return parse_wsv_object(o);
}

std::string wsv_msgpack(std::string_view json_frame) {
  return wsvisor::proto::msgpack_frame(json_frame);
}

// ---- Engine.IO v4 / Socket.IO v5 -----------------------------------------

std::string sio_connect(std::string_view pid, std::string_view offset) {
  if (pid.empty()) return "40";
  return R"(40{"pid":)" + quoted(pid) + R"(,"offset":)" + quoted(offset) + '}';
}

std::string sio_event(std::string_view event, std::string_view payload) {
  return "42[" + quoted(event) + ',' + quoted(payload) + ']';
}

std::string sio_pong() { return "3"; }
std::string sio_disconnect() { return "41"; }

sio_frame parse_sio(std::string_view text) {
  sio_frame f;
  if (text.empty()) {
    f.type = sio_frame::malformed;
    return f;
  }
  auto parse_json = [&](std::string_view body) -> std::optional<json::value> {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec) return std::nullopt;
    return v;
  };
  switch (text[0]) {
    case '0': {  // Engine.IO open
      auto v = parse_json(text.substr(1));
      if (!v || !v->is_object()) break;
      f.type = sio_frame::open;
      f.sid = string_field(v->get_object(), "sid");
      return f;
    }
    case '2':  // Engine.IO ping (the server pings in v4)
      if (text.size() == 1) f.type = sio_frame::ping;
      return f;
    case '4': {  // Engine.IO message carrying a Socket.IO packet
      if (text.size() < 2) break;
      auto body = text.substr(2);
      if (text[1] == '0') {  // CONNECT reply: 40{"sid":..,"pid":..}
        auto v = parse_json(body);
        if (!v || !v->is_object()) break;
        f.type = sio_frame::connected;
        f.sid = string_field(v->get_object(), "sid");
        f.pid = string_field(v->get_object(), "pid");
        return f;
      }
      if (text[1] == '4') {
        f.type = sio_frame::connect_error;
        return f;
      }
      if (text[1] == '2') {  // EVENT: 42["name", args..., offset?]
        auto v = parse_json(body);
        if (!v || !v->is_array() || v->get_array().empty() || !v->get_array()[0].is_string()) break;
        const auto& a = v->get_array();
        f.type = sio_frame::emitted;
        f.event = a[0].get_string();
        if (a.size() >= 2 && a[1].is_string()) f.payload = a[1].get_string();
        if (a.size() >= 3 && a.back().is_string()) f.offset = a.back().get_string();
        return f;
      }
      return f;  // other Socket.IO packets: ignored
    }
    default:
      return f;
  }
  f.type = sio_frame::malformed;
  return f;
}

}  // namespace wsbench
