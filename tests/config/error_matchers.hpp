#pragma once

// Test helper: assert that a load result carries an error for a key, at a
// line, whose message contains some text.

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "config/loader.hpp"

namespace wsvisor::testing {

/// Every error, one per line, as a user would see it; for failure messages.
inline std::string all_errors(const load_result& r) {
  std::string out;
  for (const auto& e : r.errors) out += "  " + to_string(e, "test.toml") + "\n";
  return out.empty() ? "  (no errors)\n" : out;
}

/// Success if some error names `key` at `line` and its message contains
/// `text`.
inline ::testing::AssertionResult has_error(const load_result& r, std::string_view key, int line,
                                            std::string_view text = {}) {
  for (const auto& e : r.errors)
    if (e.key == key && e.line == line && e.message.find(text) != std::string::npos)
      return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "no error for key `" << key << "` at line " << line
                                       << " containing \"" << text << "\"; got:\n"
                                       << all_errors(r);
}

}  // namespace wsvisor::testing
