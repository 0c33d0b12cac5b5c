// The [[upstream]] tables: outbound WebSocket links (docs/upstreams.md). The
// ranges are documented in docs/configuration.md; change both together.

#include <algorithm>

#include "config/checks.hpp"
#include "config/fields.hpp"
#include "config/reader.hpp"

namespace wsvisor::detail {

namespace {

std::string lowercase(std::string_view text) {
  std::string out{text};
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

// The headers the WebSocket client writes itself: a second value would make
// the handshake ambiguous or break it.
constexpr std::string_view handshake_headers[] = {
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
};

// Checks one header name; `seen` holds the lower-cased names already read,
// since HTTP names are case-insensitive but TOML keys are not.
std::string header_name_problem(const std::string& name, std::vector<std::string>& seen) {
  if (!is_http_token(name))
    return "a header name must be an RFC 7230 token (A-Z a-z 0-9 ! # $ % & ' * + - . ^ _ ` | ~)";
  auto lower = lowercase(name);
  if (lower == "sec-websocket-protocol")
    return "Sec-WebSocket-Protocol is set by the WebSocket handshake; use `subprotocols`";
  if (std::find(std::begin(handshake_headers), std::end(handshake_headers), lower) !=
      std::end(handshake_headers))
    return name + " is set by the WebSocket handshake and cannot be given here";
  if (std::find(seen.begin(), seen.end(), lower) != seen.end())
    return "duplicate header " + quote(name) + " (header names are case-insensitive)";
  seen.push_back(std::move(lower));
  return {};
}

// The value is not quoted in the message: it is often a credential.
std::string header_value_problem(const std::string&, const std::string& value) {
  for (char c : value)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
      return "a header value must not contain CR, LF or other control characters";
  return {};
}

void read_upstream(reader& r, const std::string& path, const toml::node& node, upstream_config& u) {
  std::vector<std::string> header_names;
  r.read_table(
      path, node,
      {
          string_field(r, "name", u.name, is_node_name, node_name_expectation),
          string_field(r, "url", u.url, is_ws_url, url_expectation),
          string_field(r, "channel", u.channel, is_channel_name,
                       "expected 1 to 128 of A-Z a-z 0-9 _ . : -"),
          string_field(r, "policy", u.policy),
          integer_field(r, "buffer", u.buffer, 0, unbounded),
          {"required", [&r, &u](const std::string& key,
                                const toml::node& value) { r.read_bool(key, value, u.required); }},
          {"compression",
           [&r, &u](const std::string& key, const toml::node& value) {
             r.read_bool(key, value, u.compression);
           }},
          {"subprotocols",
           [&r, &u](const std::string& key, const toml::node& value) {
             r.read_string_array(key, value, u.subprotocols, is_http_token,
                                 "expected an RFC 7230 token like \"v1.feed\"");
           }},
          {"headers",
           [&r, &u, &header_names](const std::string& key, const toml::node& value) {
             r.read_string_map(
                 key, value, u.headers,
                 [&header_names](const std::string& name) {
                   return header_name_problem(name, header_names);
                 },
                 header_value_problem);
           }},
          duration_field(r, "connect_timeout", u.connect_timeout),
          {"heartbeat_timeout",
           [&r, &u](const std::string& key, const toml::node& value) {
             // 0 turns the heartbeat off; a bare 0 needs no unit to be clear.
             if (auto i = value.as_integer(); i && i->get() == 0) {
               u.heartbeat_timeout = duration{0};
               r.mark_set(key, value);
               return;
             }
             r.read_duration(key, value, u.heartbeat_timeout, duration{0}, max_duration);
           }},
          {"ca_file",
           [&r, &u](const std::string& key, const toml::node& value) {
             r.read_checked_string(key, value, u.ca_file, [](const std::string& file) {
               return file_problem("CA file", file);
             });
           }},
      });
  const auto* table = node.as_table();
  if (!table) return;
  for (std::string_view required : {"name", "url", "channel"})
    if (!table->contains(required))
      r.fail(path + "." + std::string{required}, &node,
             "missing required key `" + std::string{required} + "` in [[upstream]]");
}

}  // namespace

void read_upstreams(reader& r, const std::string& path, const toml::node& node,
                    std::vector<upstream_config>& upstreams) {
  const auto* array = node.as_array();
  if (!array) {
    r.fail(path, &node, "expected [[upstream]] tables, got " + describe(node));
    return;
  }
  std::vector<upstream_config> result;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const auto& element = *array->get(i);
    auto child = path + "[" + std::to_string(i) + "]";
    upstream_config u;
    if (!element.is_table())
      r.fail(child, &element, "expected a table, got " + describe(element));
    else
      read_upstream(r, child, element, u);
    // Kept even when broken, so that indices in later errors match the file.
    result.push_back(std::move(u));
  }
  upstreams = std::move(result);
}

void check_upstreams(reader& r, const config& cfg) {
  for (std::size_t i = 0; i < cfg.upstreams.size(); ++i) {
    const auto& u = cfg.upstreams[i];
    auto prefix = "upstream[" + std::to_string(i) + "]";
    if (!cfg.policies.contains(u.policy))
      r.cross_error({prefix + ".policy"}, "unknown policy " + quote(u.policy) +
                                              "; defined policies: " + policy_list(cfg.policies));
    for (std::size_t j = 0; j < i; ++j) {
      if (u.name.empty() || cfg.upstreams[j].name != u.name) continue;
      r.cross_error({prefix + ".name"}, "duplicate upstream name " + quote(u.name) +
                                            ", already used by upstream[" + std::to_string(j) +
                                            "]");
      break;
    }
    // A publish to a channel goes to one upstream; two owners would split it.
    for (std::size_t j = 0; j < i; ++j) {
      const auto& other = cfg.upstreams[j];
      if (u.channel.empty() || other.channel != u.channel) continue;
      r.cross_error({prefix + ".channel"},
                    "channel " + quote(u.channel) + " is owned by two upstreams: " + quote(u.name) +
                        " and " + quote(other.name) + " (upstream[" + std::to_string(j) + "])");
      break;
    }
    if (u.channel.starts_with("sys."))
      r.cross_error({prefix + ".channel"},
                    "channels starting with \"sys.\" are reserved for the server's own "
                    "channels such as sys.upstream.NAME, got " +
                        quote(u.channel));
    if (!u.ca_file.empty() && u.url.starts_with("ws://"))
      r.cross_error({prefix + ".ca_file", prefix + ".url"},
                    "ca_file is used by wss:// URLs only; url is " + quote(u.url));
  }
}

}  // namespace wsvisor::detail
