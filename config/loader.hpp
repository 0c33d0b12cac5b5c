#pragma once

/// Loading and validating the TOML configuration (docs/configuration.md).
/// Every key is optional; missing keys keep the built-in default. Loading
/// never stops at the first problem and never throws: it returns the config
/// it could build together with every error it found. A config is usable
/// only if `ok()`; with errors, `cfg` is a best effort for diagnostics.
/// Thread-safe: no shared state.

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace wsvisor {

/// One problem with the configuration.
struct config_error {
  std::string key;  // full key path: "session.resume_window", "upstream[1].url"; may be empty
  int line = 0;     // 1-based line in the file; 0: no line (a --set override, an unreadable file)
  std::string message;
};

/// One line for a human:
///   with a line:           "wsvisor.toml:3: session.resume_window: expected ..."
///   from --set (line 0):   "--set session.resume_window: expected ..."
///   no key and no line:    the message alone (it names the file itself).
/// `source` is the file name to print; empty prints "line 3: ...".
std::string to_string(const config_error& error, std::string_view source = {});

struct load_result {
  config cfg;
  std::vector<config_error> errors;  // file errors by line, then --set errors in order
  bool ok() const { return errors.empty(); }
};

/// Parses `toml_text`, then applies `overrides` (each "KEY=VALUE", as given
/// to --set) on top and validates the result. `source_name` names the text
/// in toml++'s diagnostics only; errors carry lines, not names.
///
/// An override's KEY is a dotted path ("session.resume_window",
/// "policies.fast.backoff_min"); its VALUE is read as a TOML value if it is
/// one (3, true, ["a:1"]), else as a plain string (5s, 127.0.0.1:0, json).
/// Overrides are validated like file values and reported with line 0 and
/// their key. They may create policies but cannot reach into [[upstream]].
load_result load_config_string(std::string_view toml_text,
                               std::string_view source_name = "<string>",
                               const std::vector<std::string>& overrides = {});

/// As `load_config_string` on the file's contents. An unreadable file gives
/// one error whose message names `path`.
load_result load_config_file(const std::string& path,
                             const std::vector<std::string>& overrides = {});

/// No file: the built-in defaults with `overrides` applied and validated.
load_result load_config_defaults(const std::vector<std::string>& overrides = {});

/// The config as TOML with every key: durations and sizes as strings ("30s",
/// "4MiB"), each policy as [policies.NAME], upstreams as [[upstream]]. For a
/// valid `cfg`, `load_config_string(to_toml(cfg)).cfg == cfg`.
std::string to_toml(const config& cfg);

}  // namespace wsvisor
