#pragma once

/// Format checks, quoting and "did you mean" suggestions shared by the config loader
/// and the command line parser. Pure functions on text, safe from any thread.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsvisor {

/// `host:port` with host an IPv4 address, a DNS host name or a bracketed
/// IPv6 address (`[::1]:8080`), and port 0..65535 (0: the OS chooses).
bool is_host_port(std::string_view text);

/// A `host:port` taken apart (parse_host_port).
struct host_port {
  std::string host;        // an IPv6 address without its brackets
  std::uint16_t port = 0;  // 0: the OS chooses (a listener)
};

/// `text` as in `is_host_port`, taken apart; nullopt when it is not one. The
/// one parser of configured addresses: listeners, cluster peers, the chaos
/// proxy's command line.
std::optional<host_port> parse_host_port(std::string_view text);

/// `ws://` or `wss://`, a host (as in `is_host_port`) with an optional port,
/// then an optional path; no whitespace or control characters.
bool is_ws_url(std::string_view text);

/// A browser's `Origin`: `http://` or `https://`, then a host (as in
/// `is_host_port`) with an optional port, and nothing else (no path, no
/// trailing slash). Hosts are compared as written: browsers send them in
/// lower case.
bool is_origin(std::string_view text);

/// A POSIX environment variable name: ^[A-Za-z_][A-Za-z0-9_]{0,127}$.
bool is_env_name(std::string_view text);

/// ^[A-Za-z0-9_.:-]{1,128}$
bool is_channel_name(std::string_view text);

/// ^[A-Za-z0-9_.-]{1,64}$: upstream names and cluster node names.
bool is_node_name(std::string_view text);

/// An RFC 7230 token (1 or more of A-Z a-z 0-9 ! # $ % & ' * + - . ^ _ ` | ~):
/// HTTP header names and WebSocket subprotocols.
bool is_http_token(std::string_view text);

/// ^[A-Za-z0-9_-]{1,64}$: no dots, so that `--set policies.NAME.KEY=...`
/// stays unambiguous.
bool is_policy_name(std::string_view text);

/// A TOML bare key (1 or more of A-Z a-z 0-9 _ -): a key that needs no quotes.
bool is_bare_key(std::string_view text);

/// Why `file` cannot be read (it is opened, so permissions count), as
/// "cannot read <what> \"FILE\": <cause>"; empty when it can, or when `file`
/// is empty. Its contents are not looked at.
std::string file_problem(std::string_view what, const std::string& file);

/// `text` as a TOML basic string: in double quotes, with quotes, backslashes
/// and control characters escaped. Also how error messages show text.
std::string quote(std::string_view text);

/// `value` as a TOML float in its shortest round-trip form, always with a
/// '.' or exponent: 2.0 → "2.0", 0.1 → "0.1", 1e300 → "1e+300".
std::string format_float(double value);

/// The names separated by `separator`: join({"a", "b"}, ", ") == "a, b".
std::string join(const std::vector<std::string_view>& names, std::string_view separator);

/// Levenshtein distance (insertions, deletions, substitutions).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate `word` was most likely meant to be: the closest one within
/// edit distance 2, else the one sharing the longest prefix of at least 4
/// characters with it (`heartbeat` → `heartbeat_interval`); nullopt if none.
std::optional<std::string> suggest(std::string_view word,
                                   const std::vector<std::string_view>& candidates);

}  // namespace wsvisor
