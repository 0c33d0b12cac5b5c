#pragma once

/// Client authentication (`[auth]`, docs/security.md): verifies the HS256 JSON
/// Web Token a client sends in `hello.auth`, and matches channels against the
/// patterns of its `channels` claim.
///
/// The signature is checked by Debian's libjwt (jwt_decode with the key);
/// only `alg: HS256` is accepted, whatever the key would verify, so `none`
/// and other algorithms are refused. The claims are then checked here:
/// `exp` and `nbf` (NumericDate, seconds; a token is valid while
/// nbf <= now < exp, both optional), `aud` (when an audience is configured:
/// a string equal to it or an array containing it), `sub` (optional string:
/// the session's subject), `channels` (optional array of channel patterns;
/// absent: no channel is allowed).
///
/// Thread-safe: `verify` is const and keeps no state.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace wsvisor {

/// Who a session belongs to and which channels it may use. A session of a
/// node without `[auth]` is unrestricted.
struct client_identity {
  bool verified = false;              // from a valid token
  bool restricted = false;            // false: every channel is allowed
  std::string subject;                // the token's `sub` (may be empty)
  std::vector<std::string> channels;  // patterns: `*` matches any run of characters
  bool operator==(const client_identity&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_identity& x) {
  return f(caf::meta::type_name("client_identity"), x.verified, x.restricted, x.subject,
           x.channels);
}

/// True when `channel` matches `pattern`: every character stands for itself
/// except `*`, which matches any run of characters (also none). So `*`
/// matches every channel, `chat.*` every channel starting with "chat.", and
/// `user.42` only itself.
bool channel_matches(std::string_view pattern, std::string_view channel);

/// May `who` use `channel` (subscribe to it or publish on it)?
bool channel_allowed(const client_identity& who, std::string_view channel);

struct jwt_result {
  std::optional<client_identity> identity;  // set when the token is valid
  std::string error;                        // otherwise why not, for the client and the log
};

class jwt_verifier {
 public:
  /// `key`: the HMAC key (auth.secret or what secret_file/secret_env hold).
  /// `audience`: required `aud` when not empty.
  jwt_verifier(std::string key, std::string audience);

  jwt_result verify(std::string_view token, std::chrono::system_clock::time_point now) const;

 private:
  std::string key_;
  std::string audience_;
};

}  // namespace wsvisor
