#include "config/checks.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace wsvisor {

namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool all_of_set(std::string_view text, std::string_view extra, std::size_t max_len) {
  if (text.empty() || text.size() > max_len) return false;
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return is_alnum(c) || extra.find(c) != std::string_view::npos;
  });
}

// Hand a NUL-terminated copy to inet_pton; a string_view need not be one.
bool inet_parses(int family, std::string_view text) {
  std::array<char, 64> buf{};
  if (text.size() >= buf.size()) return false;
  std::copy(text.begin(), text.end(), buf.begin());
  std::array<unsigned char, 16> out{};
  return inet_pton(family, buf.data(), out.data()) == 1;
}

// Labels of letters, digits, '-' and '_' (not RFC 1123, but container and
// service-discovery names use '_' and resolve fine). Text that looks like a
// dotted number must be a real IPv4 address, so that "999.1.1.1" is caught.
bool is_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    return inet_parses(AF_INET6, host.substr(1, host.size() - 2));
  if (host.empty() || host.size() > 253) return false;
  if (std::all_of(host.begin(), host.end(),
                  [](char c) { return c == '.' || (c >= '0' && c <= '9'); }))
    return inet_parses(AF_INET, host);
  std::size_t start = 0;
  while (start <= host.size()) {
    auto end = host.find('.', start);
    if (end == std::string_view::npos) end = host.size();
    auto label = host.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    if (!all_of_set(label, "-_", 63)) return false;
    start = end + 1;
  }
  return true;
}

bool is_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return false;
  std::uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return value <= 65535;
}

// A URL's host with an optional port. A bracketed IPv6 host may contain ':';
// a port follows the ']'.
bool is_authority(std::string_view authority) {
  auto bracket = authority.rfind(']');
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket))
    return is_host(authority.substr(0, colon)) && is_port(authority.substr(colon + 1));
  return is_host(authority);
}

}  // namespace

std::optional<host_port> parse_host_port(std::string_view text) {
  // The port follows the last ':'. An unbracketed IPv6 address ("::1:80") is
  // ambiguous and fails the host check, since ':' is no host name character.
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto host = text.substr(0, colon);
  auto port = text.substr(colon + 1);
  if (!is_host(host) || !is_port(port)) return std::nullopt;
  if (host.front() == '[') host = host.substr(1, host.size() - 2);
  std::uint16_t number = 0;
  std::from_chars(port.data(), port.data() + port.size(), number);
  return host_port{std::string{host}, number};
}

bool is_host_port(std::string_view text) { return parse_host_port(text).has_value(); }

bool is_ws_url(std::string_view text) {
  std::string_view rest;
  if (text.starts_with("ws://"))
    rest = text.substr(5);
  else if (text.starts_with("wss://"))
    rest = text.substr(6);
  else
    return false;
  for (char c : rest)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  return is_authority(authority);
}

bool is_origin(std::string_view text) {
  std::string_view authority;
  if (text.starts_with("http://"))
    authority = text.substr(7);
  else if (text.starts_with("https://"))
    authority = text.substr(8);
  else
    return false;
  return is_authority(authority);
}

bool is_env_name(std::string_view text) {
  return all_of_set(text, "_", 128) && !(text.front() >= '0' && text.front() <= '9');
}

bool is_channel_name(std::string_view text) { return all_of_set(text, "_.:-", 128); }

bool is_node_name(std::string_view text) { return all_of_set(text, "_.-", 64); }

bool is_policy_name(std::string_view text) { return all_of_set(text, "_-", 64); }

bool is_bare_key(std::string_view text) { return all_of_set(text, "_-", text.size()); }

bool is_http_token(std::string_view text) {
  // Bounded only to keep a typo from becoming a megabyte header.
  return all_of_set(text, "!#$%&'*+-.^_`|~", 256);
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          static constexpr char hex[] = "0123456789ABCDEF";
          out += "\\u00";
          out += hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
          out += hex[static_cast<unsigned char>(c) & 0xf];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string format_float(double value) {
  std::array<char, 64> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  std::string text{buf.data(), ec == std::errc{} ? end : buf.data()};
  // TOML needs a '.' or an exponent to keep it a float ("inf", "nan" are fine).
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

std::string join(const std::vector<std::string_view>& names, std::string_view separator) {
  std::string out;
  for (auto name : names) {
    if (!out.empty()) out += separator;
    out += name;
  }
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> suggest(std::string_view word,
                                   const std::vector<std::string_view>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = 3;
  for (auto candidate : candidates) {
    auto d = edit_distance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = std::string{candidate};
    }
  }
  if (best) return best;
  std::size_t best_prefix = 3;
  for (auto candidate : candidates) {
    auto n = std::min(word.size(), candidate.size());
    std::size_t prefix = 0;
    while (prefix < n && word[prefix] == candidate[prefix]) ++prefix;
    if (prefix > best_prefix) {
      best_prefix = prefix;
      best = std::string{candidate};
    }
  }
  return best;
}

std::string file_problem(std::string_view what, const std::string& file) {
  if (file.empty()) return {};
  std::string cause;
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    cause = "is a directory";
  } else {
    errno = 0;
    std::ifstream in{file, std::ios::binary};
    if (!in) cause = errno != 0 ? std::strerror(errno) : "cannot open";
  }
  return cause.empty() ? std::string{}
                       : "cannot read " + std::string{what} + " " + quote(file) + ": " + cause;
}

}  // namespace wsvisor
