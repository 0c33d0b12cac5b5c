#pragma once

/// Structured logging on top of spdlog. Every logger writes to stderr through
/// one formatter chosen by `[log] format`: `text` (one readable line) or
/// `json` (one object per line: time, level, logger, message, fields).
/// Thread-safe: loggers may be used from actors and I/O threads alike.
///
/// Events a client or a failing link can repeat without bound go through a
/// `throttle` (log/throttle.hpp) owned by whoever watches that client or
/// link: `if (auto r = log::admit(t)) log::warn(l, "...", {...}, *r);`.

#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/logger.h>

#include "config/config.hpp"
#include "log/throttle.hpp"

namespace wsvisor::log {

/// One key/value pair attached to a log event; the value is rendered with fmt.
struct field {
  template <class T>
  field(std::string_view k, const T& v) : key(k) {
    if constexpr (std::is_convertible_v<const T&, std::string_view>)
      value = std::string{std::string_view{v}};
    else
      value = fmt::format("{}", v);
  }
  std::string key;
  std::string value;
};

/// Applies `[log]` to every existing logger and to those created later.
void configure(const log_config& cfg);

/// The logger called `name`, created on first use with the configured sink,
/// formatter and level.
std::shared_ptr<spdlog::logger> get(const std::string& name);

/// `[log] repeat_interval` as last configured: the window a throttle's
/// admission opens.
std::chrono::milliseconds repeat_interval();

/// `t.admit` at the present time under the configured repeat_interval.
std::optional<repeats> admit(throttle& t);

/// Logs `message` with structured `fields` at `level`. With `r.suppressed`
/// above 0 the line also says what a throttle held back before it: " (412
/// suppressed in 10s)" after the message, and the fields `suppressed` and
/// `interval`.
void write(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
           std::initializer_list<field> fields = {}, repeats r = {});

using field_list = std::initializer_list<field>;

inline void debug(spdlog::logger& l, std::string_view m, field_list f = {}, repeats r = {}) {
  write(l, spdlog::level::debug, m, f, r);
}
inline void info(spdlog::logger& l, std::string_view m, field_list f = {}, repeats r = {}) {
  write(l, spdlog::level::info, m, f, r);
}
inline void warn(spdlog::logger& l, std::string_view m, field_list f = {}, repeats r = {}) {
  write(l, spdlog::level::warn, m, f, r);
}
inline void error(spdlog::logger& l, std::string_view m, field_list f = {}, repeats r = {}) {
  write(l, spdlog::level::err, m, f, r);
}

/// `tp` as UTC with milliseconds, e.g. "2026-11-26T07:41:02.512Z": the
/// timestamp of every log line, and of times the server reports.
std::string utc_timestamp(std::chrono::system_clock::time_point tp);

/// Renders one event as the configured format would (no trailing newline),
/// `r` as `write` adds it. Exposed for tests and for tools that print events
/// themselves.
std::string render(log_format format, std::string_view time, std::string_view level,
                   std::string_view logger, std::string_view message,
                   std::initializer_list<field> fields, repeats r = {});

}  // namespace wsvisor::log
