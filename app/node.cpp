#include "app/node.hpp"

#include <sched.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/publish.hpp>
#include <spdlog/spdlog.h>

#include "actors/cluster.hpp"
#include "actors/connection.hpp"
#include "actors/messages.hpp"
#include "actors/errors.hpp"
#include "actors/outbound.hpp"
#include "actors/admission.hpp"
#include "actors/protocol.hpp"
#include "actors/readiness.hpp"
#include "actors/registry.hpp"
#include "actors/upstreams.hpp"
#include "app/admin.hpp"
#include "app/build_info.hpp"
#include "app/reload.hpp"
#include "app/systemd_notify.hpp"
#include "config/cli.hpp"
#include "config/loader.hpp"
#include "log/log.hpp"
#include "metrics/node_metrics.hpp"
#include "net/http_server.hpp"
#include "net/io_gate.hpp"
#include "net/io_pool.hpp"
#include "net/io_scheduler.hpp"
#include "net/ws_client.hpp"
#include "wsvisor/version.hpp"

namespace wsvisor {

namespace asio = boost::asio;

namespace {

std::size_t usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  return static_cast<std::size_t>(CPU_COUNT(&set));
}

}  // namespace

bool use_work_sharing(actor_scheduler s) {
  switch (s) {
    case actor_scheduler::io: return false;
    case actor_scheduler::stealing: return false;
    case actor_scheduler::sharing: return true;
    case actor_scheduler::automatic: return usable_cpus() == 1;
  }
  return false;
}

std::size_t io_thread_count(const server_config& s) {
  if (s.io_threads > 0) return s.io_threads;
  return std::max<std::size_t>(usable_cpus(), 1);
}

std::string_view scheduler_in_use(actor_scheduler s) {
  if (s == actor_scheduler::io) return "io";
  return use_work_sharing(s) ? "sharing" : "stealing";
}

namespace {

// The actors run on `pool`'s threads with `server.actor_scheduler = "io"`,
// else on CAF's own.
void configure_caf(net::io_system_config& caf_cfg, const config& cfg, net::io_pool& pool) {
  if (cfg.server.scheduler == actor_scheduler::io) {
    caf_cfg.use_io_scheduler(pool);
  } else {
    if (cfg.server.actor_threads > 0)
      caf_cfg.set("scheduler.max-threads", static_cast<std::size_t>(cfg.server.actor_threads));
    if (use_work_sharing(cfg.server.scheduler))
      caf_cfg.set("scheduler.policy", caf::atom("sharing"));
  }
  if (cfg.cluster.enabled) {
    // Both are off in CAF by default, and then a frozen peer is never noticed.
    caf_cfg.load<caf::io::middleman>();
    caf_cfg.set("middleman.heartbeat-interval", caf::timespan{cfg.cluster.heartbeat_interval});
    caf_cfg.set("middleman.connection-timeout", caf::timespan{cfg.cluster.peer_timeout});
  }
  add_message_types(caf_cfg);
}

// An outbound socket whose calls reach the io_context only while it exists:
// a link actor may be destroyed (and abort its socket) while the node tears
// the io_context down (net/io_gate.hpp).
class gated_socket final : public outbound_socket {
 public:
  gated_socket(outbound_socket_ptr inner, std::shared_ptr<net::io_gate> gate)
      : inner_(std::move(inner)), gate_(std::move(gate)) {}
  void send(std::string text, std::uint64_t tag) override {
    gate_->call([&] { inner_->send(std::move(text), tag); });
  }
  void close() override {
    gate_->call([&] { inner_->close(); });
  }
  void abort() override {
    gate_->call([&] { inner_->abort(); });
  }

 private:
  outbound_socket_ptr inner_;
  std::shared_ptr<net::io_gate> gate_;
};

// What a socket dialled after the gate closed is: the node is going down and
// its actors with it, so it never opens and never reports.
class dead_socket final : public outbound_socket {
 public:
  void send(std::string, std::uint64_t) override {}
  void close() override {}
  void abort() override {}
};

outbound_dialer make_dialer(net::io_pool& pool, std::shared_ptr<net::io_gate> gate) {
  return [&pool, gate](outbound_options opts, outbound_events events) -> outbound_socket_ptr {
    outbound_socket_ptr socket;
    gate->call(
        [&] { socket = net::open_ws_client(pool.next(), std::move(opts), std::move(events)); });
    if (!socket) return std::make_shared<dead_socket>();
    return std::make_shared<gated_socket>(std::move(socket), gate);
  };
}

// One POST /api/publish: asks the broker as a client's publish would, answers,
// and ends.
caf::behavior api_publish(caf::event_based_actor* self, net::publish_request req,
                          net::publish_reply reply, node_metrics_ptr metrics) {
  auto broker = caf::actor_cast<caf::actor>(self->home_system().registry().get(broker_name));
  if (!broker) {
    reply(net::publish_outcome{.error = "unavailable", .message = "the session registry is restarting"});
    self->quit();
    return {};
  }
  auto body = proto::encode_message_body(req.channel, req.data_json);
  self->request(broker, std::chrono::seconds{5}, publish_atom::value, req.channel, body)
      .then(
          [self, reply, metrics](std::uint64_t sessions, std::string& upstream) {
            metrics->received_api.inc();
            reply(net::publish_outcome{.sessions = sessions, .upstream = std::move(upstream)});
            self->quit();
          },
          [self, reply](caf::error& err) {
            net::publish_outcome out;
            if (err == errc::upstream_down) {
              out.error = "upstream_down";
              out.message = context_of(err);  // names the upstream or the channel
            } else {
              out.error = err == caf::sec::request_timeout ? "timeout" : "unavailable";
              out.message = describe(self->home_system(), err);
            }
            reply(std::move(out));
            self->quit();
          });
  return {};
}

// The root supervisor's children, in start order: the session registry
// (which owns its broker), then the upstreams actor, which owns the upstream
// links' supervisor (actors/upstreams.hpp). The registry and the upstreams
// actor start from `current` (what a reload last applied), so that a restart
// does not bring back settings a reload replaced.
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
          [current, node_name, peer_timeout = cfg.cluster.peer_timeout,
           auth = cfg.auth.enabled(), metrics](caf::actor_system& sys) {
            auto now = current->get();
            const auto& limits = now->limits;
            return spawn_registry(sys,
                                  registry_options{.session = now->session,
                                                   .node = node_name,
                                                   .peer_timeout = peer_timeout,
                                                   .max_sessions = limits.sessions,
                                                   .auth_required = auth,
                                                   .max_subscriptions =
                                                       limits.subscriptions_per_session,
                                                   .max_channels = limits.channels,
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
  if (cfg.cluster.enabled) {
    children.push_back(child_spec{
        .name = "cluster",
        .factory =
            [opts = cluster_options{.node = cfg.cluster.node,
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

std::shared_ptr<handshake_gate> make_gate(const limits_config& l) {
  if (l.handshakes_per_second == 0) return nullptr;
  return std::make_shared<handshake_gate>(l.handshakes_per_second, l.handshake_burst,
                                          std::chrono::steady_clock::now());
}

// `o` with the session settings and per-connection limits of `cfg`, and a
// fresh handshake gate when `new_gate`: at start, and on a reload for the
// connections accepted from then on.
connection_options with_limits(connection_options o, const config& cfg, bool new_gate) {
  o.session = cfg.session;
  o.messages_per_second = cfg.limits.messages_per_second;
  o.message_burst = cfg.limits.message_burst;
  o.rate_limit_strikes = cfg.limits.rate_limit_strikes;
  if (new_gate) o.gate = make_gate(cfg.limits);
  return o;
}

// `[cluster] node` defaults to the host name.
config with_node_name(config cfg) {
  if (cfg.cluster.enabled && cfg.cluster.node.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    cfg.cluster.node = host[0] != 0 ? host : "wsvisor";
  }
  return cfg;
}

/// Publishes the cluster contact on `[cluster] listen`; empty on success.
std::string publish_contact(caf::actor_system& sys, const cluster_config& c,
                            caf::actor& contact) {
  std::string host, port;
  if (!net::split_host_port(c.listen, host, port))
    return "cluster.listen " + c.listen + ": not host:port";
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  contact = spawn_cluster_contact(sys);
  auto bound = caf::io::publish(contact, static_cast<std::uint16_t>(std::stoul(port)),
                                host.c_str(), true);
  if (!bound) return "cannot listen on cluster.listen " + c.listen + ": " + sys.render(bound.error());
  log::info(*log::get("cluster"), "cluster listening",
            {{"node", c.node}, {"address", host + ":" + std::to_string(*bound)}});
  return {};
}

}  // namespace

struct node::impl {
  impl(config c, node_options o) : cfg(std::move(c)), opts(std::move(o)) {
    configure_caf(caf_cfg, cfg, pool);
  }

  /// `drain`: SIGTERM/SIGINT (docs/operations.md, "Stopping and draining"):
  /// readiness turns 503, the listener closes, a cluster node hands its
  /// sessions to peers, every client gets `goaway` and close 1001, and the
  /// node waits for the clients to leave, all bounded by server.drain_timeout;
  /// then the tree stops. Without: the tree stops at once (node::stop).
  void begin_shutdown(std::string_view why, bool drain = false) {
    if (stopping.exchange(true)) return;
    log::info(*logger, "shutting down", {{"cause", why}, {"drain", drain}});
    ready->set_draining();
    systemd::notify_stopping();
    http->stop();
    if (root_ended) return;
    if (!drain) return stop_tree();
    draining = true;
    drain_deadline = std::chrono::steady_clock::now() + cfg.server.drain_timeout;
    systemd::notify_status("draining: " + std::to_string(http->open_websockets()) +
                           " clients connected");
    if (cfg.cluster.enabled) return drain_sessions();
    goaway_clients();
  }

  /// A cluster node's drain begins here: every session is handed to a live
  /// peer (its client gets `goaway` `handover` with that peer's URL), bounded
  /// by server.drain_timeout; then the clients left get `goaway` `shutdown`.
  void drain_sessions() {
    auto bound = cfg.server.drain_timeout;
    // With an argument: CAF 0.17 spawns an argument-less function actor through
    // a null tuple pointer (undefined behaviour; tests/ubsan.supp).
    system->spawn([this, bound](caf::event_based_actor* self, int) -> caf::behavior {
      auto registry = self->home_system().registry().get<caf::actor>(session_registry_name);
      auto resume = [this] { gate->post(ioc(), [this] { goaway_clients(); }); };
      if (!registry) {
        resume();
        return {};
      }
      self->request(registry, bound + std::chrono::seconds{1}, drain_atom::value, bound)
          .then(
              [this, self, resume](std::uint64_t handed, std::uint64_t failed) {
                log::info(*logger, "drain finished", {{"handed_over", handed}, {"not_handed_over", failed}});
                systemd::notify_status("draining: " + std::to_string(handed) +
                                       " sessions handed to peers");
                resume();
                self->quit();
              },
              [this, self, resume](caf::error& err) {
                log::warn(*logger, "drain failed", {{"error", describe(self->home_system(), err)}});
                resume();
                self->quit();
              });
      return {};
    }, 0);
  }

  /// Every connection still open gets `goaway` `shutdown` with a retry_ms
  /// spread over drain_retry_window, then close 1001; their sessions detach
  /// and stay resumable until the node stops.
  void goaway_clients() {
    if (root_ended) return;
    auto clients = http->open_websockets();
    auto window = drain_retry_window(clients, cfg.limits.handshakes_per_second);
    log::info(*logger, "sending goaway", {{"clients", clients}, {"retry_window", window}});
    systemd::notify_status("draining: goaway sent to " + std::to_string(clients) + " clients");
    // CAF 0.17 has no anon_send for groups: enqueue without a sender.
    auto connections = system->groups().get_local(connections_group);
    connections.get()->enqueue(nullptr, caf::make_message_id(),
                               caf::make_message(shutdown_atom::value,
                                                 static_cast<std::uint32_t>(window.count())),
                               nullptr);
    await_clients();
  }

  /// Until every WebSocket has closed (its client answered the close, or
  /// went) or the drain's bound passed; then the tree stops.
  void await_clients() {
    if (root_ended) return;
    auto open = http->open_websockets();
    bool passed = std::chrono::steady_clock::now() >= drain_deadline;
    if (open == 0 || passed) {
      if (passed && open > 0)
        log::warn(*logger, "drain bound passed; stopping with clients connected",
                  {{"clients", open}, {"drain_timeout", cfg.server.drain_timeout}});
      else
        log::info(*logger, "every client left");
      systemd::notify_status("stopping");
      return stop_tree();
    }
    grace.expires_after(std::chrono::milliseconds{10});
    grace.async_wait([this](boost::system::error_code ec) {
      if (!ec) await_clients();
    });
  }

  bool draining = false;  // begin_shutdown with drain: drain_deadline bounds the rest
  std::chrono::steady_clock::time_point drain_deadline;

  void stop_tree() {
    if (root_ended) return;
    caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
    grace.expires_after(opts.shutdown_grace);
    grace.async_wait([this](boost::system::error_code ec) {
      if (ec || root_ended) return;
      log::error(*logger, "supervision tree did not stop in time; killing it",
                 {{"grace", opts.shutdown_grace}});
      caf::anon_send_exit(root, caf::exit_reason::kill);
    });
  }

  void on_root_down(const caf::error& reason) {
    root_ended = true;
    root_reason = reason;
    grace.cancel();
    if (!stopping) {
      // Nobody asked for this: the root supervisor gave up on a crash loop.
      // Exit non-zero so that a service manager restarts the process.
      log::error(*logger, "root supervisor ended; exiting", {{"reason", system->render(reason)}});
      stopping = true;
      http->stop();
    } else {
      log::info(*logger, "supervision tree stopped");
    }
    if (signals) signals->cancel();
    if (hangups) hangups->cancel();
    auto now = std::chrono::steady_clock::now();
    flush_deadline = now + close_flush_bound;
    // A drain's bound covers this flush too, so that a service manager's
    // stop timeout can be sized from server.drain_timeout: the clients left
    // were asked to close during the drain, and a client that ignored that
    // does not hold the exit beyond the bound.
    if (draining) flush_deadline = std::min(flush_deadline, std::max(now, drain_deadline) + drain_flush_slack);
    await_closes();
  }

  /// Connections ended by the tree's stop have queued their close frames
  /// (1001, or a `goaway` and 1001 after a handover): let the I/O loop write
  /// them before it stops, for at most close_flush_bound.
  void await_closes() {
    if (http->open_websockets() == 0 || std::chrono::steady_clock::now() >= flush_deadline) {
      std::lock_guard lock{finished_mtx};
      finished = true;
      finished_cv.notify_all();
      return;
    }
    grace.expires_after(std::chrono::milliseconds{5});
    grace.async_wait([this](boost::system::error_code) { await_closes(); });
  }

  static constexpr std::chrono::milliseconds close_flush_bound{1000};
  // What a drain whose bound passed still gives the close frames queued as
  // the tree stopped (goaway after a handover, 1001) to be written.
  static constexpr std::chrono::milliseconds drain_flush_slack{20};
  std::chrono::steady_clock::time_point flush_deadline;

  void await_signal() {
    signals->async_wait([this](boost::system::error_code ec, int signo) {
      if (ec) return;
      if (stopping) {
        // A second signal means "now": the operator does not want to wait.
        // 128 + signo, as a shell reports a process the signal killed.
        log::warn(*logger, "second signal; exiting at once", {{"signal", signo}});
        spdlog::shutdown();
        _exit(128 + signo);
      }
      begin_shutdown(signo == SIGINT ? "SIGINT" : "SIGTERM", true);
      await_signal();
    });
  }

  /// SIGHUP or node::reload(), on an I/O thread (docs/configuration.md, "Reloading").
  void reload() {
    std::lock_guard guard{reload_mtx};
    if (stopping) return;
    if (!opts.config_file) {
      log::info(*logger, "reload: no --config file, nothing to reload (defaults only)");
      return;
    }
    // systemd (Type=notify) holds `systemctl reload` until READY=1 follows.
    systemd::notify_reloading();
    struct ready_again {
      ~ready_again() { systemd::notify_ready(); }
    } on_return;
    const auto& path = *opts.config_file;
    auto loaded = load_config_file(path, opts.overrides);
    if (!loaded.ok()) {
      for (auto& e : loaded.errors)
        log::error(*logger, "reload: configuration error", {{"error", to_string(e, path)}});
      log::error(*logger, "reload refused; the running configuration is kept",
                 {{"file", path}, {"errors", loaded.errors.size()}});
      return;
    }
    auto running = current->get();
    auto next = with_node_name(std::move(loaded.cfg));
    auto plan = plan_reload(*running, next);
    auto applied = apply_live(*running, next);
    if (!plan.restart.empty())
      log::warn(*logger, "reload: changed keys need a restart and were not applied",
                {{"keys", join_keys(plan.restart)}});
    log::info(*logger, "configuration reloaded",
              {{"file", path}, {"changed", join_keys(plan.live)},
               {"needs_restart", join_keys(plan.restart)}});
    if (plan.log) log::configure(applied.log);
    if (plan.session || plan.limits) {
      const auto& was = running->limits;
      bool new_gate = was.handshakes_per_second != applied.limits.handshakes_per_second ||
                      was.handshake_burst != applied.limits.handshake_burst;
      conn_opts->set(with_limits(*conn_opts->get(), applied, new_gate));
    }
    if (plan.limits) http->set_max_connections_per_ip(applied.limits.connections_per_ip);
    current->set(applied);
    apply_to_actors(*system, root, plan, applied, logger);
  }

  void await_hangup() {
    hangups->async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      reload();
      await_hangup();
    });
  }

  config cfg;  // as started; `current` holds what reloads applied since
  node_options opts;
  std::shared_ptr<snapshot<config>> current = std::make_shared<snapshot<config>>(cfg);
  std::shared_ptr<snapshot<connection_options>> conn_opts;  // for connections accepted next
  std::mutex reload_mtx;
  std::shared_ptr<spdlog::logger> logger = log::get("node");
  net::io_system_config caf_cfg;
  // The actor system is declared before the I/O side so that it is destroyed
  // after it: handlers still queued on the stopped io_contexts hold actor
  // handles, which must be released while the system exists. With the io
  // scheduler, the pool's stop moves the actors to a thread of the
  // scheduler's own (net/io_scheduler.hpp).
  std::unique_ptr<caf::actor_system> system;
  net::io_pool pool{io_thread_count(cfg.server)};
  asio::io_context& ioc() { return pool.context(0); }  // timers, signals, the listener
  asio::steady_timer grace{ioc()};
  // Set once the tree has stopped and the close frames are out: run() returns.
  std::mutex finished_mtx;
  std::condition_variable finished_cv;
  bool finished = false;
  std::optional<asio::signal_set> signals;
  std::optional<asio::signal_set> hangups;  // SIGHUP: reload
  std::unique_ptr<net::http_server> http;
  std::shared_ptr<readiness> ready = std::make_shared<readiness>();  // GET /readyz
  node_metrics_ptr metrics;  // docs/metrics.md; made once http exists (it counts connections)
  // Closed first thing in ~node: actors' exit functors post to ioc only
  // through it, so none can reach ioc once it is being destroyed.
  std::shared_ptr<net::io_gate> gate = std::make_shared<net::io_gate>();
  caf::actor root;
  caf::actor contact;  // cluster nodes: published on cluster.listen
  caf::actor admin_responder;  // cluster nodes: answers peers' cluster-wide admin questions

  wsvisor::admin_context admin_ctx() const {
    return {.node = cfg.cluster.enabled ? cfg.cluster.node : "local",
            .root = root,
            .cluster = cfg.cluster.enabled,
            .address = cfg.cluster.listen,
            .public_url = cfg.cluster.public_url};
  }
  std::atomic<bool> stopping{false};
  bool root_ended = false;  // touched only on I/O threads
  caf::error root_reason;
};

bool use_batch_scheduling(actor_scheduler s) {
  return s == actor_scheduler::automatic && usable_cpus() == 1;
}

namespace {

// Threads inherit their scheduling policy from the thread that creates them:
// set before the actor system (CAF's workers) and the I/O threads exist.
config with_thread_policy(config cfg) {
  if (use_batch_scheduling(cfg.server.scheduler)) {
    sched_param param{};
    sched_setscheduler(0, SCHED_BATCH, &param);  // best effort: unchanged if refused
  }
  return cfg;
}

}  // namespace

node::node(config cfg, node_options opts)
    : impl_(std::make_unique<impl>(with_thread_policy(with_node_name(std::move(cfg))),
                                   std::move(opts))) {}

node::~node() {
  auto& d = *impl_;
  d.gate->close();
  if (d.root && !d.root_ended) caf::anon_send_exit(d.root, caf::exit_reason::kill);
  d.root = nullptr;
  if (d.contact) caf::anon_send_exit(d.contact, caf::exit_reason::user_shutdown);
  d.contact = nullptr;
  if (d.admin_responder) {
    if (d.system->registry().get<caf::actor_addr>(admin_name) == d.admin_responder.address())
      d.system->registry().erase(admin_name);
    caf::anon_send_exit(d.admin_responder, caf::exit_reason::user_shutdown);
  }
  d.admin_responder = nullptr;
  // Connection actors end with their sessions (which end with the registry)
  // or, before hello, at their handshake timeout. Once every actor is done,
  // nothing posts to the io_contexts any more and they can be torn down.
  if (d.system) d.system->await_all_actors_done();
  d.pool.stop();
}

std::string node::start() {
  auto& d = *impl_;
  // The threads first: with the io scheduler they run the actors, and the
  // tree is asked below whether it has started.
  d.pool.start();
  d.system = std::make_unique<caf::actor_system>(d.caf_cfg);
  auto& sys = *d.system;
  const auto& server = d.cfg.server;
  auto conn_opts = with_limits({.handshake_timeout = server.handshake_timeout,
                                .max_auth_failures = d.cfg.auth.max_failures,
                                .connections = sys.groups().get_local(connections_group)},
                               d.cfg, true);
  if (d.cfg.auth.enabled()) {
    // Read again here (the loader checked it): a file or variable may have
    // changed since, and the node must not start with a key it cannot use.
    std::string error;
    auto key = read_auth_secret(d.cfg.auth, error);
    if (key.empty()) return "[auth]: " + error;
    conn_opts.auth = std::make_shared<const jwt_verifier>(std::move(key), d.cfg.auth.audience);
  }
  d.conn_opts = std::make_shared<snapshot<connection_options>>(std::move(conn_opts));
  d.http = std::make_unique<net::http_server>(
      d.pool, net::http_options{
                 .listen = server.listen,
                 .request_timeout = server.handshake_timeout,
                 .version_json = version_json(),
                 .tls = server.tls,
                 .ws_path = server.path,
                 .max_message_bytes = server.max_message_bytes,
                 .max_connections = server.max_connections,
                 .max_connections_per_ip = d.cfg.limits.connections_per_ip,
                 .allowed_origins = server.allowed_origins,
                 .send_queue_bytes = server.send_queue_bytes,
                 .handshake_timeout = server.handshake_timeout,
                 .on_websocket =
                     [&sys, conn_opts = d.conn_opts](transport_ptr t) {
                       return spawn_connection(sys, std::move(t), *conn_opts->get());
                     },
                 .gate = d.gate,
                 .on_publish =
                     [&sys, &d](net::publish_request req, net::publish_reply reply) {
                       sys.spawn(api_publish, std::move(req), std::move(reply), d.metrics);
                     },
                 .metrics = [&d] { return d.metrics->registry.expose(); },
                 .on_admin =
                     [&sys, &d](net::admin_request req, net::admin_reply reply) {
                       serve_admin(sys, d.admin_ctx(), std::move(req), std::move(reply));
                     },
                 .api_token = d.cfg.api.token,
                 .ready = d.ready,
                 .site_pages = d.cfg.web.pages});
  d.metrics = std::make_shared<node_metrics>(
      [http = d.http.get()] { return static_cast<double>(http->open_websockets()); },
      version_string);
  if (auto* io = net::io_scheduler::of(sys))
    d.metrics->registry.add_callback_gauge(
        "wsvisor_actor_timers_pending",
        "Delayed messages and timeouts pending in the actor clock (io scheduler only)",
        [io] { return static_cast<double>(io->pending_timers()); });
  if (d.cfg.api.token.empty() && !net::is_loopback_listen(server.listen))
    log::warn(*d.logger, "the HTTP API is disabled: it needs [api] token on a non-loopback listen",
              {{"listen", server.listen}});

  // The supervision tree first, so that the registry is there before the
  // first WebSocket can ask for it.
  if (d.cfg.cluster.enabled) {
    if (auto err = publish_contact(sys, d.cfg.cluster, d.contact); !err.empty()) return err;
    d.ready->set_min_peers(d.cfg.cluster.ready_min_peers);
  }
  auto children =
      root_children(d.cfg, make_dialer(d.pool, d.gate), d.current, d.ready, d.metrics);
  for (auto& extra : d.opts.extra_root_children) children.push_back(extra);
  d.root = spawn_supervisor(*d.system,
                            supervisor_options{.name = "root",
                                               .strategy = d.cfg.policies.at("root").strategy,
                                               .policies = d.cfg.policies,
                                               .children = std::move(children),
                                               .metrics = d.metrics});
  if (d.cfg.cluster.enabled) d.admin_responder = spawn_admin_responder(*d.system, d.admin_ctx());
  d.root->attach_functor([&d, gate = d.gate](const caf::error& reason) {
    gate->post(d.ioc(), [&d, reason] { d.on_root_down(reason); });
  });
  // The supervisor starts its children in its first activation, on CAF's
  // scheduler, not in spawn_supervisor: listening at once let a client's
  // hello arrive before the registry existed (answered 1013). A reply to
  // any request comes after that activation, so wait for one (bounded; a
  // root that dies at once ends run() with its own status instead).
  {
    caf::scoped_actor self{*d.system};
    self->request(d.root, std::chrono::seconds{10}, get_tree_atom::value)
        .receive([](const supervision_tree&) {},
                 [&d](const caf::error& err) {
                   log::warn(*d.logger, "supervision tree not confirmed before listening",
                             {{"error", describe(*d.system, err)}});
                 });
  }
  if (auto err = d.http->start(); !err.empty()) return err;
  if (d.opts.handle_signals) {
    d.signals.emplace(d.ioc(), SIGINT, SIGTERM);
    d.await_signal();
    d.hangups.emplace(d.ioc(), SIGHUP);
    d.await_hangup();
  }
  log::info(*d.logger, "listening",
            {{"address", d.http->local_address()},
             {"version", version_string},
             {"actor_scheduler", scheduler_in_use(d.cfg.server.scheduler)},
             {"io_threads", d.pool.size()},
             {"thread_policy", sched_getscheduler(0) == SCHED_BATCH ? "batch" : "normal"}});
  systemd::notify_status("listening on " + d.http->local_address());
  systemd::notify_ready();
  return {};
}

int node::run() {
  auto& d = *impl_;
  {
    std::unique_lock lock{d.finished_mtx};
    d.finished_cv.wait(lock, [&d] { return d.finished; });
  }
  // The I/O threads end here, as the sockets' loop did before; actors still
  // alive end in ~node (with the io scheduler, on its own thread).
  d.pool.stop();
  bool requested = d.stopping && (d.root_reason == caf::exit_reason::user_shutdown || !d.root_reason);
  int status = d.root_ended && requested ? exit_ok : exit_failure;
  log::info(*d.logger, "stopped", {{"status", status}});
  return status;
}

void node::stop() {
  auto& d = *impl_;
  asio::post(d.ioc(), [&d] { d.begin_shutdown("stop requested"); });
}

void node::reload() {
  auto& d = *impl_;
  asio::post(d.ioc(), [&d] { d.reload(); });
}

std::uint16_t node::http_port() const { return impl_->http->local_port(); }

int run_main(int argc, const char* const* argv) {
  auto cli = parse_cli(argc, argv);
  if (!cli.ok()) {
    std::cerr << "wsvisor: " << cli.error << "\nTry 'wsvisor --help'.\n";
    return exit_bad_config;
  }
  const auto& o = cli.options;
  if (o.show_help) {
    std::cout << usage_text();
    return exit_ok;
  }
  if (o.show_version) {
    std::cout << version_text();
    return exit_ok;
  }
  auto loaded = o.config_file ? load_config_file(*o.config_file, o.overrides)
                              : load_config_defaults(o.overrides);
  if (!loaded.ok()) {
    std::string source = o.config_file ? *o.config_file : std::string{};
    for (auto& e : loaded.errors) std::cerr << to_string(e, source) << "\n";
    std::cerr << "wsvisor: " << loaded.errors.size()
              << " configuration error(s); nothing was started\n";
    return exit_bad_config;
  }
  if (o.check_config) {
    std::cout << to_toml(loaded.cfg);
    return exit_ok;
  }
  log::configure(loaded.cfg.log);
  int status = exit_failure;
  {
    node n{loaded.cfg, {.config_file = o.config_file, .overrides = o.overrides}};
    if (auto err = n.start(); !err.empty())
      log::error(*log::get("node"), "cannot start", {{"error", err}});
    else
      status = n.run();
  }
  // Lines below warn are not flushed as they are written.
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  return status;
}

}  // namespace wsvisor
