#include "actors/ids.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

namespace wsvisor {
namespace {

template <std::size_t N>
std::array<unsigned char, N> random_bytes() {
  std::array<unsigned char, N> out{};
  // A weak id or token would make sessions guessable: no fallback to a
  // non-cryptographic generator.
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1)
    throw std::runtime_error("RAND_bytes failed: no secure randomness");
  return out;
}

}  // namespace

std::string new_session_id() {
  static constexpr char digits[] = "0123456789abcdef";
  auto bytes = random_bytes<16>();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0x0f];
  }
  return out;
}

std::string member_of(std::string_view session_id) {
  static constexpr char digits[] = "0123456789abcdef";
  static constexpr std::string_view prefix = "wsvisor.member:";
  std::string input;
  input.reserve(prefix.size() + session_id.size());
  input.append(prefix).append(session_id);
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  std::string out;
  out.reserve(24);
  for (std::size_t i = 0; i < 12; ++i) {
    out += digits[digest[i] >> 4];
    out += digits[digest[i] & 0x0f];
  }
  return out;
}

std::string new_token() {
  auto bytes = random_bytes<32>();
  return base64url({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

std::string base64url(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  auto at = [&bytes](std::size_t k) { return std::uint32_t{static_cast<unsigned char>(bytes[k])}; };
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t n = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  // One or two bytes left over: two or three characters, unpadded.
  if (auto left = bytes.size() - i; left > 0) {
    std::uint32_t n = (at(i) << 16) | (left == 2 ? at(i + 1) << 8 : 0);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    if (left == 2) out += alphabet[(n >> 6) & 63];
  }
  return out;
}

bool token_equal(std::string_view a, std::string_view b) {
  // The length is public (all tokens are 43 characters); only the content
  // must be compared without an early exit.
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::uint64_t new_origin() {
  std::uint64_t out = 0;
  do {
    auto bytes = random_bytes<8>();
    for (auto b : bytes) out = (out << 8) | b;
  } while (out == 0);
  return out;
}

}  // namespace wsvisor
