// The log lines of wsvisor processes as the cluster harness reads them
// (tests/support/cluster_nodes.hpp): `key=value` fields, quoted values, and
// the port of a URL a line names.

#include <exception>
#include <string>
#include <string_view>

#include "tests/support/cluster_nodes.hpp"

namespace wsvisor::test {

// --- log lines ---------------------------------------------------------------

namespace {

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// Does a `key=` token start at `pos`?
bool key_at(std::string_view s, std::size_t pos) {
  auto i = pos;
  while (i < s.size() && is_key_char(s[i])) ++i;
  return i > pos && i < s.size() && s[i] == '=';
}

// Reads a JSON-style quoted string starting at s[pos] == '"'; returns the
// position after the closing quote.
std::size_t read_quoted(std::string_view s, std::size_t pos, std::string& out) {
  ++pos;
  while (pos < s.size() && s[pos] != '"') {
    if (s[pos] == '\\' && pos + 1 < s.size()) {
      ++pos;
      switch (s[pos]) {
        case 'n':
          out.push_back('\n');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'r':
          out.push_back('\r');
          break;
        default:
          out.push_back(s[pos]);  // \" \\ and the rest, near enough for tests
      }
    } else {
      out.push_back(s[pos]);
    }
    ++pos;
  }
  return pos < s.size() ? pos + 1 : pos;
}

}  // namespace

std::optional<log_line> log_line::parse(std::string_view s) {
  // TIME LEVEL [logger] message k=v ...
  auto sp1 = s.find(' ');
  if (sp1 == std::string_view::npos) return std::nullopt;
  auto sp2 = s.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 + 1 >= s.size() || s[sp2 + 1] != '[')
    return std::nullopt;
  auto close = s.find("] ", sp2 + 1);
  if (close == std::string_view::npos) return std::nullopt;
  log_line l;
  l.level = std::string{s.substr(sp1 + 1, sp2 - sp1 - 1)};
  l.logger = std::string{s.substr(sp2 + 2, close - sp2 - 2)};
  auto rest = s.substr(close + 2);
  // The message runs up to the first ` key=` token.
  std::size_t fields_at = std::string_view::npos;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if ((i == 0 || rest[i - 1] == ' ') && key_at(rest, i)) {
      fields_at = i;
      break;
    }
  }
  auto msg = rest.substr(0, fields_at);
  while (!msg.empty() && msg.back() == ' ') msg.remove_suffix(1);
  l.message = std::string{msg};
  if (fields_at == std::string_view::npos) return l;
  auto pos = fields_at;
  while (pos < rest.size()) {
    while (pos < rest.size() && rest[pos] == ' ') ++pos;
    if (pos >= rest.size()) break;
    auto eq = rest.find('=', pos);
    if (eq == std::string_view::npos) break;
    std::string key{rest.substr(pos, eq - pos)};
    std::string value;
    pos = eq + 1;
    if (pos < rest.size() && rest[pos] == '"') {
      pos = read_quoted(rest, pos, value);
    } else {
      auto sp = rest.find(' ', pos);
      value = std::string{rest.substr(pos, sp == std::string_view::npos ? sp : sp - pos)};
      pos = sp == std::string_view::npos ? rest.size() : sp;
    }
    l.fields.emplace(std::move(key), std::move(value));
  }
  return l;
}

std::string log_line::field(std::string_view key) const {
  auto it = fields.find(key);
  return it == fields.end() ? std::string{} : it->second;
}

line_predicate log_event(std::string message,
                         std::vector<std::pair<std::string, std::string>> fields) {
  return [message = std::move(message), fields = std::move(fields)](const std::string& text) {
    if (text.find(message) == std::string::npos) return false;  // cheap reject first
    auto l = log_line::parse(text);
    if (!l || l->message.find(message) == std::string::npos) return false;
    for (const auto& [k, v] : fields) {
      auto it = l->fields.find(k);
      if (it == l->fields.end() || it->second != v) return false;
    }
    return true;
  };
}

std::uint16_t port_of_url(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return 0;
  auto host_end = url.find('/', scheme + 3);
  auto authority =
      url.substr(scheme + 3, host_end == std::string_view::npos ? host_end : host_end - scheme - 3);
  auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) return 0;
  try {
    auto port = std::stoul(std::string{authority.substr(colon + 1)});
    return port > 0 && port < 65536 ? static_cast<std::uint16_t>(port) : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace wsvisor::test
