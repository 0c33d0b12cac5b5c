#pragma once

/// Reading fields of the JSON frames and bodies tests receive, without
/// throwing: a missing field or one of another type reads as empty, and the
/// assertion that compares it fails with the frame in its message.

#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace wsvisor::test {

/// `o[key]` when it is a string, else "".
inline std::string str(const boost::json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string{v->get_string()} : std::string{};
}

/// `v` when it is a string, else "".
inline std::string str(const boost::json::value& v) {
  return v.is_string() ? std::string{v.get_string()} : std::string{};
}

}  // namespace wsvisor::test
