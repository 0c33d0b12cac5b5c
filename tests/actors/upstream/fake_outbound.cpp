#include "tests/actors/upstream/fake_outbound.hpp"

#include <gtest/gtest.h>

#include "tests/actors/fake_transport.hpp"

namespace wsvisor::test {

void fake_outbound::send(std::string text, std::uint64_t tag) {
  std::lock_guard lock{mtx_};
  if (ended_ || close_called_) return;
  sent_.emplace_back(tag, std::move(text));
  cv_.notify_all();
}

void fake_outbound::close() {
  {
    std::lock_guard lock{mtx_};
    if (ended_) return;
    close_called_ = true;
  }
  end(outbound_end::closed);
}

void fake_outbound::abort() {
  std::lock_guard lock{mtx_};
  ended_ = true;
  cv_.notify_all();
}

void fake_outbound::open(std::string subprotocol) {
  {
    std::lock_guard lock{mtx_};
    if (ended_) return;
  }
  events_.on_open(std::move(subprotocol));
}

void fake_outbound::text(std::string payload) {
  {
    std::lock_guard lock{mtx_};
    if (ended_) return;
  }
  events_.on_text(std::move(payload));
}

void fake_outbound::write_all() {
  std::size_t n;
  {
    std::lock_guard lock{mtx_};
    n = sent_.size() - confirmed_;
  }
  write(n);
}

void fake_outbound::write(std::size_t n) {
  std::vector<std::uint64_t> tags;
  {
    std::lock_guard lock{mtx_};
    for (; n > 0 && confirmed_ < sent_.size(); --n) tags.push_back(sent_[confirmed_++].first);
  }
  if (events_.on_written)
    for (auto tag : tags) events_.on_written(tag);
}

void fake_outbound::end(outbound_end kind, std::string detail) {
  {
    std::lock_guard lock{mtx_};
    if (ended_) return;
    ended_ = true;
    cv_.notify_all();
  }
  events_.on_closed(outbound_result{.kind = kind, .detail = std::move(detail)});
}

std::vector<std::pair<std::uint64_t, std::string>> fake_outbound::await_sent(std::size_t n) {
  std::unique_lock lock{mtx_};
  if (!cv_.wait_for(lock, await_timeout, [&] { return sent_.size() >= n; }))
    ADD_FAILURE() << "only " << sent_.size() << " of " << n << " frames were sent";
  return sent_;
}

std::vector<std::pair<std::uint64_t, std::string>> fake_outbound::sent() {
  std::lock_guard lock{mtx_};
  return sent_;
}

bool fake_outbound::closed_or_aborted() {
  std::unique_lock lock{mtx_};
  return cv_.wait_for(lock, await_timeout, [&] { return ended_ || close_called_; });
}

outbound_dialer fake_dialer::dialer() {
  return [state = state_](outbound_options opts, outbound_events events) -> outbound_socket_ptr {
    auto socket = std::make_shared<fake_outbound>(std::move(opts), std::move(events));
    std::lock_guard lock{state->mtx};
    state->sockets.push_back(socket);
    state->cv.notify_all();
    return socket;
  };
}

std::shared_ptr<fake_outbound> fake_dialer::await_dial(std::size_t n) {
  std::unique_lock lock{state_->mtx};
  if (!state_->cv.wait_for(lock, await_timeout, [&] { return state_->sockets.size() >= n; })) {
    ADD_FAILURE() << "only " << state_->sockets.size() << " of " << n << " dials happened";
    return nullptr;
  }
  return state_->sockets[n - 1];
}

std::size_t fake_dialer::dials() {
  std::lock_guard lock{state_->mtx};
  return state_->sockets.size();
}

}  // namespace wsvisor::test
