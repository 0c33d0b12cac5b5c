#include "actors/remote_transport.hpp"

#include <utility>

#include <caf/send.hpp>

#include "actors/messages.hpp"

namespace wsvisor {

remote_transport::remote_transport(caf::actor connection, std::string peer, std::uint64_t window)
    : conn_(std::move(connection)), peer_(std::move(peer)), window_(window) {}

send_result remote_transport::send(out_frame frame) {
  if (closed_) return send_result::closed;
  std::string text = frame.head.str();
  if (frame.body) text += *frame.body;
  in_flight_ += text.size();
  caf::anon_send(conn_, connection_write_atom::value, std::move(text));
  return send_result::queued;
}

void remote_transport::close(std::uint16_t code, std::string reason) {
  if (closed_.exchange(true)) return;
  caf::anon_send(conn_, drop_connection_atom::value, code, std::move(reason));
  std::lock_guard guard{mutex_};
  on_room_ = nullptr;
}

bool remote_transport::has_room() const { return in_flight_ < window_ / 2; }

void remote_transport::when_room(std::function<void()> fn) {
  {
    std::lock_guard guard{mutex_};
    if (closed_) return;
    if (in_flight_ >= window_ / 4) {
      on_room_ = std::move(fn);
      return;
    }
  }
  fn();
}

void remote_transport::credit(std::uint64_t bytes) {
  auto now = in_flight_.load();
  while (!in_flight_.compare_exchange_weak(now, now >= bytes ? now - bytes : 0)) {
  }
  std::function<void()> fn;
  {
    std::lock_guard guard{mutex_};
    if (!on_room_ || in_flight_ >= window_ / 4) return;
    fn = std::move(on_room_);
    on_room_ = nullptr;
  }
  fn();
}

}  // namespace wsvisor
