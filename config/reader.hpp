#pragma once

/// Internal to config/: typed reading of toml++ nodes into config fields,
/// with error collection. Included only by config/*.cpp, never by a public
/// header, so that toml++ stays out of everyone else's compile.

#include <toml++/toml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/checks.hpp"
#include "config/config.hpp"
#include "config/loader.hpp"

namespace wsvisor::detail {

/// Where the nodes being read come from: the file (lines are real), or one
/// --set override (lines are 0; a scalar that is not a string may be read as
/// the raw text the user typed, so that `--set cluster.node=7` is a name).
struct value_source {
  bool from_override = false;
  std::string override_key;  // dotted KEY of the override
  std::string override_raw;  // VALUE as typed
};

/// Reads values into config fields and collects every error. Each reader
/// records where a key was set (file line, or 0 for --set) so that checks
/// across keys can point at a key the user actually wrote, and which keys
/// failed so that those checks stay quiet about values already reported.
class reader {
 public:
  using field_fn = std::function<void(const std::string& path, const toml::node& node)>;
  struct field {
    std::string_view name;
    field_fn read;
  };

  void set_source(value_source source) { source_ = std::move(source); }

  /// Calls the matching field's reader for each entry of the table `node`;
  /// reports unknown keys with a suggestion and a non-table `node` as a type
  /// error. `path` is the table's dotted path ("" for the root).
  void read_table(const std::string& path, const toml::node& node,
                  const std::vector<field>& fields);

  void read_duration(const std::string& path, const toml::node& node, duration& out, duration min,
                     duration max);
  void read_size(const std::string& path, const toml::node& node, std::uint64_t& out,
                 std::uint64_t min, std::uint64_t max);
  void read_integer(const std::string& path, const toml::node& node, std::int64_t& out,
                    std::int64_t min, std::int64_t max);
  void read_double(const std::string& path, const toml::node& node, double& out, double min,
                   double max);
  void read_bool(const std::string& path, const toml::node& node, bool& out);
  /// `valid` decides the format; on failure the message is
  /// "<expectation>, got \"<text>\"".
  void read_string(const std::string& path, const toml::node& node, std::string& out,
                   const std::function<bool(std::string_view)>& valid,
                   std::string_view expectation);
  /// As read_string, but `check` returns why the text is unacceptable (empty
  /// when it is fine), and the message is that reason alone: for values that
  /// must not be echoed (secrets) or whose problem is not their format (a
  /// file that cannot be read).
  void read_checked_string(const std::string& path, const toml::node& node, std::string& out,
                           const std::function<std::string(const std::string&)>& check);
  void read_string_array(const std::string& path, const toml::node& node,
                         std::vector<std::string>& out,
                         const std::function<bool(std::string_view)>& valid,
                         std::string_view expectation);
  /// A table of strings, usually inline: `{ A = "x", "B-C" = "y" }`. `check_key`
  /// and `check_value(key, value)` return why an entry is unacceptable (empty:
  /// fine); such an error names `path.KEY` (KEY quoted unless a bare key).
  /// `out` is replaced only when every entry is fine.
  void read_string_map(
      const std::string& path, const toml::node& node, std::map<std::string, std::string>& out,
      const std::function<std::string(const std::string&)>& check_key,
      const std::function<std::string(const std::string&, const std::string&)>& check_value);
  /// `names` lists the accepted values for the message.
  template <class Enum>
  void read_enum(const std::string& path, const toml::node& node, Enum& out,
                 std::optional<Enum> (*parse)(std::string_view),
                 const std::vector<std::string_view>& names);

  /// Reports an error at `node` (its line, or 0 for --set) and marks `path` failed.
  void fail(const std::string& path, const toml::node* node, std::string message);
  /// Reports an error with an explicit line.
  void add_error(config_error error) { errors_.push_back(std::move(error)); }
  /// A problem spanning `keys`: reported at the first key set by --set, else
  /// the first set in the file, else `keys.front()`; skipped if any of `keys`
  /// already failed, since the values compared are then not the user's.
  void cross_error(const std::vector<std::string>& keys, std::string message);

  /// Marks `path` as set at `node` (file line, or 0 for --set).
  void mark_set(const std::string& path, const toml::node& node);
  int line_of(const toml::node& node) const;

  /// The errors, file errors by line first, then --set errors in order.
  std::vector<config_error> take_errors();

 private:
  bool is_override_leaf(const std::string& path, const toml::node& node) const;
  std::optional<std::string> text_of(const std::string& path, const toml::node& node) const;
  /// "expected <what>, got <value>"; `as_text` shows an override's raw text,
  /// for readers that would have taken it as text.
  void expected(const std::string& path, const toml::node& node, std::string_view what,
                bool as_text = false);
  void succeeded(const std::string& path, const toml::node& node);

  value_source source_;
  std::vector<config_error> errors_;
  std::map<std::string, int> set_at_;  // key path -> line where the user set it; 0 = --set
  std::set<std::string> failed_;       // key paths whose value was rejected
};

/// "integer 5", "\"soon\"", "a table": how an error message shows a value.
std::string describe(const toml::node& node);

/// Reads a whole document (the file, or one --set override shaped as a
/// nested table) into `cfg` (config/sections.cpp).
void read_document(reader& r, const toml::table& root, config& cfg);
/// Checks that span keys or tables, once the file and all overrides are in.
void check_consistency(reader& r, const config& cfg);

template <class Enum>
void reader::read_enum(const std::string& path, const toml::node& node, Enum& out,
                       std::optional<Enum> (*parse)(std::string_view),
                       const std::vector<std::string_view>& names) {
  auto text = text_of(path, node);
  std::optional<Enum> value;
  if (text) value = parse(*text);
  if (!value) {
    expected(path, node, "one of " + join(names, "|"), true);
    return;
  }
  out = *value;
  succeeded(path, node);
}

}  // namespace wsvisor::detail
