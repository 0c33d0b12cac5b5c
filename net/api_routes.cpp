#include "net/api_routes.hpp"

#include "config/checks.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <memory>

#include <boost/asio/ip/address.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/params_encoded_view.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/pct_string_view.hpp>

#include "protocol/codec.hpp"
#include "protocol/msgpack_codec.hpp"

namespace wsvisor::net {

namespace json = boost::json;

namespace {

// Channel names in messages are cut here: a megabyte of junk in a request
// must not become a megabyte of answer and log line.
constexpr std::size_t max_shown_channel = 140;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

api_answer error_answer(unsigned status, std::string_view code, std::string_view message) {
  json::object body;
  body["error"] = code;
  body["message"] = message;
  return {.status = status, .body = json::serialize(body)};
}

std::string shown_channel(std::string_view channel) {
  auto text = json::serialize(json::string{proto::utf8_prefix(channel, max_shown_channel)});
  return channel.size() > max_shown_channel ? text + "..." : text;
}

// Shared by every copy of one reply: the first answer wins, and the last
// copy destroyed unanswered sends `dropped`.
template <class Outcome>
class reply_once {
 public:
  reply_once(std::function<void(Outcome)> deliver, Outcome dropped)
      : deliver_(std::move(deliver)), dropped_(std::move(dropped)) {}
  reply_once(const reply_once&) = delete;
  reply_once& operator=(const reply_once&) = delete;
  ~reply_once() { answer(std::move(dropped_)); }

  void answer(Outcome outcome) {
    if (answered_.exchange(true, std::memory_order_acq_rel)) return;
    deliver_(std::move(outcome));
  }

 private:
  std::function<void(Outcome)> deliver_;
  Outcome dropped_;
  std::atomic<bool> answered_{false};
};

template <class Outcome>
std::function<void(Outcome)> make_reply(std::function<void(Outcome)> deliver, Outcome dropped) {
  auto once = std::make_shared<reply_once<Outcome>>(std::move(deliver), std::move(dropped));
  return [once](Outcome outcome) { once->answer(std::move(outcome)); };
}

}  // namespace

publish_reply make_publish_reply(std::function<void(publish_outcome)> deliver) {
  return make_reply<publish_outcome>(
      std::move(deliver),
      {.error = "internal", .message = "the publish was dropped without an answer"});
}

admin_reply make_admin_reply(std::function<void(admin_outcome)> deliver) {
  return make_reply<admin_outcome>(
      std::move(deliver),
      {.status = 500, .error = "internal", .message = "the request was dropped without an answer"});
}

bool is_loopback_listen(std::string_view listen) {
  auto parsed = parse_host_port(listen);
  if (!parsed) return false;
  const auto& host = parsed->host;
  if (iequals(host, "localhost")) return true;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  if (ec) return false;
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  return address.is_loopback();
}

bool bearer_matches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view scheme = "bearer";
  if (token.empty() || authorization.size() <= scheme.size() ||
      !iequals(authorization.substr(0, scheme.size()), scheme) ||
      authorization[scheme.size()] != ' ')
    return false;
  auto given = authorization.substr(scheme.size());
  given.remove_prefix(std::min(given.find_first_not_of(' '), given.size()));
  // Every byte of `token` is looked at whatever `given` holds, so the time
  // taken tells nothing about how much of a guess was right.
  unsigned char difference = given.size() == token.size() ? 0 : 1;
  for (std::size_t i = 0; i < token.size(); ++i) {
    auto g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    difference |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(token[i]));
  }
  return difference == 0;
}

std::optional<api_answer> check_publish_access(bool is_post, std::string_view authorization,
                                               std::string_view token, bool loopback) {
  if (!is_post) return api_method_not_allowed("POST");
  return check_api_access(authorization, token, loopback);
}

std::optional<api_answer> check_api_access(std::string_view authorization, std::string_view token,
                                           bool loopback) {
  if (token.empty()) {
    if (loopback) return std::nullopt;
    return error_answer(403, "api_disabled",
                        "the HTTP API needs [api] token when server.listen is not a loopback "
                        "address");
  }
  if (bearer_matches(authorization, token)) return std::nullopt;
  auto answer =
      error_answer(401, "unauthorized", "send the [api] token as \"Authorization: Bearer TOKEN\"");
  answer.challenge = true;
  return answer;
}

bool is_msgpack_type(std::string_view content_type) {
  auto media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  auto same = [media](std::string_view want) {
    return media.size() == want.size() &&
           std::equal(media.begin(), media.end(), want.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  };
  return same("application/msgpack") || same("application/x-msgpack");
}

std::variant<publish_request, api_answer> parse_publish(std::string_view body,
                                                        std::string_view content_type) {
  json::value value;
  std::string data_msgpack;
  if (is_msgpack_type(content_type)) {
    value = json::object{};
    if (auto why = proto::decode_msgpack_map(body, value.get_object(), data_msgpack))
      return error_answer(400, "bad_msgpack", "the body is " + *why);
  } else {
    // As deep as a client frame may nest.
    json::parse_options options;
    options.max_depth = proto::max_frame_depth;
    boost::system::error_code ec;
    value = json::parse(json::string_view{body.data(), body.size()}, ec, {}, options);
    if (ec) return error_answer(400, "bad_json", "the body is not valid JSON: " + ec.message());
  }
  const auto* object = value.if_object();
  if (!object) return error_answer(400, "bad_json", "the body must be a JSON object");
  const auto* channel = object->if_contains("channel");
  if (!channel) return error_answer(400, "bad_request", "missing \"channel\"");
  if (!channel->is_string())
    return error_answer(400, "bad_request", "\"channel\" must be a string");
  const auto* data = object->if_contains("data");
  if (!data) return error_answer(400, "bad_request", "missing \"data\"");
  auto name = std::string_view{channel->get_string()};
  if (!proto::valid_channel(name))
    return error_answer(400, "bad_channel",
                        "invalid channel " + shown_channel(name) +
                            ": channel names match ^[A-Za-z0-9_.:-]{1,128}$");
  // sys.* channels carry the server's own news (sys.upstream.NAME); a
  // client must not be able to forge it.
  if (name.starts_with("sys."))
    return error_answer(
        400, "bad_channel",
        "channel " + shown_channel(name) + " is reserved: sys.* channels are the server's own");
  if (!data_msgpack.empty())
    return publish_request{
        .channel = std::string{name}, .data_json = "null", .data_msgpack = std::move(data_msgpack)};
  if (!proto::finite_numbers(*data))
    return error_answer(400, "bad_request", "\"data\" holds a number beyond the range of a double");
  return publish_request{.channel = std::string{name}, .data_json = json::serialize(*data)};
}

api_answer answer_publish(const publish_outcome& outcome) {
  if (!outcome.error.empty()) {
    bool unavailable = outcome.error == "upstream_down" || outcome.error == "timeout";
    return error_answer(unavailable ? 503 : 500, outcome.error, outcome.message);
  }
  json::object body;
  body["sessions"] = outcome.sessions;
  if (!outcome.upstream.empty()) body["upstream"] = outcome.upstream;
  return {.status = 200, .body = json::serialize(body)};
}

namespace {

constexpr std::string_view sessions_path = "/api/sessions";
// Session ids and channel names are at most this long; a longer cursor is
// refused rather than carried.
constexpr std::size_t max_cursor = 256;

bool valid_id(std::string_view id) {
  return !id.empty() && id.size() <= max_cursor && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '-';
  });
}

// True iff `method` is one of the ", "-separated methods in `allow`.
bool listed(std::string_view allow, std::string_view method) {
  while (!allow.empty()) {
    auto comma = allow.find(", ");
    if (allow.substr(0, comma) == method) return true;
    allow = comma == std::string_view::npos ? std::string_view{} : allow.substr(comma + 2);
  }
  return false;
}

// Reads `limit`, `after`, `scope` and (with `states`) `state` from a query;
// other parameters are ignored. Returns the 400 answer for a bad value.
std::optional<api_answer> read_query(std::string_view query, admin_request& req, bool states) {
  if (query.empty()) return std::nullopt;
  // Boost.URL 1.81's parse_query reads its argument up to a NUL (strlen):
  // the query is a view into the HTTP parser's buffer, so it gets a copy.
  const std::string terminated{query};
  auto params = boost::urls::parse_query(terminated);
  if (!params) return error_answer(400, "bad_request", "malformed query (a bad %-escape?)");
  // application/x-www-form-urlencoded: '+' is a space.
  boost::urls::encoding_opts form{true};
  for (auto param : *params) {
    auto key = param.key.decode(form);
    auto value = param.value.decode(form);
    if (key == "limit") {
      std::uint64_t n = 0;
      bool digits =
          !value.empty() && value.size() <= 4 &&
          std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (digits) n = std::stoull(value);
      if (!digits || n < 1 || n > admin_max_limit)
        return error_answer(400, "bad_request",
                            "limit must be 1 to " + std::to_string(admin_max_limit));
      req.limit = n;
    } else if (key == "after") {
      if (value.size() > max_cursor)
        return error_answer(400, "bad_request",
                            "after is longer than " + std::to_string(max_cursor) + " characters");
      req.after = std::move(value);
    } else if (key == "scope") {
      if (value != "node" && value != "cluster")
        return error_answer(400, "bad_request", "scope must be node or cluster");
      req.cluster_scope = value == "cluster";
    } else if (key == "state" && states) {
      if (value != "attached" && value != "detached")
        return error_answer(400, "bad_request", "state must be attached or detached");
      req.state = std::move(value);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> percent_decoded(std::string_view text, bool plus_is_space) {
  const std::string terminated{text};  // as in read_query: Boost.URL 1.81 reads up to a NUL
  auto pct = boost::urls::make_pct_string_view(terminated);
  if (!pct) return std::nullopt;
  return pct->decode(boost::urls::encoding_opts{plus_is_space});
}

bool is_admin_path(std::string_view path) {
  return path == sessions_path || path.starts_with("/api/sessions/") ||
         path == "/api/supervision" || path == "/api/channels" || path == "/api/cluster";
}

std::variant<admin_request, api_answer> route_admin(std::string_view method,
                                                    std::string_view target,
                                                    std::string_view authorization,
                                                    std::string_view token, bool loopback) {
  auto question = target.find('?');
  auto path = target.substr(0, question);
  auto query =
      question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  admin_request req;
  std::string_view allow = "GET";
  bool paged = true, states = false;
  if (path == sessions_path) {
    req.what = admin_request::kind::list_sessions;
    states = true;
  } else if (path == "/api/supervision") {
    req.what = admin_request::kind::supervision;
    paged = false;
  } else if (path == "/api/channels") {
    req.what = admin_request::kind::channels;
  } else if (path == "/api/cluster") {
    req.what = admin_request::kind::cluster;
    paged = false;
  } else {
    // /api/sessions/ID or /api/sessions/ID/disconnect
    auto rest = path.substr(sessions_path.size() + 1);
    auto slash = rest.find('/');
    auto id = rest.substr(0, slash);
    auto action = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (!valid_id(id) || (slash != std::string_view::npos && action != "disconnect"))
      return api_not_found();
    req.id = std::string{id};
    paged = false;
    if (action == "disconnect") {
      allow = "POST";
      req.what = admin_request::kind::disconnect_session;
    } else {
      allow = "GET, DELETE";
      req.what =
          method == "DELETE" ? admin_request::kind::end_session : admin_request::kind::get_session;
    }
  }
  if (!listed(allow, method)) return api_method_not_allowed(allow);
  if (auto refusal = check_api_access(authorization, token, loopback)) return *refusal;
  if (paged)
    if (auto bad = read_query(query, req, states)) return *bad;
  return req;
}

api_answer answer_admin(const admin_outcome& outcome) {
  if (!outcome.error.empty()) return error_answer(outcome.status, outcome.error, outcome.message);
  return {.status = outcome.status, .body = outcome.body};
}

api_answer body_too_large(std::uint64_t limit) {
  return error_answer(
      413, "too_large",
      "the body exceeds server.max_message_bytes (" + std::to_string(limit) + " bytes)");
}

bool is_api_path(std::string_view path) {
  return path == "/api" || path.starts_with("/api/") || path == metrics_path;
}

api_answer api_not_found() { return error_answer(404, "not_found", "no such API path"); }

api_answer api_method_not_allowed(std::string_view allow) {
  auto answer = error_answer(405, "method_not_allowed", "use " + std::string{allow});
  answer.allow = allow;
  return answer;
}

api_answer body_not_taken() {
  return error_answer(413, "too_large", "this route takes no request body");
}

}  // namespace wsvisor::net
