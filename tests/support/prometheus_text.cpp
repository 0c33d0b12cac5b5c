#include "tests/support/prometheus_text.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>

namespace wsvisor::test {

namespace {

std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    char c = s[++i];
    out += c == 'n' ? '\n' : c;
  }
  return out;
}

std::optional<double> number(std::string_view s) {
  if (s == "+Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  std::string copy{s};
  char* end = nullptr;
  double v = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size()) return std::nullopt;
  return v;
}

// name{labels} value: true if read.
bool read_sample(std::string_view line, prom_sample& out) {
  auto name_end = line.find_first_of("{ ");
  if (name_end == std::string_view::npos || name_end == 0) return false;
  out.name = std::string{line.substr(0, name_end)};
  auto pos = name_end;
  if (line[pos] == '{') {
    ++pos;
    while (pos < line.size() && line[pos] != '}') {
      auto eq = line.find('=', pos);
      if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"')
        return false;
      auto label = std::string{line.substr(pos, eq - pos)};
      std::string raw;
      auto i = eq + 2;
      for (; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) raw += line[i++];
        raw += line[i];
      }
      if (i >= line.size()) return false;
      out.labels[label] = unescape(raw);
      pos = i + 1;
      if (pos < line.size() && line[pos] == ',') ++pos;
    }
    if (pos >= line.size()) return false;
    ++pos;  // '}'
  }
  if (pos >= line.size() || line[pos] != ' ') return false;
  auto v = number(line.substr(pos + 1));
  if (!v) return false;
  out.value = *v;
  return true;
}

}  // namespace

std::optional<double> prom_text::value(std::string_view name,
                                       const std::map<std::string, std::string>& labels) const {
  for (const auto& s : samples)
    if (s.name == name && s.labels == labels) return s.value;
  return std::nullopt;
}

prom_text parse_prom_text(std::string_view text) {
  prom_text out;
  while (!text.empty()) {
    auto eol = text.find('\n');
    if (eol == std::string_view::npos) {
      out.errors.push_back("no newline after the last line");
      eol = text.size();
    }
    auto line = text.substr(0, eol);
    text.remove_prefix(std::min(eol + 1, text.size()));
    if (line.empty()) continue;
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      auto rest = line.substr(7);
      auto space = rest.find(' ');
      if (space == std::string_view::npos) {
        out.errors.emplace_back(line);
        continue;
      }
      auto name = std::string{rest.substr(0, space)};
      auto what = rest.substr(space + 1);
      if (line[2] == 'H')
        out.help[name] = unescape(what);
      else
        out.types[name] = std::string{what};
      continue;
    }
    if (line.starts_with("#")) continue;
    prom_sample s;
    if (read_sample(line, s))
      out.samples.push_back(std::move(s));
    else
      out.errors.emplace_back(line);
  }
  return out;
}

}  // namespace wsvisor::test
