#include "app/reload.hpp"

#include <chrono>
#include <string_view>

#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message.hpp>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/messages.hpp"
#include "actors/supervision/messages.hpp"
#include "actors/upstream/messages.hpp"
#include "config/checks.hpp"
#include "log/log.hpp"

namespace wsvisor {
namespace {

// The supervisors whose own strategy comes from a named policy: the root
// (app/node.cpp) and the upstream links' (actors/upstream/upstreams.hpp). A strategy
// is fixed when a supervisor starts.
bool strategy_in_use(const std::string& policy_name) {
  return policy_name == "root" || policy_name == "upstream";
}

class differ {
 public:
  explicit differ(std::vector<std::string>& out) : out_(out) {}
  template <class T>
  void operator()(std::string_view key, const T& a, const T& b) {
    if (!(a == b)) out_.emplace_back(key);
  }

 private:
  std::vector<std::string>& out_;
};

void diff_restart_keys(const config& a, const config& b, std::vector<std::string>& out) {
  differ d{out};
  d("server.listen", a.server.listen, b.server.listen);
  d("server.path", a.server.path, b.server.path);
  d("server.max_message_bytes", a.server.max_message_bytes, b.server.max_message_bytes);
  d("server.max_connections", a.server.max_connections, b.server.max_connections);
  d("server.send_queue_bytes", a.server.send_queue_bytes, b.server.send_queue_bytes);
  d("server.handshake_timeout", a.server.handshake_timeout, b.server.handshake_timeout);
  d("server.io_threads", a.server.io_threads, b.server.io_threads);
  d("server.actor_threads", a.server.actor_threads, b.server.actor_threads);
  d("server.actor_scheduler", a.server.scheduler, b.server.scheduler);
  d("server.allowed_origins", a.server.allowed_origins, b.server.allowed_origins);
  d("server.tls.cert", a.server.tls.cert, b.server.tls.cert);
  d("server.tls.key", a.server.tls.key, b.server.tls.key);
  d("server.tls.min_version", a.server.tls.min_version, b.server.tls.min_version);
  const auto &za = a.server.compression, &zb = b.server.compression;
  d("server.compression.enabled", za.enabled, zb.enabled);
  d("server.compression.level", za.level, zb.level);
  d("server.compression.window_bits", za.window_bits, zb.window_bits);
  d("server.compression.context_takeover", za.context_takeover, zb.context_takeover);
  d("server.compression.threshold", za.threshold, zb.threshold);
  d("api.token", a.api.token, b.api.token);
  d("auth.secret", a.auth.secret, b.auth.secret);
  d("auth.secret_file", a.auth.secret_file, b.auth.secret_file);
  d("auth.secret_env", a.auth.secret_env, b.auth.secret_env);
  d("auth.audience", a.auth.audience, b.auth.audience);
  d("auth.max_failures", a.auth.max_failures, b.auth.max_failures);
  d("cluster.enabled", a.cluster.enabled, b.cluster.enabled);
  d("cluster.node", a.cluster.node, b.cluster.node);
  d("cluster.listen", a.cluster.listen, b.cluster.listen);
  d("cluster.peers", a.cluster.peers, b.cluster.peers);
  d("cluster.public_url", a.cluster.public_url, b.cluster.public_url);
  d("cluster.heartbeat_interval", a.cluster.heartbeat_interval, b.cluster.heartbeat_interval);
  d("cluster.peer_timeout", a.cluster.peer_timeout, b.cluster.peer_timeout);
  d("cluster.policy", a.cluster.policy, b.cluster.policy);
  d("cluster.ready_min_peers", a.cluster.ready_min_peers, b.cluster.ready_min_peers);
  d("web.pages", a.web.pages, b.web.pages);
  d("server.drain_timeout", a.server.drain_timeout, b.server.drain_timeout);
}

// limits.connections_per_ip is live between non-zero values only: addresses
// are counted when a limit was set at start (net/ws_upgrade.hpp).
bool per_ip_live(const limits_config& a, const limits_config& b) {
  return a.connections_per_ip != 0 && b.connections_per_ip != 0;
}

void diff_live_keys(const config& a, const config& b, reload_plan& plan) {
  auto& live = plan.live;
  differ d{live};
  d("log.level", a.log.level, b.log.level);
  d("log.format", a.log.format, b.log.format);
  d("log.repeat_interval", a.log.repeat_interval, b.log.repeat_interval);
  plan.log = live.size() > 0;

  auto before = live.size();
  d("session.resume_window", a.session.resume_window, b.session.resume_window);
  d("session.replay_buffer", a.session.replay_buffer, b.session.replay_buffer);
  d("session.replay_buffer_bytes", a.session.replay_buffer_bytes, b.session.replay_buffer_bytes);
  d("session.heartbeat_interval", a.session.heartbeat_interval, b.session.heartbeat_interval);
  d("session.heartbeat_timeout", a.session.heartbeat_timeout, b.session.heartbeat_timeout);
  plan.session = live.size() > before;

  before = live.size();
  const auto& la = a.limits;
  const auto& lb = b.limits;
  if (la.connections_per_ip != lb.connections_per_ip)
    (per_ip_live(la, lb) ? live : plan.restart).emplace_back("limits.connections_per_ip");
  d("limits.messages_per_second", la.messages_per_second, lb.messages_per_second);
  d("limits.message_burst", la.message_burst, lb.message_burst);
  d("limits.rate_limit_strikes", la.rate_limit_strikes, lb.rate_limit_strikes);
  d("limits.subscriptions_per_session", la.subscriptions_per_session, lb.subscriptions_per_session);
  d("limits.sessions", la.sessions, lb.sessions);
  d("limits.channels", la.channels, lb.channels);
  d("limits.presence_members", la.presence_members, lb.presence_members);
  d("limits.handshakes_per_second", la.handshakes_per_second, lb.handshakes_per_second);
  d("limits.handshake_burst", la.handshake_burst, lb.handshake_burst);
  plan.limits = live.size() > before;
}

void diff_policies(const config& a, const config& b, reload_plan& plan) {
  auto peer_links = [&](const std::string& name) {
    return a.cluster.enabled && a.cluster.policy == name;
  };
  for (const auto& [name, next] : b.policies) {
    auto old = a.policies.find(name);
    if (old == a.policies.end()) {
      plan.live.push_back("policies." + name);
      plan.policies = true;
      continue;
    }
    if (old->second == next) continue;
    auto same_strategy = next;
    same_strategy.strategy = old->second.strategy;
    if (old->second.strategy != next.strategy && strategy_in_use(name))
      plan.restart.push_back("policies." + name + ".strategy");
    if (!(old->second == same_strategy) || !strategy_in_use(name)) {
      plan.live.push_back("policies." + name);
      plan.policies = true;
    }
    if (peer_links(name)) plan.restart.push_back("policies." + name + " (cluster peer links)");
  }
  for (const auto& [name, old] : a.policies) {
    if (b.policies.contains(name)) continue;
    plan.live.push_back("policies." + name);
    plan.policies = true;
  }
}

const upstream_config* find_upstream(const std::vector<upstream_config>& ups,
                                     const std::string& name) {
  for (const auto& u : ups)
    if (u.name == name) return &u;
  return nullptr;
}

void diff_upstreams(const config& a, const config& b, reload_plan& plan) {
  for (const auto& old : a.upstreams) {
    if (find_upstream(b.upstreams, old.name) == nullptr) {
      plan.removed.push_back(old.name);
      plan.live.push_back("upstream." + old.name);
    }
  }
  for (const auto& next : b.upstreams) {
    const auto* old = find_upstream(a.upstreams, next.name);
    if (old == nullptr) {
      plan.added.push_back(next);
      plan.live.push_back("upstream." + next.name);
    } else if (!(*old == next)) {
      plan.changed.push_back(next);
      plan.live.push_back("upstream." + next.name);
    }
  }
}

// One request to the upstreams actor, run after the one before it answered.
struct upstream_step {
  std::string action;  // for the log: "remove", "change", "add"
  std::string upstream;
  caf::message msg;
};

// How long one step may take: a removal waits for the link to close, bounded
// by the supervisor's two shutdown timeouts (actors/supervision/supervisor.hpp).
constexpr std::chrono::seconds step_timeout{30};

void run_steps(caf::event_based_actor* self, caf::actor ups,
               std::shared_ptr<std::vector<upstream_step>> steps, std::size_t next,
               std::shared_ptr<spdlog::logger> logger) {
  if (next == steps->size()) return self->quit();
  auto& step = (*steps)[next];
  self->request(ups, step_timeout, step.msg)
      .then([=](caf::ok_atom) { run_steps(self, ups, steps, next + 1, logger); },
            [=](caf::error& err) {
              const auto& s = (*steps)[next];
              log::error(*logger, "reload: upstream not updated",
                         {{"upstream", s.upstream},
                          {"action", s.action},
                          {"error", describe(self->home_system(), err)}});
              run_steps(self, ups, steps, next + 1, logger);
            });
}

std::vector<upstream_step> upstream_steps(const reload_plan& plan) {
  std::vector<upstream_step> steps;
  for (const auto& name : plan.removed)
    steps.push_back({"remove", name, caf::make_message(remove_upstream_atom::value, name)});
  for (const auto& u : plan.changed)
    steps.push_back({"change", u.name, caf::make_message(update_upstream_atom::value, u)});
  for (const auto& u : plan.added)
    steps.push_back({"add", u.name, caf::make_message(add_upstream_atom::value, u)});
  return steps;
}

// A request whose answer is only logged when it is an error: requests, not
// sends, so that no `ok` comes back as an unexpected message.
void tell(caf::event_based_actor* self, const caf::actor& dest, caf::message msg, std::string what,
          const std::shared_ptr<spdlog::logger>& logger) {
  self->request(dest, step_timeout, std::move(msg))
      .then([](caf::ok_atom) {},
            [self, what = std::move(what), logger](caf::error& err) {
              log::error(*logger, "reload: not applied",
                         {{"to", what}, {"error", describe(self->home_system(), err)}});
            });
}

// Sends what the plan changes and ends once every upstream step answered.
caf::behavior reloader(caf::event_based_actor* self, int, reload_plan plan, config applied,
                       caf::actor root, std::shared_ptr<spdlog::logger> logger) {
  auto& names = self->home_system().registry();
  auto ups = names.get<caf::actor>(upstreams_name);
  auto registry = names.get<caf::actor>(session_registry_name);
  if (plan.policies && root)
    tell(self, root, caf::make_message(set_policies_atom::value, applied.policies),
         "the root supervisor", logger);
  if ((plan.session || plan.limits) && registry)
    tell(self, registry,
         caf::make_message(
             registry_settings_atom::value,
             registry_settings{.session = applied.session,
                               .max_sessions = applied.limits.sessions,
                               .max_subscriptions = applied.limits.subscriptions_per_session,
                               .max_channels = applied.limits.channels,
                               .max_members = applied.limits.presence_members}),
         "the session registry", logger);
  auto steps = std::make_shared<std::vector<upstream_step>>(upstream_steps(plan));
  if (!ups || (!plan.policies && steps->empty())) {
    // A restarting upstreams actor (or registry) starts from the node's
    // current config, which holds the reloaded values already. Requests
    // sent above are delivered whether or not their answer finds us.
    self->quit();
    return {};
  }
  // Asked first, from this one actor, so that upstreams added below are
  // checked against the new policies.
  if (plan.policies)
    tell(self, ups, caf::make_message(set_policies_atom::value, applied.policies), "the upstreams",
         logger);
  run_steps(self, ups, steps, 0, std::move(logger));
  return {};
}

}  // namespace

reload_plan plan_reload(const config& running, const config& next) {
  reload_plan plan;
  diff_live_keys(running, next, plan);
  diff_policies(running, next, plan);
  diff_upstreams(running, next, plan);
  diff_restart_keys(running, next, plan.restart);
  return plan;
}

config apply_live(const config& running, const config& next) {
  auto out = running;
  out.log = next.log;
  out.session = next.session;
  out.limits = next.limits;
  if (!per_ip_live(running.limits, next.limits))
    out.limits.connections_per_ip = running.limits.connections_per_ip;
  out.policies = next.policies;
  for (auto& [name, p] : out.policies) {
    auto old = running.policies.find(name);
    if (strategy_in_use(name) && old != running.policies.end()) p.strategy = old->second.strategy;
  }
  out.upstreams = next.upstreams;
  return out;
}

void apply_to_actors(caf::actor_system& sys, const caf::actor& root, const reload_plan& plan,
                     const config& applied, std::shared_ptr<spdlog::logger> logger) {
  if (!plan.policies && !plan.session && !plan.limits && plan.added.empty() &&
      plan.removed.empty() && plan.changed.empty())
    return;
  // With an argument: CAF 0.17 spawns an argument-less function actor through
  // a null tuple pointer (undefined behaviour; tests/ubsan.supp).
  sys.spawn(reloader, 0, plan, applied, root, std::move(logger));
}

std::string join_keys(const std::vector<std::string>& keys) {
  if (keys.empty()) return "-";
  return join(std::vector<std::string_view>(keys.begin(), keys.end()), ", ");
}

}  // namespace wsvisor
