#include "app/wiring.hpp"

#include <unistd.h>

#include <chrono>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/publish.hpp>

#include "actors/cluster/cluster.hpp"
#include "actors/cluster/replica_store.hpp"
#include "actors/session/admission.hpp"
#include "actors/session/registry.hpp"
#include "actors/upstream/upstreams.hpp"
#include "config/checks.hpp"
#include "log/log.hpp"

namespace wsvisor {

std::vector<child_spec> root_children(const config& cfg, const outbound_dialer& dial,
                                      std::shared_ptr<const snapshot<config>> current,
                                      const std::shared_ptr<readiness>& ready,
                                      const node_metrics_ptr& metrics) {
  auto policies = cfg.policies;
  auto strategy = cfg.policies.at("upstream").strategy;
  auto node_name = cfg.cluster.enabled ? cfg.cluster.node : std::string{};
  child_spec sessions{
      .name = "sessions",
      .factory =
          [current, node_name, peer_timeout = cfg.cluster.peer_timeout, auth = cfg.auth.enabled(),
           metrics](caf::actor_system& sys) {
            auto now = current->get();
            const auto& limits = now->limits;
            return spawn_registry(
                sys, registry_options{.session = now->session,
                                      .node = node_name,
                                      .peer_timeout = peer_timeout,
                                      .max_sessions = limits.sessions,
                                      .auth_required = auth,
                                      .max_subscriptions = limits.subscriptions_per_session,
                                      .max_channels = limits.channels,
                                      .max_members = limits.presence_members,
                                      .metrics = metrics});
          },
      .restart = restart_kind::permanent,
      .policy = "root",
  };
  child_spec upstreams{
      .name = "upstreams",
      .factory =
          [current, strategy, dial, max_frame = cfg.server.max_message_bytes, ready,
           metrics](caf::actor_system& sys) {
            auto now = current->get();
            return spawn_upstreams(sys, upstreams_options{.upstreams = now->upstreams,
                                                          .policies = now->policies,
                                                          .strategy = strategy,
                                                          .dial = dial,
                                                          .max_frame_bytes = max_frame,
                                                          .ready = ready,
                                                          .metrics = metrics});
          },
      .restart = restart_kind::permanent,
      .policy = "root",
      .supervisor = true,  // it answers get_tree_atom with its links' supervisor's tree
  };
  std::vector<child_spec> children{std::move(sessions), std::move(upstreams)};
  if (cfg.cluster.enabled && cfg.cluster.replicas > 0) {
    children.push_back(child_spec{
        .name = "replicas",
        .factory =
            [current, node = cfg.cluster.node, peer_timeout = cfg.cluster.peer_timeout,
             metrics](caf::actor_system& sys) {
              return spawn_replica_store(sys,
                                         replica_store_options{.node = node,
                                                               .session = current->get()->session,
                                                               .peer_timeout = peer_timeout,
                                                               .metrics = metrics});
            },
        .restart = restart_kind::permanent,
        .policy = "root",
    });
  }
  if (cfg.cluster.enabled) {
    children.push_back(child_spec{
        .name = "cluster",
        .factory = [opts = cluster_options{.node = cfg.cluster.node,
                                           .public_url = cfg.cluster.public_url,
                                           .listen = cfg.cluster.listen,
                                           .peers = cfg.cluster.peers,
                                           .policies = policies,
                                           .policy = cfg.cluster.policy,
                                           .peer_timeout = cfg.cluster.peer_timeout,
                                           .metrics = metrics,
                                           .ready = ready}](
                       caf::actor_system& sys) { return spawn_cluster(sys, opts); },
        .restart = restart_kind::permanent,
        .policy = "root",
        .supervisor = true,  // it answers get_tree_atom with its peer links' supervisor's tree
    });
  }
  return children;
}

namespace {

std::shared_ptr<handshake_gate> make_gate(const limits_config& l) {
  if (l.handshakes_per_second == 0) return nullptr;
  return std::make_shared<handshake_gate>(l.handshakes_per_second, l.handshake_burst,
                                          std::chrono::steady_clock::now());
}

}  // namespace

connection_options with_limits(connection_options o, const config& cfg, bool new_gate) {
  o.session = cfg.session;
  o.messages_per_second = cfg.limits.messages_per_second;
  o.message_burst = cfg.limits.message_burst;
  o.rate_limit_strikes = cfg.limits.rate_limit_strikes;
  if (new_gate) o.gate = make_gate(cfg.limits);
  return o;
}

config with_node_name(config cfg) {
  if (cfg.cluster.enabled && cfg.cluster.node.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    cfg.cluster.node = host[0] != 0 ? host : "wsvisor";
  }
  return cfg;
}

std::string publish_contact(caf::actor_system& sys, const cluster_config& c, caf::actor& contact) {
  auto address = parse_host_port(c.listen);
  if (!address) return "cluster.listen " + c.listen + ": not host:port";
  const auto& host = address->host;
  contact = spawn_cluster_contact(sys);
  auto bound = caf::io::publish(contact, address->port, host.c_str(), true);
  if (!bound)
    return "cannot listen on cluster.listen " + c.listen + ": " + sys.render(bound.error());
  log::info(*log::get("cluster"), "cluster listening",
            {{"node", c.node}, {"address", host + ":" + std::to_string(*bound)}});
  return {};
}

}  // namespace wsvisor
