#pragma once

/// Text forms of the config's value types: durations ("250ms", "30s", "5m",
/// "1h"), byte sizes ("512B", "64KiB", "4MiB", "1GiB" or plain digits) and
/// the names of every enum in config/config.hpp. Parsers return `nullopt` for
/// anything they do not accept exactly (no spaces, signs, fractions, or values
/// that do not fit); formatters produce text the parsers accept. Pure
/// functions, safe from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace wsvisor {

/// Parses `<digits><unit>` with unit one of ms, s, m, h. Rejects "1.5s",
/// "10 s", "-1s", a missing unit and anything that overflows milliseconds.
std::optional<duration> parse_duration(std::string_view text);

/// The largest unit (h, m, s, ms) that divides `d` exactly: 30000ms → "30s",
/// 90000ms → "90s", 0 → "0ms".
std::string format_duration(duration d);

/// Parses plain digits (bytes) or `<digits><unit>` with unit one of B, KiB,
/// MiB, GiB, TiB (binary, case-sensitive). Rejects spaces, signs, fractions,
/// decimal units ("KB") and anything that overflows 64 bits.
std::optional<std::uint64_t> parse_size(std::string_view text);

/// The largest binary unit that divides `bytes` exactly ("64KiB", "4MiB"),
/// else the plain number ("1000"); 0 → "0".
std::string format_size(std::uint64_t bytes);

/// Enum names exactly as written in the config file.
std::string_view to_string(restart_kind value);
std::string_view to_string(strategy_kind value);
std::string_view to_string(jitter_kind value);
std::string_view to_string(give_up_action value);
std::string_view to_string(log_format value);
std::string_view to_string(log_level value);
std::string_view to_string(actor_scheduler value);
std::string_view to_string(tls_version value);

/// Inverse of `to_string`; case-sensitive, `nullopt` for any other text.
std::optional<restart_kind> parse_restart_kind(std::string_view text);
std::optional<strategy_kind> parse_strategy_kind(std::string_view text);
std::optional<jitter_kind> parse_jitter_kind(std::string_view text);
std::optional<give_up_action> parse_give_up_action(std::string_view text);
std::optional<log_format> parse_log_format(std::string_view text);
std::optional<log_level> parse_log_level(std::string_view text);
std::optional<actor_scheduler> parse_actor_scheduler(std::string_view text);
std::optional<tls_version> parse_tls_version(std::string_view text);

}  // namespace wsvisor
