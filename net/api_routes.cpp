#include "net/api_routes.hpp"

#include <algorithm>
#include <atomic>
#include <memory>

#include <boost/asio/ip/address.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "actors/protocol.hpp"

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
  auto text = json::serialize(json::string{channel.substr(0, max_shown_channel)});
  return channel.size() > max_shown_channel ? text + "..." : text;
}

// Shared by every copy of one publish_reply.
class reply_once {
 public:
  explicit reply_once(std::function<void(publish_outcome)> deliver)
      : deliver_(std::move(deliver)) {}
  reply_once(const reply_once&) = delete;
  reply_once& operator=(const reply_once&) = delete;
  ~reply_once() {
    answer({.error = "internal", .message = "the publish was dropped without an answer"});
  }

  void answer(publish_outcome outcome) {
    if (answered_.exchange(true, std::memory_order_acq_rel)) return;
    deliver_(std::move(outcome));
  }

 private:
  std::function<void(publish_outcome)> deliver_;
  std::atomic<bool> answered_{false};
};

}  // namespace

publish_reply make_publish_reply(std::function<void(publish_outcome)> deliver) {
  auto once = std::make_shared<reply_once>(std::move(deliver));
  return [once](publish_outcome outcome) { once->answer(std::move(outcome)); };
}

bool is_loopback_listen(std::string_view listen) {
  std::string host, port;
  if (!split_host_port(std::string{listen}, host, port)) return false;
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
  if (!is_post) {
    auto answer = error_answer(405, "method_not_allowed", "use POST");
    answer.allow_post = true;
    return answer;
  }
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

std::variant<publish_request, api_answer> parse_publish(std::string_view body) {
  // As deep as a client frame may nest.
  json::parse_options options;
  options.max_depth = proto::max_frame_depth;
  boost::system::error_code ec;
  auto value = json::parse(json::string_view{body.data(), body.size()}, ec, {}, options);
  if (ec) return error_answer(400, "bad_json", "the body is not valid JSON: " + ec.message());
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

api_answer body_too_large(std::uint64_t limit) {
  return error_answer(
      413, "too_large",
      "the body exceeds server.max_message_bytes (" + std::to_string(limit) + " bytes)");
}

}  // namespace wsvisor::net
