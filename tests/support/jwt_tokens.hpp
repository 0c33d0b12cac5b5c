#pragma once

/// JSON Web Tokens for tests of [auth], signed with libjwt: the same library
/// the server verifies with, used here only to *make* tokens. Hand-made
/// tokens use wsvisor::base64url (actors/ids.hpp).

#include <jwt.h>

#include <string>

namespace wsvisor::test {

/// A compact JWT with `claims_json` (a JSON object) as its payload, signed
/// with `key` under `alg`. Throws std::runtime_error if libjwt refuses.
std::string make_jwt(const std::string& key, const std::string& claims_json,
                     jwt_alg_t alg = JWT_ALG_HS256);

}  // namespace wsvisor::test
