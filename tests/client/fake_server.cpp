#include "tests/client/fake_server.hpp"

#include "tests/client/fake_server_impl.hpp"

namespace wsvisor::test {

void fake_server_impl::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
    if (ec) return;
    std::make_shared<fake_conn>(std::move(s), self.get())->start();
    self->accept();
  });
}

fake_server::fake_server(fake_server_options opts)
    : impl_(std::make_shared<fake_server_impl>(opts)) {
  impl_->accept();
  impl_->thread = std::thread([i = impl_.get()] { i->ioc.run(); });
}

fake_server::~fake_server() {
  impl_->run_sync([i = impl_.get()] {
    beast::error_code ignored;
    i->acceptor.close(ignored);
    for (auto& w : i->conns)
      if (auto c = w.lock()) c->on_gone();
    i->sessions.clear();
    return 0;
  });
  // Every socket is closed: run() returns once the aborted handlers ran.
  impl_->work.reset();
  impl_->thread.join();
}

std::uint16_t fake_server::port() const { return impl_->acceptor.local_endpoint().port(); }

std::string fake_server::url() const { return "ws://127.0.0.1:" + std::to_string(port()) + "/ws"; }

void fake_server::publish(const std::string& channel, const std::string& json_data) {
  impl_->run_sync([&] {
    impl_->fan_out(channel, json_data);
    return 0;
  });
}

void fake_server::send_raw(const std::string& text) {
  impl_->run_sync([&] {
    for (auto it = impl_->conns.rbegin(); it != impl_->conns.rend(); ++it) {
      if (auto c = it->lock(); c && !c->dead) {
        c->send(text);
        break;
      }
    }
    return 0;
  });
}

void fake_server::goaway(std::uint64_t retry_ms, std::optional<std::string> url) {
  json::object o{{"type", "goaway"}, {"reason", "shutdown"}, {"retry_ms", retry_ms}};
  if (url) o["url"] = *url;
  auto text = encode(std::move(o));
  impl_->run_sync([&] {
    for (auto& w : impl_->conns) {
      if (auto c = w.lock(); c && !c->dead) {
        c->send(text);
        c->close_with(1001);
      }
    }
    return 0;
  });
}

void fake_server::set_silent(bool on) {
  impl_->run_sync([&] { return impl_->silent = on; });
}

void fake_server::fail_next_resume(std::string reason) {
  impl_->run_sync([&] {
    impl_->forced_reset = std::move(reason);
    return 0;
  });
}

void fake_server::set_ack_publishes(bool on) {
  impl_->run_sync([&] { return impl_->opts.ack_publishes = on; });
}

void fake_server::set_drop_publishes(bool on) {
  impl_->run_sync([&] { return impl_->drop_publishes = on; });
}

std::vector<received_frame> fake_server::frames() const {
  std::lock_guard guard{impl_->mtx};
  return impl_->log;
}

std::optional<received_frame> fake_server::await_frame(
    const std::function<bool(const received_frame&)>& pred, std::chrono::milliseconds timeout,
    std::size_t from) const {
  std::unique_lock lock{impl_->mtx};
  std::optional<received_frame> found;
  impl_->cv.wait_for(lock, timeout, [&] {
    for (auto i = from; i < impl_->log.size(); ++i) {
      if (pred(impl_->log[i])) {
        found = impl_->log[i];
        return true;
      }
    }
    return false;
  });
  return found;
}

bool fake_server::await_connections(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock{impl_->mtx};
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->upgrades >= n; });
}

std::size_t fake_server::connections() const {
  std::lock_guard guard{impl_->mtx};
  return impl_->upgrades;
}

std::vector<std::string> fake_server::offered_protocols() const {
  std::lock_guard guard{impl_->mtx};
  return impl_->protocols;
}

std::vector<accepted_publish> fake_server::accepted_publishes() const {
  std::lock_guard guard{impl_->mtx};
  return impl_->accepted;
}

}  // namespace wsvisor::test
