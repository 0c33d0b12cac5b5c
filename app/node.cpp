#include "app/node.hpp"

#include <sched.h>

#include <chrono>
#include <string>
#include <utility>

#include <boost/asio/post.hpp>
#include <caf/all.hpp>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/jwt_auth.hpp"
#include "actors/supervision/messages.hpp"
#include "actors/supervision/node_counters.hpp"
#include "app/build_info.hpp"
#include "app/dialer.hpp"
#include "app/node_impl.hpp"
#include "app/publish_endpoint.hpp"
#include "app/systemd_notify.hpp"
#include "app/wiring.hpp"
#include "wsvisor/version.hpp"

namespace wsvisor {

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
      d.pool,
      net::http_options{.listen = server.listen,
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
                        .compression = server.compression,
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
  auto children = root_children(d.cfg, make_dialer(d.pool, d.gate), d.current, d.ready, d.metrics);
  for (auto& extra : d.opts.extra_root_children) children.push_back(extra);
  d.root =
      spawn_supervisor(*d.system, supervisor_options{.name = "root",
                                                     .strategy = d.cfg.policies.at("root").strategy,
                                                     .policies = d.cfg.policies,
                                                     .children = std::move(children),
                                                     .counters = counters_of(d.metrics)});
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
  bool requested =
      d.stopping && (d.root_reason == caf::exit_reason::user_shutdown || !d.root_reason);
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

}  // namespace wsvisor
