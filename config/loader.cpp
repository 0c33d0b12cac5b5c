#include "config/loader.hpp"

#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "config/checks.hpp"
#include "config/reader.hpp"

namespace wsvisor {

namespace {

std::string_view trim(std::string_view text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

bool is_dotted_key(std::string_view key) {
  std::size_t start = 0;
  while (true) {
    auto dot = key.find('.', start);
    if (!is_bare_key(key.substr(start, dot == std::string_view::npos ? dot : dot - start)))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// An override becomes the one-line document `KEY = VALUE`, so that it is read
// by exactly the code that reads the file and gets the same messages. VALUE
// is TOML if it parses as TOML, else a string: `5s` and `127.0.0.1:0` are
// not TOML, and making users quote them on a shell command line is a trap.
void apply_override(detail::reader& r, const std::string& text, config& cfg) {
  auto eq = text.find('=');
  if (eq == std::string::npos) {
    r.add_error({text, 0, "expected KEY=VALUE"});
    return;
  }
  auto key = std::string{trim(std::string_view{text}.substr(0, eq))};
  auto value = std::string{trim(std::string_view{text}.substr(eq + 1))};
  if (key.empty()) {
    r.add_error({text, 0, "empty key; expected KEY=VALUE"});
    return;
  }
  if (key == "upstream" || key.starts_with("upstream.") || key.starts_with("upstream[")) {
    r.add_error({key, 0, "[[upstream]] entries cannot be set with --set; edit the config file"});
    return;
  }
  if (!is_dotted_key(key)) {
    r.add_error({key, 0, "expected a dotted key like session.resume_window"});
    return;
  }
  std::optional<toml::table> doc;
  // A newline would let VALUE smuggle in further keys.
  if (value.find_first_of("\r\n") == std::string::npos) {
    try {
      auto line = key + " = " + value;
      doc = toml::parse(std::string_view{line}, std::string_view{"--set"});
    } catch (const toml::parse_error&) {
      // Not a TOML value: read it as a string below.
    }
  }
  if (!doc) {
    try {
      auto line = key + " = " + quote(value);
      doc = toml::parse(std::string_view{line}, std::string_view{"--set"});
    } catch (const toml::parse_error& e) {
      r.add_error({key, 0, "cannot read the value: " + std::string{e.description()}});
      return;
    }
  }
  r.set_source({.from_override = true, .override_key = key, .override_raw = value});
  detail::read_document(r, *doc, cfg);
  r.set_source({});
}

load_result load(const std::string_view* toml_text, std::string_view source_name,
                 const std::vector<std::string>& overrides) {
  load_result result;
  // Nothing may escape the public API; std::bad_alloc is the realistic case.
  try {
    detail::reader r;
    if (toml_text) {
      try {
        auto root = toml::parse(*toml_text, source_name);
        detail::read_document(r, root, result.cfg);
      } catch (const toml::parse_error& e) {
        // toml++ stops at the first syntax error; the overrides below are
        // still checked so that one run reports as much as it can.
        r.add_error({"", static_cast<int>(e.source().begin.line), std::string{e.description()}});
      }
    }
    for (const auto& o : overrides) apply_override(r, o, result.cfg);
    detail::check_consistency(r, result.cfg);
    result.errors = r.take_errors();
  } catch (const std::exception& e) {
    result.errors.push_back(
        {"", 0, std::string{"internal error while loading the config: "} + e.what()});
  }
  return result;
}

}  // namespace

std::string to_string(const config_error& error, std::string_view source) {
  std::string out;
  if (error.line > 0) {
    out = source.empty() ? "line " + std::to_string(error.line)
                         : std::string{source} + ":" + std::to_string(error.line);
    out += ": ";
  } else if (!error.key.empty()) {
    out = "--set ";
  }
  if (!error.key.empty()) out += error.key + ": ";
  return out + error.message;
}

load_result load_config_string(std::string_view toml_text, std::string_view source_name,
                               const std::vector<std::string>& overrides) {
  return load(&toml_text, source_name, overrides);
}

load_result load_config_file(const std::string& path, const std::vector<std::string>& overrides) {
  std::string contents;
  std::string problem;
  try {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      problem = "is a directory";
    } else {
      errno = 0;
      std::ifstream in{path, std::ios::binary};
      if (!in) {
        problem = errno != 0 ? std::strerror(errno) : "cannot open";
      } else {
        std::ostringstream buffer;
        buffer << in.rdbuf();
        if (in.bad()) problem = "read error";
        contents = std::move(buffer).str();
      }
    }
  } catch (const std::exception& e) {
    problem = e.what();
  }
  if (!problem.empty()) {
    load_result result;
    result.errors.push_back({"", 0, "cannot read config file \"" + path + "\": " + problem});
    return result;
  }
  return load_config_string(contents, path, overrides);
}

load_result load_config_defaults(const std::vector<std::string>& overrides) {
  return load(nullptr, {}, overrides);
}

}  // namespace wsvisor
