#pragma once

/// The node's insides (app/node.hpp), shared by the files that implement it:
/// node.cpp (start, run, stop), shutdown.cpp (drain and the staged stop),
/// signals.cpp (signals and reload). Everything here runs on the node's first
/// I/O thread unless it says otherwise.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>

#include "actors/readiness.hpp"
#include "actors/session/connection.hpp"
#include "app/admin.hpp"
#include "app/node.hpp"
#include "app/reload.hpp"
#include "app/scheduling.hpp"
#include "log/log.hpp"
#include "metrics/node_metrics.hpp"
#include "net/http_server.hpp"
#include "net/io_gate.hpp"
#include "net/io_pool.hpp"
#include "net/io_scheduler.hpp"

namespace wsvisor {

namespace asio = boost::asio;

struct node::impl {
  impl(config c, node_options o) : cfg(std::move(c)), opts(std::move(o)) {
    configure_caf(caf_cfg, cfg, pool);
  }

  /// `drain`: SIGTERM/SIGINT (docs/operations.md, "Stopping and draining"):
  /// readiness turns 503, the listener closes, a cluster node hands its
  /// sessions to peers, every client gets `goaway` and close 1001, and the
  /// node waits for the clients to leave, all bounded by server.drain_timeout;
  /// then the tree stops. Without: the tree stops at once (node::stop).
  void begin_shutdown(std::string_view why, bool drain = false);

  /// A cluster node's drain begins here: every session is handed to a live
  /// peer (its client gets `goaway` `handover` with that peer's URL), bounded
  /// by server.drain_timeout; then the clients left get `goaway` `shutdown`.
  void drain_sessions();

  /// Every connection still open gets `goaway` `shutdown` with a retry_ms
  /// spread over drain_retry_window, then close 1001; their sessions detach
  /// and stay resumable until the node stops.
  void goaway_clients();

  /// Until every WebSocket has closed (its client answered the close, or
  /// went) or the drain's bound passed; then the tree stops.
  void await_clients();

  bool draining = false;  // begin_shutdown with drain: drain_deadline bounds the rest
  std::chrono::steady_clock::time_point drain_deadline;

  void stop_tree();

  void on_root_down(const caf::error& reason);

  /// Connections ended by the tree's stop have queued their close frames
  /// (1001, or a `goaway` and 1001 after a handover): let the I/O loop write
  /// them before it stops, for at most close_flush_bound.
  void await_closes();

  static constexpr std::chrono::milliseconds close_flush_bound{1000};
  // What a drain whose bound passed still gives the close frames queued as
  // the tree stopped (goaway after a handover, 1001) to be written.
  static constexpr std::chrono::milliseconds drain_flush_slack{20};
  std::chrono::steady_clock::time_point flush_deadline;

  void await_signal();

  /// SIGHUP or node::reload(), on an I/O thread (docs/configuration.md, "Reloading").
  void reload();

  void await_hangup();

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
  caf::actor contact;          // cluster nodes: published on cluster.listen
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

}  // namespace wsvisor
