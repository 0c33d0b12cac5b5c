#pragma once

/// The wsvisor command line:
///   wsvisor [--config FILE] [--set KEY=VALUE]... [--check-config [FILE]]
///           [--version] [--help]
/// Parsing only; the caller loads the config (config/loader.hpp) and acts on
/// the flags. Never throws; safe from any thread.

#include <optional>
#include <string>
#include <vector>

namespace wsvisor {

struct cli_options {
  std::optional<std::string> config_file;  // --config FILE, -c FILE, --check-config FILE
  std::vector<std::string> overrides;      // each --set KEY=VALUE, in order, unchecked
  bool check_config = false;               // print the effective config, or the errors, and exit
  bool show_version = false;
  bool show_help = false;
};

struct cli_result {
  cli_options options;
  std::string error;  // one line naming the offending argument, without a "try --help"
                      // hint (the caller adds its own); empty when ok
  bool ok() const { return error.empty(); }
};

/// Accepts `--config FILE`, `--config=FILE`, `-c FILE`, `--set K=V`,
/// `--set=K=V`, `--check-config [FILE]` (a following argument not starting
/// with '-' is the file), `--check-config=FILE`, `--version`, `--help`, `-h`.
/// Unknown options, stray arguments, a missing argument and a second config
/// file are errors. `argv[0]` is the program name and is skipped. The KEY=VALUE
/// form of --set is checked by the loader, which names the key.
cli_result parse_cli(int argc, const char* const* argv);

/// The --help text, ending in a newline.
std::string usage_text();

}  // namespace wsvisor
