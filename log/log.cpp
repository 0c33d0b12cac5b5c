#include "log/log.hpp"

#include <atomic>
#include <mutex>
#include <vector>

#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "config/units.hpp"

namespace wsvisor::log {
namespace {

// Fields travel inside the spdlog payload, separated by ASCII unit and record
// separators, so that one custom formatter can render them as text or JSON.
// Both bytes are stripped from caller input, so they cannot be forged.
constexpr char field_sep = '\x1f';
constexpr char value_sep = '\x1e';

void append_clean(std::string& out, std::string_view s) {
  for (char c : s) out.push_back(c == field_sep || c == value_sep ? '?' : c);
}

// Appends `s` as a JSON string body: control characters escaped and invalid
// UTF-8 replaced by U+FFFD, so a hostile value cannot break a log shipper.
void append_json_escaped(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20)
            out += fmt::format("\\u{:04x}", c);
          else
            out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    std::size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    bool ok = len > 0 && c < 0xF5 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  append_json_escaped(out, s);
  out.push_back('"');
}

// A text value is quoted when it would otherwise be ambiguous to read back.
void append_text_value(std::string& out, std::string_view v) {
  bool plain = !v.empty() && v.find_first_of(" \t\n\r\"=") == std::string_view::npos;
  if (plain) {
    out.append(v);
    return;
  }
  append_json_string(out, v);
}

// What a throttle held back, as the line states it: after the message, and
// as two fields for whoever reads the log as data.
std::string repeats_note(const repeats& r) {
  return fmt::format(" ({} suppressed in {})", r.suppressed, format_duration(r.interval));
}

struct parsed_payload {
  std::string_view message;
  std::vector<std::pair<std::string_view, std::string_view>> fields;
};

parsed_payload split_payload(std::string_view payload) {
  parsed_payload p;
  auto pos = payload.find(field_sep);
  p.message = payload.substr(0, pos);
  while (pos != std::string_view::npos) {
    auto next = payload.find(field_sep, pos + 1);
    auto item = payload.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1);
    auto eq = item.find(value_sep);
    if (eq != std::string_view::npos)
      p.fields.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    pos = next;
  }
  return p;
}

std::string render_parsed(log_format format, std::string_view time, std::string_view level,
                          std::string_view logger, const parsed_payload& p) {
  std::string out;
  if (format == log_format::json) {
    out += "{\"time\":";
    append_json_string(out, time);
    out += ",\"level\":";
    append_json_string(out, level);
    out += ",\"logger\":";
    append_json_string(out, logger);
    out += ",\"message\":";
    append_json_string(out, p.message);
    out += ",\"fields\":{";
    bool first = true;
    for (auto& [k, v] : p.fields) {
      if (!first) out.push_back(',');
      first = false;
      append_json_string(out, k);
      out.push_back(':');
      append_json_string(out, v);
    }
    out += "}}";
    return out;
  }
  out += time;
  out += ' ';
  out += level;
  out += " [";
  out += logger;
  out += "] ";
  out += p.message;
  for (auto& [k, v] : p.fields) {
    out.push_back(' ');
    out.append(k);
    out.push_back('=');
    append_text_value(out, v);
  }
  return out;
}

class event_formatter final : public spdlog::formatter {
 public:
  explicit event_formatter(log_format format) : format_(format) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto level = spdlog::level::to_string_view(msg.level);
    auto line = render_parsed(format_, utc_timestamp(msg.time),
                              std::string_view{level.data(), level.size()},
                              std::string_view{msg.logger_name.data(), msg.logger_name.size()},
                              split_payload({msg.payload.data(), msg.payload.size()}));
    line.push_back('\n');
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<event_formatter>(format_);
  }

 private:
  log_format format_;
};

spdlog::level::level_enum to_spdlog(log_level level) {
  switch (level) {
    case log_level::trace:
      return spdlog::level::trace;
    case log_level::debug:
      return spdlog::level::debug;
    case log_level::info:
      return spdlog::level::info;
    case log_level::warn:
      return spdlog::level::warn;
    case log_level::error:
      return spdlog::level::err;
    case log_level::critical:
      return spdlog::level::critical;
    case log_level::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

struct registry_state {
  registry_state() { sink->set_formatter(std::make_unique<event_formatter>(cfg.format)); }
  std::mutex mtx;
  spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  log_config cfg;
};

// Read on every throttled event, from any thread: an atomic, not cfg (which
// the mutex guards).
std::atomic<std::int64_t> configured_repeat_interval{log_config{}.repeat_interval.count()};

registry_state& state() {
  static registry_state s;
  return s;
}

}  // namespace

void configure(const log_config& cfg) {
  auto& s = state();
  std::lock_guard guard{s.mtx};
  s.cfg = cfg;
  configured_repeat_interval.store(cfg.repeat_interval.count(), std::memory_order_relaxed);
  s.sink->set_formatter(std::make_unique<event_formatter>(cfg.format));
  spdlog::set_level(to_spdlog(cfg.level));
  spdlog::flush_on(spdlog::level::warn);
}

std::shared_ptr<spdlog::logger> get(const std::string& name) {
  auto& s = state();
  std::lock_guard guard{s.mtx};
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, s.sink);
  logger->set_level(to_spdlog(s.cfg.level));
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

std::chrono::milliseconds repeat_interval() {
  return std::chrono::milliseconds{configured_repeat_interval.load(std::memory_order_relaxed)};
}

std::optional<repeats> admit(throttle& t) {
  return t.admit(std::chrono::steady_clock::now(), repeat_interval());
}

void write(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
           std::initializer_list<field> fields, repeats r) {
  if (!logger.should_log(level)) return;
  std::string payload;
  append_clean(payload, message);
  if (r.suppressed > 0) payload += repeats_note(r);
  auto append_field = [&payload](std::string_view key, std::string_view value) {
    payload.push_back(field_sep);
    append_clean(payload, key);
    payload.push_back(value_sep);
    append_clean(payload, value);
  };
  for (auto& f : fields) append_field(f.key, f.value);
  if (r.suppressed > 0) {
    append_field("suppressed", std::to_string(r.suppressed));
    append_field("interval", format_duration(r.interval));
  }
  logger.log(level, "{}", payload);
}

std::string render(log_format format, std::string_view time, std::string_view level,
                   std::string_view logger, std::string_view message,
                   std::initializer_list<field> fields, repeats r) {
  std::string noted{message};
  std::string suppressed = std::to_string(r.suppressed);
  std::string interval = format_duration(r.interval);
  if (r.suppressed > 0) noted += repeats_note(r);
  parsed_payload p{noted, {}};
  for (auto& f : fields) p.fields.emplace_back(f.key, f.value);
  if (r.suppressed > 0) {
    p.fields.emplace_back("suppressed", suppressed);
    p.fields.emplace_back("interval", interval);
  }
  return render_parsed(format, time, level, logger, p);
}

std::string utc_timestamp(std::chrono::system_clock::time_point tp) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

}  // namespace wsvisor::log
