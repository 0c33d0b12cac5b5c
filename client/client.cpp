#include "client/client.hpp"

#include <stdexcept>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "client/client_actor.hpp"
#include "client/client_io.hpp"
#include "client/messages.hpp"
#include "client/shared.hpp"
#include "log/log.hpp"
#include "net/tls_context.hpp"
#include "net/ws_url.hpp"
#include "protocol/client_frames.hpp"

namespace wsvisor {

std::string to_string(client_state_kind x) {
  switch (x) {
    case client_state_kind::connecting:
      return "connecting";
    case client_state_kind::connected:
      return "connected";
    case client_state_kind::resumed:
      return "resumed";
    case client_state_kind::reset:
      return "reset";
    case client_state_kind::disconnected:
      return "disconnected";
    case client_state_kind::given_up:
      return "given_up";
    case client_state_kind::closed:
      return "closed";
  }
  return "client_state_kind(" + std::to_string(static_cast<int>(x)) + ")";
}

std::string to_string(reset_reason x) {
  switch (x) {
    case reset_reason::none:
      return "none";
    case reset_reason::unknown:
      return "unknown";
    case reset_reason::expired:
      return "expired";
    case reset_reason::overflow:
      return "overflow";
  }
  return "reset_reason(" + std::to_string(static_cast<int>(x)) + ")";
}

client::client(caf::actor_system& sys, client_options opts, client_callbacks callbacks)
    : close_timeout_(opts.close_timeout) {
  std::string error;
  if (!net::parse_ws_url(opts.url, error)) throw std::invalid_argument(error);
  // Checked once here: otherwise every attempt would fail the same way, slowly.
  if (!opts.ca_file.empty() && !net::make_client_tls_context(opts.ca_file, error))
    throw std::invalid_argument(error);
  shared_ = std::make_shared<detail::client_shared>();
  shared_->callbacks = std::move(callbacks);
  shared_->max_pending = opts.max_pending_publishes;
  io_ = std::make_shared<detail::client_io>();
  actor_ =
      std::make_unique<caf::actor>(detail::spawn_client_actor(sys, shared_, std::move(opts), io_));
}

client::~client() {
  close();
  // The actor ends after the link's bounded graceful close and the
  // supervisor's bounded wait; past that something is wedged, and the
  // caller's objects must still be safe from late callbacks.
  auto bound = 3 * close_timeout_ + duration{1000};
  auto gone = [this] { return shared_->actor_gone; };
  std::unique_lock lock{shared_->mtx};
  if (!shared_->cv.wait_for(lock, bound, gone)) {
    lock.unlock();
    log::error(*log::get("client"), "client actor did not stop in time; killing it");
    shared_->muted = true;
    caf::anon_send_exit(*actor_, caf::exit_reason::kill);
    lock.lock();
    shared_->cv.wait_for(lock, duration{1000}, gone);
  }
  lock.unlock();
  io_->stop(close_timeout_);
}

bool client::subscribe(std::string channel, bool presence) {
  if (shared_->closed || !detail::is_valid_channel(channel)) return false;
  caf::anon_send(*actor_, detail::client_subscribe_atom::value, std::move(channel), presence);
  return true;
}

bool client::ask_presence(std::string channel) {
  if (shared_->closed || !detail::is_valid_channel(channel)) return false;
  caf::anon_send(*actor_, detail::client_ask_presence_atom::value, std::move(channel));
  return true;
}

bool client::unsubscribe(std::string channel) {
  if (shared_->closed || !detail::is_valid_channel(channel)) return false;
  caf::anon_send(*actor_, detail::client_unsubscribe_atom::value, std::move(channel));
  return true;
}

publish_result client::publish(std::string channel, std::string json_data) {
  if (shared_->closed) return publish_result::closed;
  if (!detail::is_valid_channel(channel) || !detail::is_json_value(json_data))
    return publish_result::invalid;
  // Reserve a slot before handing the publish over, so the bound holds for
  // any number of publishing threads without asking the actor.
  auto n = shared_->pending.load();
  do {
    if (n >= shared_->max_pending) return publish_result::full;
  } while (!shared_->pending.compare_exchange_weak(n, n + 1));
  caf::anon_send(*actor_, detail::client_publish_atom::value, std::move(channel),
                 std::move(json_data));
  return publish_result::queued;
}

void client::close() {
  if (!shared_->closed.exchange(true)) caf::anon_send(*actor_, detail::client_close_atom::value);
}

client_stats client::stats() const {
  std::lock_guard guard{shared_->mtx};
  return shared_->stats;
}

bool client::wait_for(const std::function<bool(const client_stats&)>& pred,
                      duration timeout) const {
  std::unique_lock lock{shared_->mtx};
  return shared_->cv.wait_for(lock, timeout, [&] { return pred(shared_->stats); });
}

}  // namespace wsvisor
