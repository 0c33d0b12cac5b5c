#pragma once

/// Parsing of outbound WebSocket URLs: `ws://host[:port][/path]` and
/// `wss://host[:port][/path]`. Pure functions, no I/O.

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

/// Parses `ws://host[:port][/path]` or `wss://...`. Returns nullopt and sets
/// `error` (naming the URL) when the URL is malformed.
std::optional<ws_url> parse_ws_url(const std::string& url, std::string& error);

}  // namespace wsvisor::net
