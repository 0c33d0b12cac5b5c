#include "net/ws_url.hpp"

#include <charconv>
#include <cstdint>
#include <string_view>
#include <system_error>

#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>
#include <boost/url/url_view.hpp>

namespace wsvisor::net {

namespace {

const char* default_port(bool tls) { return tls ? "443" : "80"; }

}  // namespace

std::string ws_url::host_header() const {
  auto h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == default_port(tls) ? h : h + ":" + port;
}

std::optional<ws_url> parse_ws_url(const std::string& url, std::string& error) {
  auto parsed = boost::urls::parse_uri(boost::urls::string_view{url.data(), url.size()});
  if (!parsed) {
    error = "malformed URL (" + parsed.error().message() + "): " + url;
    return std::nullopt;
  }
  const auto& u = *parsed;
  ws_url out;
  if (u.scheme_id() == boost::urls::scheme::wss) {
    out.tls = true;
  } else if (u.scheme_id() != boost::urls::scheme::ws) {
    error = "URL must start with ws:// or wss://: " + url;
    return std::nullopt;
  }
  if (u.has_userinfo()) {
    error = "URL carries user information, which a WebSocket upgrade does not send: " + url;
    return std::nullopt;
  }
  // Without the brackets of an IPv6 literal; a name's %-escapes decoded.
  out.host = u.host_address();
  if (out.host.empty()) {
    error = "URL names no host: " + url;
    return std::nullopt;
  }
  // Boost.URL 1.81 takes "h:8x/ws" as port 8 and path "x/ws", and its
  // port_number() wraps above 65535: the port and the path are checked here.
  if (!u.encoded_path().empty() && !u.encoded_path().starts_with('/')) {
    error = "garbage after the host or port in URL: " + url;
    return std::nullopt;
  }
  auto port = u.port();
  std::uint32_t number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty()) {
    out.port = default_port(out.tls);
  } else if (ec != std::errc{} || end != port.data() + port.size() || port.size() > 5 ||
             number > 65535) {
    error = "bad port in URL: " + url;
    return std::nullopt;
  } else {
    out.port = std::string{port};
  }
  // Path and query, as written; "/" when the URL has no path. A fragment is
  // never sent (RFC 6455, 3).
  out.target = u.encoded_path().empty() ? "/" : std::string{u.encoded_path()};
  if (u.has_query()) {
    out.target += '?';
    out.target += u.encoded_query();
  }
  return out;
}

}  // namespace wsvisor::net
