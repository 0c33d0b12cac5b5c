#include "config/units.hpp"

#include <array>
#include <cstddef>
#include <limits>
#include <utility>

namespace wsvisor {

namespace {

struct unit {
  std::string_view suffix;
  std::uint64_t factor;
};

// Longest suffix first where one suffix ends another ("ms" before "s").
constexpr std::array<unit, 4> duration_units{{
    {"ms", 1},
    {"s", 1'000},
    {"m", 60'000},
    {"h", 3'600'000},
}};

constexpr std::array<unit, 5> size_units{{
    {"KiB", std::uint64_t{1} << 10},
    {"MiB", std::uint64_t{1} << 20},
    {"GiB", std::uint64_t{1} << 30},
    {"TiB", std::uint64_t{1} << 40},
    {"B", 1},
}};

// Digits only, at least one; nullopt on overflow. Written out rather than
// std::from_chars so that the rules (no sign, no spaces, reject instead of
// wrap) are visible in one place.
std::optional<std::uint64_t> parse_digits(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t limit) {
  if (b != 0 && a > limit / b) return std::nullopt;
  return a * b;
}

template <class Enum, std::size_t N>
using name_table = std::array<std::pair<Enum, std::string_view>, N>;

constexpr name_table<restart_kind, 3> restart_names{{
    {restart_kind::permanent, "permanent"},
    {restart_kind::transient, "transient"},
    {restart_kind::temporary, "temporary"},
}};
constexpr name_table<strategy_kind, 3> strategy_names{{
    {strategy_kind::one_for_one, "one_for_one"},
    {strategy_kind::one_for_all, "one_for_all"},
    {strategy_kind::rest_for_one, "rest_for_one"},
}};
constexpr name_table<jitter_kind, 4> jitter_names{{
    {jitter_kind::none, "none"},
    {jitter_kind::full, "full"},
    {jitter_kind::equal, "equal"},
    {jitter_kind::decorrelated, "decorrelated"},
}};
constexpr name_table<give_up_action, 2> give_up_names{{
    {give_up_action::escalate, "escalate"},
    {give_up_action::stop, "stop"},
}};
constexpr name_table<log_format, 2> format_names{{
    {log_format::text, "text"},
    {log_format::json, "json"},
}};
constexpr name_table<actor_scheduler, 4> scheduler_names{{
    {actor_scheduler::io, "io"},
    {actor_scheduler::automatic, "auto"},
    {actor_scheduler::stealing, "stealing"},
    {actor_scheduler::sharing, "sharing"},
}};
constexpr name_table<tls_version, 2> tls_version_names{{
    {tls_version::v1_2, "1.2"},
    {tls_version::v1_3, "1.3"},
}};
constexpr name_table<log_level, 7> level_names{{
    {log_level::trace, "trace"},
    {log_level::debug, "debug"},
    {log_level::info, "info"},
    {log_level::warn, "warn"},
    {log_level::error, "error"},
    {log_level::critical, "critical"},
    {log_level::off, "off"},
}};

template <class Enum, std::size_t N>
std::string_view name_of(const name_table<Enum, N>& table, Enum value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  // Only reachable with a value cast from an out-of-range integer.
  return "?";
}

template <class Enum, std::size_t N>
std::optional<Enum> value_of(const name_table<Enum, N>& table, std::string_view text) {
  for (const auto& [v, name] : table)
    if (name == text) return v;
  return std::nullopt;
}

}  // namespace

std::optional<duration> parse_duration(std::string_view text) {
  constexpr auto max_ms = static_cast<std::uint64_t>(std::numeric_limits<duration::rep>::max());
  for (const auto& u : duration_units) {
    if (!text.ends_with(u.suffix)) continue;
    auto number = parse_digits(text.substr(0, text.size() - u.suffix.size()));
    // "5ms" also ends with "s"; the "ms" entry comes first, and a failed
    // number here ("5m" + "s") must not fall through to the "s" entry.
    if (!number) return std::nullopt;
    auto ms = checked_mul(*number, u.factor, max_ms);
    if (!ms) return std::nullopt;
    return duration{static_cast<duration::rep>(*ms)};
  }
  return std::nullopt;
}

std::string format_duration(duration d) {
  auto count = d.count();
  if (count == 0) return "0ms";
  for (auto it = duration_units.rbegin(); it != duration_units.rend(); ++it) {
    auto factor = static_cast<duration::rep>(it->factor);
    if (count % factor == 0) return std::to_string(count / factor) + std::string{it->suffix};
  }
  return std::to_string(count) + "ms";  // unreachable: ms divides everything
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  if (!text.empty() && text.back() >= '0' && text.back() <= '9') return parse_digits(text);
  for (const auto& u : size_units) {
    if (!text.ends_with(u.suffix)) continue;
    auto number = parse_digits(text.substr(0, text.size() - u.suffix.size()));
    if (!number) return std::nullopt;
    return checked_mul(*number, u.factor, std::numeric_limits<std::uint64_t>::max());
  }
  return std::nullopt;
}

std::string format_size(std::uint64_t bytes) {
  if (bytes == 0) return "0";
  // Largest unit first (TiB is size_units[3]); "B" is never chosen because
  // plain digits say the same.
  for (std::size_t i = 4; i-- > 0;) {
    const auto& u = size_units[i];
    if (bytes % u.factor == 0) return std::to_string(bytes / u.factor) + std::string{u.suffix};
  }
  return std::to_string(bytes);
}

std::string_view to_string(restart_kind value) { return name_of(restart_names, value); }
std::string_view to_string(strategy_kind value) { return name_of(strategy_names, value); }
std::string_view to_string(jitter_kind value) { return name_of(jitter_names, value); }
std::string_view to_string(give_up_action value) { return name_of(give_up_names, value); }
std::string_view to_string(log_format value) { return name_of(format_names, value); }
std::string_view to_string(log_level value) { return name_of(level_names, value); }
std::string_view to_string(actor_scheduler value) { return name_of(scheduler_names, value); }
std::string_view to_string(tls_version value) { return name_of(tls_version_names, value); }

std::optional<restart_kind> parse_restart_kind(std::string_view text) {
  return value_of(restart_names, text);
}
std::optional<strategy_kind> parse_strategy_kind(std::string_view text) {
  return value_of(strategy_names, text);
}
std::optional<jitter_kind> parse_jitter_kind(std::string_view text) {
  return value_of(jitter_names, text);
}
std::optional<give_up_action> parse_give_up_action(std::string_view text) {
  return value_of(give_up_names, text);
}
std::optional<log_format> parse_log_format(std::string_view text) {
  return value_of(format_names, text);
}
std::optional<log_level> parse_log_level(std::string_view text) {
  return value_of(level_names, text);
}
std::optional<actor_scheduler> parse_actor_scheduler(std::string_view text) {
  return value_of(scheduler_names, text);
}
std::optional<tls_version> parse_tls_version(std::string_view text) {
  return value_of(tls_version_names, text);
}

}  // namespace wsvisor
