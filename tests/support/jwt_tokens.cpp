#include "tests/support/jwt_tokens.hpp"

#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace wsvisor::test {

std::string make_jwt(const std::string& key, const std::string& claims_json, jwt_alg_t alg) {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) throw std::runtime_error{"jwt_new failed"};
  std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt{raw, &jwt_free};
  if (jwt_add_grants_json(jwt.get(), claims_json.c_str()) != 0)
    throw std::runtime_error{"jwt_add_grants_json refused " + claims_json};
  if (jwt_set_alg(jwt.get(), alg, reinterpret_cast<const unsigned char*>(key.data()),
                  static_cast<int>(key.size())) != 0)
    throw std::runtime_error{"jwt_set_alg failed"};
  std::unique_ptr<char, decltype(&std::free)> text{jwt_encode_str(jwt.get()), &std::free};
  if (!text) throw std::runtime_error{"jwt_encode_str failed"};
  return text.get();
}

}  // namespace wsvisor::test
