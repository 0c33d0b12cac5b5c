// Signals and reload: node::impl's SIGINT/SIGTERM (a drain, then a second
// signal exits at once) and SIGHUP (docs/configuration.md, "Reloading"),
// declared in app/node_impl.hpp.

#include <unistd.h>

#include <csignal>
#include <mutex>

#include <spdlog/spdlog.h>

#include "app/node_impl.hpp"
#include "app/systemd_notify.hpp"
#include "app/wiring.hpp"
#include "config/loader.hpp"

namespace wsvisor {

void node::impl::await_signal() {
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

void node::impl::reload() {
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
            {{"file", path},
             {"changed", join_keys(plan.live)},
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

void node::impl::await_hangup() {
  hangups->async_wait([this](boost::system::error_code ec, int) {
    if (ec) return;
    reload();
    await_hangup();
  });
}

}  // namespace wsvisor
