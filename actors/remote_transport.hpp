#pragma once

/// The transport of a session attached to a connection on another node: the
/// session writes to it as to a local socket, and every frame travels to the
/// connection actor as (connection_write_atom, frame) over CAF's middleman. The
/// connection writes it to its own socket and gives credit back
/// (connection_credit_atom) once the frame has left its queue, so a session
/// replaying a large buffer to a slow client behind another node waits
/// (has_room/when_room) instead of flooding the link or the remote queue.
///
/// Thread-safety as for every transport: any member from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include <caf/actor.hpp>

#include "actors/transport.hpp"

namespace wsvisor {

class remote_transport final : public transport {
 public:
  /// `window` bounds the bytes sent but not yet credited.
  remote_transport(caf::actor connection, std::string peer, std::uint64_t window);

  send_result send(out_frame frame) override;
  void close(std::uint16_t code, std::string reason) override;
  std::string peer() const override { return peer_; }
  bool has_room() const override;
  void when_room(std::function<void()> fn) override;
  /// A remote session keeps no timers on the connection's behalf.
  void set_timer(std::chrono::milliseconds, std::function<void()>) override {}

  /// The connection wrote `bytes` of earlier frames.
  void credit(std::uint64_t bytes);

 private:
  caf::actor conn_;
  std::string peer_;
  std::uint64_t window_;
  std::atomic<std::uint64_t> in_flight_{0};
  std::atomic<bool> closed_{false};
  std::mutex mutex_;
  std::function<void()> on_room_;  // guarded by mutex_
};

}  // namespace wsvisor
