#include "net/ws_url.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace wsvisor::net {

namespace {

const char* default_port(bool tls) { return tls ? "443" : "80"; }

}  // namespace

std::string ws_url::host_header() const {
  auto h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == default_port(tls) ? h : h + ":" + port;
}

std::optional<ws_url> parse_ws_url(const std::string& url, std::string& error) {
  constexpr std::string_view ws = "ws://";
  constexpr std::string_view wss = "wss://";
  std::string_view rest{url};
  ws_url out;
  if (rest.starts_with(wss)) {
    out.tls = true;
    rest.remove_prefix(wss.size());
  } else if (rest.starts_with(ws)) {
    rest.remove_prefix(ws.size());
  } else {
    error = "URL must start with ws:// or wss://: " + url;
    return std::nullopt;
  }
  auto slash = rest.find_first_of("/?");
  auto authority = rest.substr(0, slash);
  // A bare query gets its "/" prepended (built, not insert()ed: GCC 12 at -O3
  // reports a false -Wrestrict on the insert, GCC bug 105329).
  if (slash == std::string_view::npos) {
    out.target = "/";
  } else {
    if (rest[slash] == '?') out.target = "/";
    out.target.append(rest.substr(slash));
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "unterminated IPv6 literal: " + url;
      return std::nullopt;
    }
    out.host = std::string{authority.substr(1, close - 1)};
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "garbage after IPv6 literal: " + url;
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    out.host = std::string{authority.substr(0, colon)};
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) {
    error = "URL names no host: " + url;
    return std::nullopt;
  }
  if (port.empty()) {
    out.port = default_port(out.tls);
  } else {
    bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
                    return std::isdigit(static_cast<unsigned char>(c)) != 0;
                  });
    if (!digits || std::stoul(std::string{port}) > 65535) {
      error = "bad port in URL: " + url;
      return std::nullopt;
    }
    out.port = std::string{port};
  }
  return out;
}

}  // namespace wsvisor::net
