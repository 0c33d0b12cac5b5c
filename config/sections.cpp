// The schema: which keys each table has, their types and ranges, and the
// checks that span keys; [[upstream]] is in config/upstreams.cpp. The ranges
// are documented in docs/configuration.md; change both together.

#include "config/checks.hpp"
#include "config/fields.hpp"
#include "config/reader.hpp"
#include "config/units.hpp"

namespace wsvisor::detail {

namespace {

constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t mib = 1024 * kib;
constexpr std::uint64_t gib = 1024 * mib;

const std::vector<std::string_view> restart_names{"permanent", "transient", "temporary"};
const std::vector<std::string_view> strategy_names{"one_for_one", "one_for_all", "rest_for_one"};
const std::vector<std::string_view> jitter_names{"none", "full", "equal", "decorrelated"};
const std::vector<std::string_view> give_up_names{"escalate", "stop"};
const std::vector<std::string_view> format_names{"text", "json"};
const std::vector<std::string_view> scheduler_names{"io", "auto", "stealing", "sharing"};
const std::vector<std::string_view> tls_version_names{"1.2", "1.3"};
const std::vector<std::string_view> level_names{
    "trace", "debug", "info", "warn", "error", "critical", "off",
};

void read_tls(reader& r, const std::string& path, const toml::node& node, tls_config& t) {
  auto pem_file = [&r](std::string_view name, std::string& out, std::string_view what) {
    return field{name, [&r, &out, what](const std::string& key, const toml::node& value) {
                   r.read_checked_string(key, value, out, [what](const std::string& file) {
                     return file_problem(what, file);
                   });
                 }};
  };
  r.read_table(
      path, node,
      {
          pem_file("cert", t.cert, "certificate file"),
          pem_file("key", t.key, "key file"),
          enum_field(r, "min_version", t.min_version, parse_tls_version, tls_version_names),
      });
}

void read_compression(reader& r, const std::string& path, const toml::node& node,
                      compression_config& c) {
  auto flag = [&r](std::string_view name, bool& out) {
    return field{name, [&r, &out](const std::string& key, const toml::node& value) {
                   r.read_bool(key, value, out);
                 }};
  };
  r.read_table(path, node,
               {
                   flag("enabled", c.enabled),
                   integer_field(r, "level", c.level, 1, 9),
                   integer_field(r, "window_bits", c.window_bits, 9, 15),
                   flag("context_takeover", c.context_takeover),
                   size_field(r, "threshold", c.threshold, 0, 64 * mib),
               });
}

constexpr std::string_view host_port_expectation =
    "expected host:port like \"127.0.0.1:8080\", \"localhost:8080\" or \"[::1]:8080\"";

void read_server(reader& r, const std::string& path, const toml::node& node, server_config& s) {
  r.read_table(
      path, node,
      {
          string_field(r, "listen", s.listen, is_host_port, host_port_expectation),
          string_field(
              r, "path", s.path,
              [](std::string_view p) {
                return p.starts_with('/') && p.find_first_of(" \t\r\n?#") == std::string_view::npos;
              },
              "expected a path starting with \"/\" (no spaces, '?' or '#')"),
          size_field(r, "max_message_bytes", s.max_message_bytes, 64, 64 * mib),
          integer_field(r, "max_connections", s.max_connections, 1, unbounded),
          size_field(r, "send_queue_bytes", s.send_queue_bytes, kib, gib),
          duration_field(r, "handshake_timeout", s.handshake_timeout),
          integer_field(r, "io_threads", s.io_threads, 0, 64),
          integer_field(r, "actor_threads", s.actor_threads, 0, 256),
          enum_field(r, "actor_scheduler", s.scheduler, parse_actor_scheduler, scheduler_names),
          {"allowed_origins",
           [&r, &s](const std::string& key, const toml::node& value) {
             r.read_string_array(key, value, s.allowed_origins, is_origin,
                                 "expected an origin like \"https://app.example\" or "
                                 "\"http://localhost:3000\" (scheme, host, optional "
                                 "port; no path)");
           }},
          {"tls",
           [&r, &s](const std::string& p, const toml::node& n) { read_tls(r, p, n, s.tls); }},
          {"compression",
           [&r, &s](const std::string& p, const toml::node& n) {
             read_compression(r, p, n, s.compression);
           }},
          duration_field(r, "drain_timeout", s.drain_timeout),
      });
}

void read_limits(reader& r, const std::string& path, const toml::node& node, limits_config& l) {
  r.read_table(
      path, node,
      {
          integer_field(r, "connections_per_ip", l.connections_per_ip, 0, unbounded),
          integer_field(r, "messages_per_second", l.messages_per_second, 0, unbounded),
          integer_field(r, "message_burst", l.message_burst, 1, unbounded),
          integer_field(r, "rate_limit_strikes", l.rate_limit_strikes, 0, unbounded),
          integer_field(r, "subscriptions_per_session", l.subscriptions_per_session, 0, unbounded),
          integer_field(r, "sessions", l.sessions, 0, unbounded),
          integer_field(r, "channels", l.channels, 0, unbounded),
          integer_field(r, "presence_members", l.presence_members, 0, unbounded),
          integer_field(r, "handshakes_per_second", l.handshakes_per_second, 0, unbounded),
          integer_field(r, "handshake_burst", l.handshake_burst, 1, unbounded),
      });
}

void read_auth(reader& r, const std::string& path, const toml::node& node, auth_config& a) {
  r.read_table(
      path, node,
      {
          {"secret",
           [&r, &a](const std::string& key, const toml::node& value) {
             // Never echoed; its length is checked with the other sources.
             r.read_checked_string(key, value, a.secret,
                                   [](const std::string&) { return std::string{}; });
           }},
          {"secret_file",
           [&r, &a](const std::string& key, const toml::node& value) {
             r.read_checked_string(key, value, a.secret_file, [](const std::string& file) {
               return file_problem("secret file", file);
             });
           }},
          string_field(
              r, "secret_env", a.secret_env,
              [](std::string_view n) { return n.empty() || is_env_name(n); },
              "expected an environment variable name (A-Z a-z 0-9 _, not starting with a digit)"),
          string_field(r, "audience", a.audience),
          integer_field(r, "max_failures", a.max_failures, 1, 1000),
      });
}

void read_session(reader& r, const std::string& path, const toml::node& node, session_config& s) {
  r.read_table(path, node,
               {
                   duration_field(r, "resume_window", s.resume_window),
                   integer_field(r, "replay_buffer", s.replay_buffer, 1, unbounded),
                   size_field(r, "replay_buffer_bytes", s.replay_buffer_bytes, kib, gib),
                   duration_field(r, "heartbeat_interval", s.heartbeat_interval),
                   duration_field(r, "heartbeat_timeout", s.heartbeat_timeout),
               });
}

void read_log(reader& r, const std::string& path, const toml::node& node, log_config& l) {
  r.read_table(path, node,
               {
                   enum_field(r, "level", l.level, parse_log_level, level_names),
                   enum_field(r, "format", l.format, parse_log_format, format_names),
                   {"repeat_interval",
                    [&r, &l](const std::string& key, const toml::node& value) {
                      // 0 is allowed: every repeat logged, as for debugging.
                      r.read_duration(key, value, l.repeat_interval, duration{0}, max_duration);
                    }},
               });
}

void read_policy(reader& r, const std::string& path, const toml::node& node, policy& p) {
  r.read_table(path, node,
               {
                   enum_field(r, "restart", p.restart, parse_restart_kind, restart_names),
                   enum_field(r, "strategy", p.strategy, parse_strategy_kind, strategy_names),
                   duration_field(r, "backoff_min", p.backoff_min),
                   duration_field(r, "backoff_max", p.backoff_max),
                   {"backoff_multiplier",
                    [&r, &p](const std::string& key, const toml::node& value) {
                      r.read_double(key, value, p.backoff_multiplier, 1.0, 100.0);
                    }},
                   enum_field(r, "jitter", p.jitter, parse_jitter_kind, jitter_names),
                   duration_field(r, "reset_after", p.reset_after),
                   integer_field(r, "max_restarts", p.max_restarts, 0,
                                 std::numeric_limits<std::uint32_t>::max()),
                   duration_field(r, "restart_window", p.restart_window),
                   enum_field(r, "on_give_up", p.on_give_up, parse_give_up_action, give_up_names),
               });
}

void read_policies(reader& r, const std::string& path, const toml::node& node,
                   std::map<std::string, policy>& policies) {
  const auto* table = node.as_table();
  if (!table) {
    r.fail(path, &node, "expected a table of [policies.NAME] tables, got " + describe(node));
    return;
  }
  for (auto&& [key, value] : *table) {
    auto name = std::string{key.str()};
    // Quoted in the path when not a valid name: policies."a.b" is unambiguous.
    auto child = path + "." + (is_policy_name(name) ? name : quote(name));
    if (!is_policy_name(name)) {
      r.fail(child, &value, "a policy name must be 1 to 64 of A-Z a-z 0-9 _ -");
      continue;
    }
    if (!value.is_table()) {
      r.fail(child, &value, "expected a table [" + child + "], got " + describe(value));
      continue;
    }
    // A built-in policy is refined, not replaced; a new one starts from policy{}.
    read_policy(r, child, value, policies.try_emplace(name).first->second);
  }
}

void read_web(reader& r, const std::string& path, const toml::node& node, web_config& w) {
  r.read_table(
      path, node,
      {
          {"pages", [&r, &w](const std::string& key,
                             const toml::node& value) { r.read_bool(key, value, w.pages); }},
      });
}

void read_api(reader& r, const std::string& path, const toml::node& node, api_config& a) {
  r.read_table(path, node,
               {
                   {"token",
                    [&r, &a](const std::string& key, const toml::node& value) {
                      // The messages never show the token: it is a secret
                      // even when it is a bad one.
                      r.read_checked_string(key, value, a.token, [](const std::string& t) {
                        if (t.empty()) return std::string{};
                        if (t.size() < 16)
                          return "must be empty or at least 16 characters, got " +
                                 std::to_string(t.size());
                        for (char c : t)
                          if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
                            return std::string{"must not contain whitespace or control characters"};
                        return std::string{};
                      });
                    }},
               });
}

void read_cluster(reader& r, const std::string& path, const toml::node& node, cluster_config& c) {
  r.read_table(
      path, node,
      {
          {"enabled", [&r, &c](const std::string& key,
                               const toml::node& value) { r.read_bool(key, value, c.enabled); }},
          string_field(
              r, "node", c.node, [](std::string_view n) { return n.empty() || is_node_name(n); },
              node_name_expectation),
          string_field(r, "listen", c.listen, is_host_port, host_port_expectation),
          {"peers",
           [&r, &c](const std::string& key, const toml::node& value) {
             r.read_string_array(key, value, c.peers, is_host_port, host_port_expectation);
           }},
          string_field(
              r, "public_url", c.public_url,
              [](std::string_view u) { return u.empty() || is_ws_url(u); }, url_expectation),
          duration_field(r, "heartbeat_interval", c.heartbeat_interval),
          duration_field(r, "peer_timeout", c.peer_timeout),
          string_field(r, "policy", c.policy),
          integer_field(r, "ready_min_peers", c.ready_min_peers, 0, 1000),
          integer_field(r, "replicas", c.replicas, 0, 1),
          {"drain_timeout",
           [&r](const std::string& key, const toml::node& value) {
             // Moved, not renamed silently: every node drains now, and a
             // value left here would otherwise be ignored without a word.
             r.fail(key, &value,
                    "moved to server.drain_timeout (every node drains on SIGTERM and SIGINT "
                    "now, not only cluster nodes); set it in [server]");
           }},
      });
}

void check_auth(reader& r, const auth_config& a) {
  std::vector<std::string> sources;
  if (!a.secret.empty()) sources.push_back("auth.secret");
  if (!a.secret_file.empty()) sources.push_back("auth.secret_file");
  if (!a.secret_env.empty()) sources.push_back("auth.secret_env");
  if (sources.size() > 1) {
    r.cross_error(sources,
                  "give the HS256 key one way: auth.secret, auth.secret_file or "
                  "auth.secret_env");
    return;
  }
  if (sources.empty()) return;
  std::string error;
  if (read_auth_secret(a, error).empty()) r.cross_error(sources, error);
}

}  // namespace

void read_document(reader& r, const toml::table& root, config& cfg) {
  r.read_table(
      "", root,
      {
          {"server",
           [&](const std::string& p, const toml::node& n) { read_server(r, p, n, cfg.server); }},
          {"api", [&](const std::string& p, const toml::node& n) { read_api(r, p, n, cfg.api); }},
          {"session",
           [&](const std::string& p, const toml::node& n) { read_session(r, p, n, cfg.session); }},
          {"limits",
           [&](const std::string& p, const toml::node& n) { read_limits(r, p, n, cfg.limits); }},
          {"auth",
           [&](const std::string& p, const toml::node& n) { read_auth(r, p, n, cfg.auth); }},
          {"log", [&](const std::string& p, const toml::node& n) { read_log(r, p, n, cfg.log); }},
          {"policies", [&](const std::string& p,
                           const toml::node& n) { read_policies(r, p, n, cfg.policies); }},
          {"upstream", [&](const std::string& p,
                           const toml::node& n) { read_upstreams(r, p, n, cfg.upstreams); }},
          {"cluster",
           [&](const std::string& p, const toml::node& n) { read_cluster(r, p, n, cfg.cluster); }},
          {"web", [&](const std::string& p, const toml::node& n) { read_web(r, p, n, cfg.web); }},
      });
}

void check_consistency(reader& r, const config& cfg) {
  for (const auto& [name, p] : cfg.policies) {
    if (p.backoff_min > p.backoff_max)
      r.cross_error({"policies." + name + ".backoff_min", "policies." + name + ".backoff_max"},
                    "backoff_min (" + format_duration(p.backoff_min) +
                        ") must not exceed backoff_max (" + format_duration(p.backoff_max) + ")");
  }
  // The queue must hold the largest message a client may publish, or every
  // fan-out of such a message would drop its slower recipients.
  const auto& srv = cfg.server;
  if (srv.send_queue_bytes < srv.max_message_bytes)
    r.cross_error({"server.send_queue_bytes", "server.max_message_bytes"},
                  "send_queue_bytes (" + format_size(srv.send_queue_bytes) +
                      ") must be at least max_message_bytes (" +
                      format_size(srv.max_message_bytes) + ")");
  const auto& s = cfg.session;
  if (s.heartbeat_timeout <= s.heartbeat_interval)
    r.cross_error({"session.heartbeat_timeout", "session.heartbeat_interval"},
                  "heartbeat_timeout (" + format_duration(s.heartbeat_timeout) +
                      ") must be greater than heartbeat_interval (" +
                      format_duration(s.heartbeat_interval) + ")");
  const auto& c = cfg.cluster;
  if (c.heartbeat_interval >= c.peer_timeout)
    r.cross_error({"cluster.heartbeat_interval", "cluster.peer_timeout"},
                  "heartbeat_interval (" + format_duration(c.heartbeat_interval) +
                      ") must be less than peer_timeout (" + format_duration(c.peer_timeout) + ")");
  if (c.enabled && c.public_url.empty())
    r.cross_error({"cluster.enabled", "cluster.public_url"},
                  "a cluster node needs cluster.public_url, its ws:// URL for clients");
  if (!cfg.policies.contains(c.policy))
    r.cross_error({"cluster.policy"}, "unknown policy " + quote(c.policy) +
                                          "; defined policies: " + policy_list(cfg.policies));
  const auto& tls = srv.tls;
  if (tls.cert.empty() != tls.key.empty())
    r.cross_error({tls.cert.empty() ? "server.tls.key" : "server.tls.cert"},
                  "server.tls needs both cert and key (or neither, for plain ws://)");
  check_auth(r, cfg.auth);
  check_upstreams(r, cfg);
}

}  // namespace wsvisor::detail
