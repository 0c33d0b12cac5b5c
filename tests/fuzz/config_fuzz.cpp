// Fuzz target: the config loader, wsvisor::load_config_string
// (config/loader.hpp), with the checks it runs. The input is a TOML document;
// each of its lines that starts with "#--set " (a TOML comment, so the seeds
// stay plain config files) is also given as a --set override, KEY=VALUE.
// Beyond "never crashes": nothing escapes a reader as an exception, every
// error says something, and a config that loads prints with to_toml and
// loads back equal, printing the same text again.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.hpp"
#include "tests/fuzz/check.hpp"

namespace {

using namespace wsvisor;

constexpr std::string_view override_prefix = "#--set ";

// toml++ 3.3.0 (Debian 12's) reaches __builtin_unreachable() when it asks
// whether some non-ASCII characters are whitespace (marzer/tomlplusplus#190
// and #295, fixed after 3.3.0): its lookup table has no answer for the blocks
// of 0x3FA code points from U+00A0 numbered 0, 11 and 63 except for the
// three real whitespace characters in them. Inputs holding such a character
// are skipped; others with non-ASCII text ("€", CJK ideographs, emoji) are
// fuzzed as usual.
bool undefined_in_toml(char32_t c) {
  if (c <= 0xA0 || c >= 0xFEFF || c == 0x3000) return false;
  auto block = (c - 0xA0) / 0x3FA;
  return block == 0 || block == 11 || block == 63;
}

// Decodes 2- and 3-byte UTF-8 sequences leniently, so that a malformed one
// that toml++ would decode all the same is caught too.
bool reaches_toml_bug(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto byte = [&](std::size_t at) {
      return static_cast<char32_t>(static_cast<unsigned char>(text[at]));
    };
    auto lead = byte(i);
    char32_t c = 0;
    if (lead >= 0xC0 && lead < 0xE0 && i + 1 < text.size())
      c = ((lead & 0x1F) << 6) | (byte(i + 1) & 0x3F);
    else if (lead >= 0xE0 && lead < 0xF0 && i + 2 < text.size())
      c = ((lead & 0x0F) << 12) | ((byte(i + 1) & 0x3F) << 6) | (byte(i + 2) & 0x3F);
    if (undefined_in_toml(c)) return true;
  }
  return false;
}

std::vector<std::string> overrides_in(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    if (line.starts_with(override_prefix)) out.emplace_back(line.substr(override_prefix.size()));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  if (reaches_toml_bug(text)) return -1;  // not added to the corpus
  auto result = load_config_string(text, "fuzz.toml", overrides_in(text));
  for (const auto& error : result.errors) {
    FUZZ_CHECK(!error.message.empty());
    FUZZ_CHECK(error.line >= 0);
    // load() turns an exception from a reader into this error: a bug, or
    // std::bad_alloc, which libFuzzer's malloc limit reports first.
    FUZZ_CHECK(!error.message.starts_with("internal error"));
    FUZZ_CHECK(!to_string(error, "fuzz.toml").empty());
  }
  if (!result.ok()) return 0;
  auto printed = to_toml(result.cfg);
  auto again = load_config_string(printed);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again.cfg == result.cfg);
  FUZZ_CHECK(to_toml(again.cfg) == printed);
  return 0;
}
