#pragma once

/// A running wsvisor node: the CAF actor system with its root supervisor, the
/// Asio I/O threads and the HTTP listener, wired from one validated `config`.
///
/// Lifecycle: construct, `start()` (binds and spawns; returns an error message
/// or empty; tells systemd READY=1), then `run()` on the calling thread until
/// the node stops. A stop comes from `stop()` (any thread), SIGINT/SIGTERM
/// when `handle_signals`, or the root supervisor giving up. Shutdown is
/// staged: stop accepting (GET /readyz answers 503 `draining`), then, for a
/// signal only, drain (a cluster node hands its sessions to peers; every
/// client gets `goaway` `shutdown` and close 1001; wait for the clients to
/// leave; all within server.drain_timeout), stop the supervision tree in
/// reverse start order, then stop the I/O threads. A second signal exits at
/// once with 128 + its number (docs/operations.md). SIGHUP (when
/// `handle_signals`) or `reload()` loads `config_file` again and applies what
/// can change live (app/reload.hpp).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/supervision/supervisor.hpp"
#include "config/config.hpp"

namespace wsvisor {

/// Process exit statuses.
enum exit_status : int {
  exit_ok = 0,          // stopped on request (a second signal: 128 + signo, see node)
  exit_failure = 1,     // could not start, or the root supervisor gave up
  exit_bad_config = 2,  // bad command line or configuration; nothing started
};

struct node_options {
  bool handle_signals = true;                   // SIGINT/SIGTERM stop the node
  std::vector<child_spec> extra_root_children;  // appended to the root supervisor's children
  duration shutdown_grace{30'000};              // bound on the supervision tree's shutdown
  std::optional<std::string> config_file;       // --config: what a reload reads; none: defaults
  std::vector<std::string> overrides;           // --set: applied again on every reload
};

class node {
 public:
  explicit node(config cfg, node_options opts = {});
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// Binds the listener and spawns the supervision tree. Empty on success,
  /// otherwise what failed (naming the address for a listen failure).
  std::string start();

  /// Waits until the node has stopped, then stops its I/O threads (started
  /// by `start`, `io_thread_count` of them); returns the process exit status.
  int run();

  /// Starts a staged shutdown; safe from any thread, idempotent.
  void stop();

  /// Loads `config_file` with `overrides` as at start and applies the live
  /// part (docs/configuration.md, "Reloading"); a bad file is refused, its
  /// errors logged, and the running config kept. Any thread, after `start`;
  /// returns at once, the work runs on an I/O thread.
  void reload();

  /// The HTTP listener's bound port (after `start`).
  std::uint16_t http_port() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace wsvisor
