#pragma once

/// The chaos-proxy command line and the commands it reads on stdin while it
/// runs (README.md next to this file; `usage_text` lists both). Parsing and
/// applying only; never throws.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tools/chaos-proxy/chaos_proxy.hpp"

namespace wsvisor::chaos {

/// What the command line asks for, faults by direction (index 0: c2s, 1: s2c).
struct cli_plan {
  proxy_options proxy;                                     // --listen, --target, --chunk
  std::uint64_t seed = 1;                                  // --seed
  std::optional<std::pair<duration, duration>> cut_every;  // --cut-every MIN..MAX
  std::optional<truncation> truncate;            // --truncate: cut_every truncates instead
  std::vector<duration> cut_at;                  // --cut-at T,T,...
  std::optional<std::uint64_t> cut_after_bytes;  // --cut-after-bytes N
  std::array<duration, 2> delay{};               // --delay DIR:D
  std::array<std::uint64_t, 2> throttle{};       // --throttle DIR:RATE
  std::array<bool, 2> stall{};                   // --stall DIR
  bool help = false;                             // --help, -h
};

struct cli_result {
  cli_plan plan;
  std::string error;  // one line naming the option and the bad input; empty when ok
  bool ok() const { return error.empty(); }
};

/// Accepts `--option VALUE` and `--option=VALUE`; `argv[0]` is skipped.
/// --listen and --target are required (unless --help); an unknown option,
/// a stray argument, a missing or malformed value, and --truncate without
/// --cut-every are errors.
cli_result parse_cli(int argc, const char* const* argv);

/// The --help text, ending in a newline.
std::string usage_text();

/// Puts the plan's faults in force on `proxy` (the schedules start now).
void apply(const cli_plan& plan, chaos_proxy& proxy);

/// Runs one command line read on stdin (`stall c2s`, `cut`, `stats`, ...)
/// and returns the reply: "ok", the stats, or "error: ..." naming the bad
/// input. An empty line answers "".
std::string run_command(chaos_proxy& proxy, std::string_view line);

/// `accepted=3 active=1 cuts=2 truncations=0 c2s=IN/OUT s2c=IN/OUT` (bytes
/// received/forwarded per direction).
std::string format_stats(const proxy_stats& s);

}  // namespace wsvisor::chaos
