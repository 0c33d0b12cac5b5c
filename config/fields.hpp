#pragma once

/// Internal to config/: the field readers and limits shared by the section
/// readers (config/sections.cpp, config/upstreams.cpp). Each maker binds a
/// key name to a config field; the reader fills the field when the key is
/// present and valid.

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/checks.hpp"
#include "config/reader.hpp"

namespace wsvisor::detail {

using field = reader::field;

// Every duration: at least 1 ms (tests and tuning need short ones), at most a
// day (anything longer is a typo in the unit, not a policy).
inline constexpr duration min_duration = std::chrono::milliseconds{1};
inline constexpr duration max_duration = std::chrono::hours{24};
inline constexpr std::int64_t unbounded = std::numeric_limits<std::int64_t>::max();

inline constexpr std::string_view url_expectation = "expected a ws:// or wss:// URL with a host";
inline constexpr std::string_view node_name_expectation = "expected 1 to 64 of A-Z a-z 0-9 _ . -";

inline field duration_field(reader& r, std::string_view name, duration& out) {
  return {name, [&r, &out](const std::string& path, const toml::node& node) {
            r.read_duration(path, node, out, min_duration, max_duration);
          }};
}

inline field size_field(reader& r, std::string_view name, std::uint64_t& out, std::uint64_t min,
                        std::uint64_t max) {
  return {name, [&r, &out, min, max](const std::string& path, const toml::node& node) {
            r.read_size(path, node, out, min, max);
          }};
}

template <class T>
field integer_field(reader& r, std::string_view name, T& out, std::int64_t min, std::int64_t max) {
  return {name, [&r, &out, min, max](const std::string& path, const toml::node& node) {
            // read_integer leaves `value` alone on failure, so `out` keeps its value.
            auto value = static_cast<std::int64_t>(out);
            r.read_integer(path, node, value, min, max);
            out = static_cast<T>(value);
          }};
}

inline field string_field(reader& r, std::string_view name, std::string& out,
                          std::function<bool(std::string_view)> valid = {},
                          std::string_view expectation = {}) {
  return {name, [&r, &out, valid = std::move(valid), expectation](const std::string& path,
                                                                  const toml::node& node) {
            r.read_string(path, node, out, valid, expectation);
          }};
}

template <class Enum>
field enum_field(reader& r, std::string_view name, Enum& out,
                 std::optional<Enum> (*parse)(std::string_view),
                 const std::vector<std::string_view>& names) {
  return {name, [&r, &out, parse, &names](const std::string& path, const toml::node& node) {
            r.read_enum(path, node, out, parse, names);
          }};
}

/// "cluster, root, upstream": the defined policies, for error messages.
inline std::string policy_list(const std::map<std::string, policy>& policies) {
  std::vector<std::string_view> names;
  for (const auto& [name, p] : policies) names.push_back(name);
  return join(names, ", ");
}

/// The `[[upstream]]` array (config/upstreams.cpp).
void read_upstreams(reader& r, const std::string& path, const toml::node& node,
                    std::vector<upstream_config>& upstreams);
/// The checks that span keys of the upstreams: policy references, unique
/// names and channels, reserved channels, ca_file with ws://.
void check_upstreams(reader& r, const config& cfg);

}  // namespace wsvisor::detail
