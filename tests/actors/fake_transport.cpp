#include "tests/actors/fake_transport.hpp"

#include <utility>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <caf/actor_system.hpp>
#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "actors/messages.hpp"

namespace wsvisor::test {

namespace json = boost::json;

fake_transport::fake_transport(std::string peer) : peer_(std::move(peer)) {}

fake_transport::~fake_transport() {
  {
    std::lock_guard guard{timer_mtx_};
    timer_stop_ = true;
  }
  timer_cv_.notify_all();
  if (!timer_thread_.joinable()) return;
  if (timer_thread_.get_id() == std::this_thread::get_id())
    timer_thread_.detach();  // the last owner let go inside a callback
  else
    timer_thread_.join();
}

void fake_transport::set_timer(std::chrono::milliseconds delay, std::function<void()> fn) {
  std::lock_guard guard{timer_mtx_};
  timer_due_ = std::chrono::steady_clock::now() + delay;
  timer_fn_ = std::move(fn);
  if (!timer_thread_.joinable()) timer_thread_ = std::thread{[this] { timer_loop(); }};
  timer_cv_.notify_all();
}

void fake_transport::timer_loop() {
  std::unique_lock lock{timer_mtx_};
  while (!timer_stop_) {
    if (!timer_fn_) {
      timer_cv_.wait(lock);
      continue;
    }
    auto due = timer_due_;
    timer_cv_.wait_until(lock, due);
    if (timer_stop_ || !timer_fn_ || timer_due_ != due || std::chrono::steady_clock::now() < due)
      continue;
    auto fire = std::move(timer_fn_);
    timer_fn_ = nullptr;
    bool closed = false;
    {
      std::lock_guard guard{mtx_};
      closed = close_.has_value();
    }
    lock.unlock();
    if (!closed) fire();
    lock.lock();
  }
}

send_result fake_transport::send(out_frame frame) {
  std::lock_guard guard{mtx_};
  if (close_) return send_result::closed;
  frames_.push_back(std::move(frame));
  cv_.notify_all();
  return send_result::queued;
}

void fake_transport::close(std::uint16_t code, std::string reason) {
  std::lock_guard guard{mtx_};
  if (close_) return;
  close_ = close_record{code, std::move(reason)};
  cv_.notify_all();
}

std::string fake_transport::peer() const { return peer_; }

std::optional<out_frame> fake_transport::next_frame(std::chrono::milliseconds timeout) {
  std::unique_lock guard{mtx_};
  if (!cv_.wait_for(guard, timeout, [this] { return taken_ < frames_.size(); }))
    return std::nullopt;
  return frames_[taken_++];
}

std::optional<close_record> fake_transport::await_close(std::chrono::milliseconds timeout) {
  std::unique_lock guard{mtx_};
  if (!cv_.wait_for(guard, timeout, [this] { return close_.has_value(); })) return std::nullopt;
  return close_;
}

std::vector<out_frame> fake_transport::frames() const {
  std::lock_guard guard{mtx_};
  return frames_;
}

test_client::test_client(caf::actor_system& sys, connection_options opts)
    : transport_(std::make_shared<fake_transport>()),
      conn_(spawn_connection(sys, transport_, std::move(opts))) {}

void test_client::send(std::string text) {
  caf::anon_send(conn_, ws_text_atom::value, std::move(text));
}

void test_client::send(const json::object& frame) { send(json::serialize(frame)); }

void test_client::send_binary(std::string bytes) {
  caf::anon_send(conn_, ws_binary_atom::value, std::move(bytes));
}

void test_client::drop(std::uint16_t code) {
  caf::anon_send(conn_, ws_closed_atom::value, code, std::string{"test drop"});
}

json::object test_client::next(bool pings) {
  for (;;) {
    auto frame = transport_->next_frame();
    if (!frame) {
      ADD_FAILURE() << "no frame within " << await_timeout.count() << " ms";
      return {};
    }
    auto obj = parse_frame(*frame);
    if (!pings && str(obj, "type") == "ping") continue;
    return obj;
  }
}

json::object test_client::expect(std::string_view type) {
  auto obj = next();
  EXPECT_EQ(str(obj, "type"), type) << json::serialize(obj);
  return obj;
}

std::int64_t num(const json::object& obj, std::string_view key) {
  auto* v = obj.if_contains(key);
  if (v == nullptr) return -1;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return -1;
}

json::object parse_frame(const out_frame& frame) {
  auto text = frame.head.str() + (frame.body ? *frame.body : std::string{});
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << text;
    return {};
  }
  return std::move(value.get_object());
}

bool await_down(caf::actor_system& sys, const caf::actor& actor,
                std::chrono::milliseconds timeout) {
  caf::scoped_actor self{sys};
  self->monitor(actor);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; }, caf::after(timeout) >> [] {});
  return down;
}

}  // namespace wsvisor::test
