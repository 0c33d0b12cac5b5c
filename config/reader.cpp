#include "config/reader.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "config/checks.hpp"
#include "config/units.hpp"

namespace wsvisor::detail {

namespace {

bool is_scalar(const toml::node& node) { return !node.is_table() && !node.is_array(); }

std::string show_bytes(std::uint64_t bytes) {
  auto text = format_size(bytes);
  return text.back() >= '0' && text.back() <= '9' ? text + " bytes" : text;
}

std::string range_text(const std::string& min, const std::string& max, bool bounded_above) {
  return bounded_above ? "must be between " + min + " and " + max : "must be at least " + min;
}

}  // namespace

std::string describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return quote(node.as_string()->get());
    case toml::node_type::integer:
      return "integer " + std::to_string(node.as_integer()->get());
    case toml::node_type::floating_point:
      return "float " + format_float(node.as_floating_point()->get());
    case toml::node_type::boolean:
      return node.as_boolean()->get() ? "true" : "false";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date/time";
  }
}

int reader::line_of(const toml::node& node) const {
  if (source_.from_override) return 0;
  return static_cast<int>(node.source().begin.line);
}

void reader::fail(const std::string& path, const toml::node* node, std::string message) {
  errors_.push_back({path, node ? line_of(*node) : 0, std::move(message)});
  failed_.insert(path);
}

void reader::mark_set(const std::string& path, const toml::node& node) {
  set_at_[path] = line_of(node);
}

void reader::succeeded(const std::string& path, const toml::node& node) {
  mark_set(path, node);
  failed_.erase(path);
}

bool reader::is_override_leaf(const std::string& path, const toml::node& node) const {
  return source_.from_override && path == source_.override_key && is_scalar(node);
}

std::optional<std::string> reader::text_of(const std::string& path, const toml::node& node) const {
  if (auto s = node.as_string()) return s->get();
  // `--set cluster.node=7` parses as an integer; the user meant the text.
  if (is_override_leaf(path, node)) return source_.override_raw;
  return std::nullopt;
}

void reader::expected(const std::string& path, const toml::node& node, std::string_view what,
                      bool as_text) {
  auto got = as_text && is_override_leaf(path, node) ? quote(source_.override_raw) : describe(node);
  fail(path, &node, "expected " + std::string{what} + ", got " + got);
}

void reader::read_table(const std::string& path, const toml::node& node,
                        const std::vector<field>& fields) {
  const auto* table = node.as_table();
  if (!table) {
    expected(path, node, "a table");
    return;
  }
  for (auto&& [key, value] : *table) {
    auto name = key.str();
    auto child = path.empty() ? std::string{name} : path + "." + std::string{name};
    auto it =
        std::find_if(fields.begin(), fields.end(), [&](const field& f) { return f.name == name; });
    if (it != fields.end()) {
      it->read(child, value);
      continue;
    }
    std::vector<std::string_view> names;
    for (const auto& f : fields) names.push_back(f.name);
    auto what = path.empty() && value.is_table() ? std::string{"unknown table"}
                                                 : std::string{"unknown key"};
    std::string message;
    if (auto guess = suggest(name, names))
      message = what + "; did you mean `" + *guess + "`?";
    else
      message = what + " (expected one of: " + join(names, ", ") + ")";
    int line = source_.from_override ? 0 : static_cast<int>(key.source().begin.line);
    if (line == 0) line = line_of(value);
    errors_.push_back({child, line, std::move(message)});
  }
}

void reader::read_duration(const std::string& path, const toml::node& node, duration& out,
                           duration min, duration max) {
  auto text = text_of(path, node);
  std::optional<duration> value;
  if (text) value = parse_duration(*text);
  if (!value) {
    expected(path, node, "a duration like \"30s\"", true);
    return;
  }
  if (*value < min || *value > max) {
    fail(path, &node,
         "must be between " + format_duration(min) + " and " + format_duration(max) + ", got " +
             quote(*text));
    return;
  }
  out = *value;
  succeeded(path, node);
}

void reader::read_size(const std::string& path, const toml::node& node, std::uint64_t& out,
                       std::uint64_t min, std::uint64_t max) {
  std::optional<std::uint64_t> value;
  std::string shown;
  if (auto i = node.as_integer()) {
    if (i->get() < 0) {
      fail(path, &node, "must not be negative, got " + std::to_string(i->get()));
      return;
    }
    value = static_cast<std::uint64_t>(i->get());
    shown = std::to_string(i->get());
  } else if (auto text = text_of(path, node)) {
    value = parse_size(*text);
    shown = quote(*text);
  }
  if (!value) {
    expected(path, node, "a size like \"64KiB\" or a number of bytes", true);
    return;
  }
  if (*value < min || *value > max) {
    bool bounded = max != std::numeric_limits<std::uint64_t>::max();
    fail(path, &node, range_text(show_bytes(min), show_bytes(max), bounded) + ", got " + shown);
    return;
  }
  out = *value;
  succeeded(path, node);
}

void reader::read_integer(const std::string& path, const toml::node& node, std::int64_t& out,
                          std::int64_t min, std::int64_t max) {
  const auto* i = node.as_integer();
  if (!i) {
    expected(path, node, "an integer");
    return;
  }
  auto value = i->get();
  if (value < min || value > max) {
    bool bounded = max != std::numeric_limits<std::int64_t>::max();
    fail(path, &node,
         range_text(std::to_string(min), std::to_string(max), bounded) + ", got " +
             std::to_string(value));
    return;
  }
  out = value;
  succeeded(path, node);
}

void reader::read_double(const std::string& path, const toml::node& node, double& out, double min,
                         double max) {
  // An integer is a fine number here: `backoff_multiplier = 2` means 2.0.
  std::optional<double> value;
  if (auto f = node.as_floating_point()) value = f->get();
  if (auto i = node.as_integer()) value = static_cast<double>(i->get());
  if (!value) {
    expected(path, node, "a number");
    return;
  }
  // Written so that NaN fails too.
  if (!(*value >= min && *value <= max)) {
    fail(path, &node,
         "must be between " + format_float(min) + " and " + format_float(max) + ", got " +
             format_float(*value));
    return;
  }
  out = *value;
  succeeded(path, node);
}

void reader::read_bool(const std::string& path, const toml::node& node, bool& out) {
  const auto* b = node.as_boolean();
  if (!b) {
    expected(path, node, "true or false");
    return;
  }
  out = b->get();
  succeeded(path, node);
}

void reader::read_string(const std::string& path, const toml::node& node, std::string& out,
                         const std::function<bool(std::string_view)>& valid,
                         std::string_view expectation) {
  auto text = text_of(path, node);
  if (!text) {
    expected(path, node, "a string");
    return;
  }
  if (valid && !valid(*text)) {
    fail(path, &node, std::string{expectation} + ", got " + quote(*text));
    return;
  }
  out = std::move(*text);
  succeeded(path, node);
}

void reader::read_checked_string(const std::string& path, const toml::node& node, std::string& out,
                                 const std::function<std::string(const std::string&)>& check) {
  auto text = text_of(path, node);
  if (!text) {
    expected(path, node, "a string");
    return;
  }
  if (auto problem = check(*text); !problem.empty()) {
    fail(path, &node, std::move(problem));
    return;
  }
  out = std::move(*text);
  succeeded(path, node);
}

void reader::read_string_array(const std::string& path, const toml::node& node,
                               std::vector<std::string>& out,
                               const std::function<bool(std::string_view)>& valid,
                               std::string_view expectation) {
  const auto* array = node.as_array();
  if (!array) {
    expected(path, node, "an array of strings");
    return;
  }
  std::vector<std::string> values;
  bool all_ok = true;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const auto& element = *array->get(i);
    auto element_path = path + "[" + std::to_string(i) + "]";
    const auto* s = element.as_string();
    if (!s) {
      expected(element_path, element, "a string");
      all_ok = false;
    } else if (valid && !valid(s->get())) {
      fail(element_path, &element, std::string{expectation} + ", got " + quote(s->get()));
      all_ok = false;
    } else {
      values.push_back(s->get());
    }
  }
  if (!all_ok) {
    failed_.insert(path);
    return;
  }
  out = std::move(values);
  succeeded(path, node);
}

void reader::read_string_map(
    const std::string& path, const toml::node& node, std::map<std::string, std::string>& out,
    const std::function<std::string(const std::string&)>& check_key,
    const std::function<std::string(const std::string&, const std::string&)>& check_value) {
  const auto* table = node.as_table();
  if (!table) {
    expected(path, node, "a table of strings like { Name = \"value\" }");
    return;
  }
  std::map<std::string, std::string> values;
  bool all_ok = true;
  for (auto&& [key, value] : *table) {
    auto name = std::string{key.str()};
    auto entry_path = path + "." + (is_bare_key(name) ? name : quote(name));
    const auto* s = value.as_string();
    std::string problem;
    if (!s)
      problem = "expected a string, got " + describe(value);
    else if (problem = check_key(name); problem.empty())
      problem = check_value(name, s->get());
    if (problem.empty()) {
      values.emplace(std::move(name), s->get());
      continue;
    }
    all_ok = false;
    int line = source_.from_override ? 0 : static_cast<int>(key.source().begin.line);
    if (line == 0) line = line_of(value);
    errors_.push_back({entry_path, line, std::move(problem)});
    failed_.insert(entry_path);
  }
  if (!all_ok) {
    failed_.insert(path);
    return;
  }
  out = std::move(values);
  succeeded(path, node);
}

void reader::cross_error(const std::vector<std::string>& keys, std::string message) {
  for (const auto& key : keys)
    if (failed_.contains(key)) return;
  const std::string* chosen = nullptr;
  for (const auto& key : keys) {
    auto it = set_at_.find(key);
    if (it != set_at_.end() && it->second == 0) {
      chosen = &key;
      break;
    }
  }
  for (const auto& key : keys) {
    if (chosen) break;
    if (set_at_.contains(key)) chosen = &key;
  }
  if (!chosen) chosen = &keys.front();
  auto it = set_at_.find(*chosen);
  errors_.push_back({*chosen, it == set_at_.end() ? 0 : it->second, std::move(message)});
}

std::vector<config_error> reader::take_errors() {
  // toml++ tables iterate in key order, not file order; sort by line so the
  // report reads top to bottom. Line 0 (--set) goes last, in its own order.
  std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
    auto rank = [](int line) { return line == 0 ? std::numeric_limits<int>::max() : line; };
    return rank(a.line) < rank(b.line);
  });
  return std::move(errors_);
}

}  // namespace wsvisor::detail
