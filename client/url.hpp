#pragma once

/// Parsing of the client's `ws://host:port/path` URLs. Internal to the client.

#include <optional>
#include <string>

namespace wsvisor::detail {

struct ws_url {
  std::string host;                 // without brackets for an IPv6 literal
  std::string port;                 // "80" when the URL names none
  std::string target;               // path and query, at least "/"
  std::string host_header() const;  // host[:port] as the Host header wants it
};

/// Parses `ws://host[:port][/path]`. Returns nullopt and sets `error` when the
/// URL is malformed, or is `wss://` (TLS is not supported yet).
std::optional<ws_url> parse_ws_url(const std::string& url, std::string& error);

}  // namespace wsvisor::detail
