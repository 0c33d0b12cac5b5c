// to_toml (declared in config/loader.hpp). Written by hand rather than through
// toml++'s formatter: toml++ orders keys alphabetically, and --check-config
// output should read in the same order as wsvisor.toml and the docs.

#include <map>
#include <sstream>

#include "config/checks.hpp"
#include "config/loader.hpp"
#include "config/units.hpp"

namespace wsvisor {

namespace {

class toml_writer {
 public:
  void table(std::string_view header) { out_ << "\n[" << header << "]\n"; }
  void array_table(std::string_view header) { out_ << "\n[[" << header << "]]\n"; }
  void string(std::string_view key, std::string_view value) {
    out_ << key << " = " << quote(value) << '\n';
  }
  void duration(std::string_view key, wsvisor::duration value) {
    string(key, format_duration(value));
  }
  void size(std::string_view key, std::uint64_t value) { string(key, format_size(value)); }
  void integer(std::string_view key, std::uint64_t value) { out_ << key << " = " << value << '\n'; }
  void floating(std::string_view key, double value) {
    out_ << key << " = " << format_float(value) << '\n';
  }
  void boolean(std::string_view key, bool value) {
    out_ << key << " = " << (value ? "true" : "false") << '\n';
  }
  void strings(std::string_view key, const std::vector<std::string>& values) {
    out_ << key << " = [";
    for (std::size_t i = 0; i < values.size(); ++i)
      out_ << (i == 0 ? "" : ", ") << quote(values[i]);
    out_ << "]\n";
  }
  // An inline table: `headers = { Authorization = "Bearer x", "X.Y" = "z" }`.
  void string_table(std::string_view key, const std::map<std::string, std::string>& values) {
    out_ << key << " = {";
    const char* separator = " ";
    for (const auto& [name, value] : values) {
      out_ << separator << (is_bare_key(name) ? name : quote(name)) << " = " << quote(value);
      separator = ", ";
    }
    out_ << (values.empty() ? "}\n" : " }\n");
  }
  std::string str() const { return out_.str().substr(1); }  // drop the leading blank line

 private:
  std::ostringstream out_;
};

}  // namespace

std::string to_toml(const config& cfg) {
  toml_writer w;
  w.table("server");
  w.string("listen", cfg.server.listen);
  w.string("path", cfg.server.path);
  w.size("max_message_bytes", cfg.server.max_message_bytes);
  w.integer("max_connections", cfg.server.max_connections);
  w.size("send_queue_bytes", cfg.server.send_queue_bytes);
  w.duration("handshake_timeout", cfg.server.handshake_timeout);
  w.integer("io_threads", cfg.server.io_threads);
  w.integer("actor_threads", cfg.server.actor_threads);
  w.string("actor_scheduler", to_string(cfg.server.scheduler));
  w.strings("allowed_origins", cfg.server.allowed_origins);
  w.duration("drain_timeout", cfg.server.drain_timeout);

  w.table("server.tls");
  w.string("cert", cfg.server.tls.cert);
  w.string("key", cfg.server.tls.key);
  w.string("min_version", to_string(cfg.server.tls.min_version));

  const auto& z = cfg.server.compression;
  w.table("server.compression");
  w.boolean("enabled", z.enabled);
  w.integer("level", z.level);
  w.integer("window_bits", z.window_bits);
  w.boolean("context_takeover", z.context_takeover);
  w.size("threshold", z.threshold);

  w.table("api");
  w.string("token", cfg.api.token);

  w.table("session");
  w.duration("resume_window", cfg.session.resume_window);
  w.integer("replay_buffer", cfg.session.replay_buffer);
  w.size("replay_buffer_bytes", cfg.session.replay_buffer_bytes);
  w.duration("heartbeat_interval", cfg.session.heartbeat_interval);
  w.duration("heartbeat_timeout", cfg.session.heartbeat_timeout);

  const auto& l = cfg.limits;
  w.table("limits");
  w.integer("connections_per_ip", l.connections_per_ip);
  w.integer("messages_per_second", l.messages_per_second);
  w.integer("message_burst", l.message_burst);
  w.integer("rate_limit_strikes", l.rate_limit_strikes);
  w.integer("subscriptions_per_session", l.subscriptions_per_session);
  w.integer("sessions", l.sessions);
  w.integer("channels", l.channels);
  w.integer("presence_members", l.presence_members);
  w.integer("handshakes_per_second", l.handshakes_per_second);
  w.integer("handshake_burst", l.handshake_burst);

  w.table("auth");
  w.string("secret", cfg.auth.secret);
  w.string("secret_file", cfg.auth.secret_file);
  w.string("secret_env", cfg.auth.secret_env);
  w.string("audience", cfg.auth.audience);
  w.integer("max_failures", cfg.auth.max_failures);

  w.table("log");
  w.string("level", to_string(cfg.log.level));
  w.string("format", to_string(cfg.log.format));
  w.duration("repeat_interval", cfg.log.repeat_interval);

  for (const auto& [name, p] : cfg.policies) {
    // Valid names are bare keys; quoting the others keeps the output TOML.
    w.table("policies." + (is_policy_name(name) ? name : quote(name)));
    w.string("restart", to_string(p.restart));
    w.string("strategy", to_string(p.strategy));
    w.duration("backoff_min", p.backoff_min);
    w.duration("backoff_max", p.backoff_max);
    w.floating("backoff_multiplier", p.backoff_multiplier);
    w.string("jitter", to_string(p.jitter));
    w.duration("reset_after", p.reset_after);
    w.integer("max_restarts", p.max_restarts);
    w.duration("restart_window", p.restart_window);
    w.string("on_give_up", to_string(p.on_give_up));
  }

  for (const auto& u : cfg.upstreams) {
    w.array_table("upstream");
    w.string("name", u.name);
    w.string("url", u.url);
    w.string("channel", u.channel);
    w.string("policy", u.policy);
    w.integer("buffer", u.buffer);
    w.strings("subprotocols", u.subprotocols);
    w.string_table("headers", u.headers);
    w.duration("connect_timeout", u.connect_timeout);
    w.duration("heartbeat_timeout", u.heartbeat_timeout);
    w.string("ca_file", u.ca_file);
    w.boolean("required", u.required);
    w.boolean("compression", u.compression);
  }

  w.table("cluster");
  w.boolean("enabled", cfg.cluster.enabled);
  w.string("node", cfg.cluster.node);
  w.string("listen", cfg.cluster.listen);
  w.strings("peers", cfg.cluster.peers);
  w.string("public_url", cfg.cluster.public_url);
  w.duration("heartbeat_interval", cfg.cluster.heartbeat_interval);
  w.duration("peer_timeout", cfg.cluster.peer_timeout);
  w.string("policy", cfg.cluster.policy);
  w.integer("ready_min_peers", cfg.cluster.ready_min_peers);
  w.integer("replicas", cfg.cluster.replicas);
  w.table("web");
  w.boolean("pages", cfg.web.pages);
  return w.str();
}

}  // namespace wsvisor
