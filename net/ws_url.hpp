#pragma once

/// Parsing of outbound WebSocket URLs: `ws://host[:port][/path][?query]` and
/// `wss://...`, through Boost.URL (RFC 3986). Pure functions, no I/O.

#include <optional>
#include <string>

namespace wsvisor::net {

struct ws_url {
  bool tls = false;                 // wss://
  std::string host;                 // without brackets for an IPv6 literal
  std::string port;                 // "80" (ws) or "443" (wss) when the URL names none
  std::string target;               // path and query, at least "/"
  std::string host_header() const;  // host[:port] as the Host header wants it
};

/// Parses `ws://host[:port][/path][?query]` or `wss://...`. Returns nullopt and
/// sets `error` (naming the URL) when the URL is malformed, is not ws/wss,
/// names no host, carries user information or a port above 65535. A fragment
/// is dropped.
std::optional<ws_url> parse_ws_url(const std::string& url, std::string& error);

}  // namespace wsvisor::net
