#include "actors/session/jwt_auth.hpp"

#include <cstdlib>
#include <utility>

#include <jwt.h>
#include <boost/json.hpp>

namespace wsvisor {

namespace json = boost::json;

namespace {

// A NumericDate claim as seconds; nullopt when absent. `bad` is set when it
// is present but not a number.
std::optional<double> numeric_date(const json::object& claims, std::string_view name, bool& bad) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  const auto& v = it->value();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  bad = true;
  return std::nullopt;
}

bool audience_matches(const json::value& aud, std::string_view want) {
  if (aud.is_string()) return aud.get_string() == want;
  if (aud.is_array())
    for (const auto& entry : aud.get_array())
      if (entry.is_string() && entry.get_string() == want) return true;
  return false;
}

struct jwt_deleter {
  void operator()(jwt_t* p) const { jwt_free(p); }
};

}  // namespace

bool channel_matches(std::string_view pattern, std::string_view channel) {
  // Glob matching with `*` only, backtracking to the last star: linear in
  // practice, O(n*m) at worst, with n and m at most 128 (channel names).
  std::size_t p = 0, c = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (c < channel.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = c;
    } else if (p < pattern.size() && pattern[p] == channel[c]) {
      ++p;
      ++c;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      c = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool channel_allowed(const client_identity& who, std::string_view channel) {
  if (!who.restricted) return true;
  for (const auto& pattern : who.channels)
    if (channel_matches(pattern, channel)) return true;
  return false;
}

jwt_verifier::jwt_verifier(std::string key, std::string audience)
    : key_(std::move(key)), audience_(std::move(audience)) {}

jwt_result jwt_verifier::verify(std::string_view token,
                                std::chrono::system_clock::time_point now) const {
  if (token.empty()) return {std::nullopt, "no token: hello.auth must carry a JWT"};
  if (token.find('\0') != std::string_view::npos) return {std::nullopt, "malformed token"};
  std::string text{token};
  jwt_t* raw = nullptr;
  // With a key, libjwt verifies the signature of the algorithm the header
  // names; the header is checked against HS256 below, after decoding.
  int rc = jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key_.data()),
                      static_cast<int>(key_.size()));
  std::unique_ptr<jwt_t, jwt_deleter> jwt{raw};
  if (rc != 0 || !jwt) return {std::nullopt, "invalid token (malformed or bad signature)"};
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256)
    return {std::nullopt, "invalid token: only alg HS256 is accepted"};
  std::unique_ptr<char, decltype(&std::free)> grants{jwt_get_grants_json(jwt.get(), nullptr),
                                                     &std::free};
  if (!grants) return {std::nullopt, "invalid token: no claims"};
  boost::system::error_code ec;
  auto parsed = json::parse(grants.get(), ec);
  if (ec || !parsed.is_object()) return {std::nullopt, "invalid token: claims are not an object"};
  const auto& claims = parsed.get_object();

  auto seconds = std::chrono::duration<double>(now.time_since_epoch()).count();
  bool bad = false;
  auto exp = numeric_date(claims, "exp", bad);
  auto nbf = numeric_date(claims, "nbf", bad);
  if (bad) return {std::nullopt, "invalid token: exp and nbf must be numbers"};
  if (exp && seconds >= *exp) return {std::nullopt, "token expired"};
  if (nbf && seconds < *nbf) return {std::nullopt, "token not valid yet (nbf)"};
  if (!audience_.empty()) {
    auto aud = claims.find("aud");
    if (aud == claims.end() || !audience_matches(aud->value(), audience_))
      return {std::nullopt, "token audience does not match"};
  }

  client_identity who{.verified = true, .restricted = true};
  if (auto sub = claims.find("sub"); sub != claims.end()) {
    if (!sub->value().is_string()) return {std::nullopt, "invalid token: sub must be a string"};
    who.subject = std::string{sub->value().get_string()};
  }
  if (auto channels = claims.find("channels"); channels != claims.end()) {
    if (!channels->value().is_array())
      return {std::nullopt, "invalid token: channels must be an array of patterns"};
    for (const auto& pattern : channels->value().get_array()) {
      if (!pattern.is_string())
        return {std::nullopt, "invalid token: channels must be an array of patterns"};
      who.channels.emplace_back(pattern.get_string());
    }
  }
  return {std::move(who), {}};
}

}  // namespace wsvisor
