#pragma once

/// JSON helpers shared by the frame fuzz targets.

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string_view>

namespace wsvisor::fuzz {

/// `text` as one JSON value nested at most `max_depth` deep, if it is one.
inline std::optional<boost::json::value> parse_json(std::string_view text,
                                                    std::size_t max_depth = 64) {
  boost::json::parse_options options;
  options.max_depth = max_depth;
  boost::json::error_code ec;
  auto value =
      boost::json::parse(boost::json::string_view{text.data(), text.size()}, ec, {}, options);
  if (ec) return std::nullopt;
  return value;
}

/// Equal as JSON values, except that two doubles may differ in their last
/// bits: boost::json 1.81 parses some numbers 1 ULP off the nearest double
/// (boostorg/json#599), so each parse of serialised data may move a double
/// by that much. Everything else must be exactly equal.
inline bool same_json(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_double() && b.is_double()) {
    double x = a.get_double();
    double y = b.get_double();
    auto scale = std::max(std::abs(x), std::abs(y));
    return x == y || std::abs(x - y) <= 4 * std::numeric_limits<double>::epsilon() * scale;
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!same_json(x[i], y[i])) return false;
    return true;
  }
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& member : x) {
      const auto* other = y.if_contains(member.key());
      if (other == nullptr || !same_json(member.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

/// same_json on two serialised values; false unless both parse.
inline bool same_json(std::string_view a, std::string_view b) {
  auto x = parse_json(a);
  auto y = parse_json(b);
  return x && y && same_json(*x, *y);
}

}  // namespace wsvisor::fuzz
