// The node's staged stop (docs/operations.md, "Stopping and draining"):
// node::impl's shutdown and drain, declared in app/node_impl.hpp.

#include <algorithm>
#include <chrono>
#include <string>

#include <caf/all.hpp>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "actors/supervision/messages.hpp"
#include "app/node_impl.hpp"
#include "app/systemd_notify.hpp"

namespace wsvisor {

void node::impl::begin_shutdown(std::string_view why, bool drain) {
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

void node::impl::drain_sessions() {
  auto bound = cfg.server.drain_timeout;
  // With an argument: CAF 0.17 spawns an argument-less function actor through
  // a null tuple pointer (undefined behaviour; tests/ubsan.supp).
  system->spawn(
      [this, bound](caf::event_based_actor* self, int) -> caf::behavior {
        auto registry = self->home_system().registry().get<caf::actor>(session_registry_name);
        auto resume = [this] { gate->post(ioc(), [this] { goaway_clients(); }); };
        if (!registry) {
          resume();
          return {};
        }
        self->request(registry, bound + std::chrono::seconds{1}, drain_atom::value, bound)
            .then(
                [this, self, resume](std::uint64_t handed, std::uint64_t failed) {
                  log::info(*logger, "drain finished",
                            {{"handed_over", handed}, {"not_handed_over", failed}});
                  systemd::notify_status("draining: " + std::to_string(handed) +
                                         " sessions handed to peers");
                  resume();
                  self->quit();
                },
                [this, self, resume](caf::error& err) {
                  log::warn(*logger, "drain failed",
                            {{"error", describe(self->home_system(), err)}});
                  resume();
                  self->quit();
                });
        return {};
      },
      0);
}

void node::impl::goaway_clients() {
  if (root_ended) return;
  auto clients = http->open_websockets();
  auto window = drain_retry_window(clients, cfg.limits.handshakes_per_second);
  log::info(*logger, "sending goaway", {{"clients", clients}, {"retry_window", window}});
  systemd::notify_status("draining: goaway sent to " + std::to_string(clients) + " clients");
  // CAF 0.17 has no anon_send for groups: enqueue without a sender.
  auto connections = system->groups().get_local(connections_group);
  connections.get()->enqueue(
      nullptr, caf::make_message_id(),
      caf::make_message(drain_goaway_atom::value, static_cast<std::uint32_t>(window.count())),
      nullptr);
  await_clients();
}

void node::impl::await_clients() {
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

void node::impl::stop_tree() {
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

void node::impl::on_root_down(const caf::error& reason) {
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
  if (draining)
    flush_deadline = std::min(flush_deadline, std::max(now, drain_deadline) + drain_flush_slack);
  await_closes();
}

void node::impl::await_closes() {
  if (http->open_websockets() == 0 || std::chrono::steady_clock::now() >= flush_deadline) {
    std::lock_guard lock{finished_mtx};
    finished = true;
    finished_cv.notify_all();
    return;
  }
  grace.expires_after(std::chrono::milliseconds{5});
  grace.async_wait([this](boost::system::error_code) { await_closes(); });
}

}  // namespace wsvisor
