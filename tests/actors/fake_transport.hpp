#pragma once

/// Test doubles for the socket side of a connection (actors/transport.hpp).
///
/// `fake_transport` records every frame and the close, thread-safely (actors
/// call it from CAF's workers), and lets a test await the next frame or the
/// close with a timeout through a condition variable. `test_client` pairs one
/// with a real connection actor and speaks JSON to it.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json/object.hpp>
#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/session/connection.hpp"
#include "actors/transport.hpp"
#include "tests/support/json_fields.hpp"

namespace wsvisor::test {

/// How long a test waits for an event that should happen. Generous: awaiting
/// is not timing, and a loaded two-core machine under ASan can be slow. A
/// passing test never waits this long.
inline constexpr std::chrono::milliseconds await_timeout{10'000};

struct close_record {
  std::uint16_t code = 0;
  std::string reason;
};

class fake_transport final : public transport {
 public:
  explicit fake_transport(std::string peer = "127.0.0.1:50000");
  ~fake_transport() override;

  send_result send(out_frame frame) override;
  void close(std::uint16_t code, std::string reason) override;
  std::string peer() const override;
  /// A real timer on a thread of its own (started on first use); it does
  /// not fire once the transport is closed.
  void set_timer(std::chrono::milliseconds delay, std::function<void()> fn) override;

  /// The oldest frame not taken yet, waiting up to `timeout` for one.
  std::optional<out_frame> next_frame(std::chrono::milliseconds timeout = await_timeout);

  /// The close, waiting up to `timeout` for it.
  std::optional<close_record> await_close(std::chrono::milliseconds timeout = await_timeout);

  /// Every frame sent so far, taken or not.
  std::vector<out_frame> frames() const;

 private:
  std::string peer_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<out_frame> frames_;
  std::size_t taken_ = 0;
  std::optional<close_record> close_;

  void timer_loop();
  std::mutex timer_mtx_;  // taken before mtx_ when both are needed
  std::condition_variable timer_cv_;
  std::function<void()> timer_fn_;
  std::chrono::steady_clock::time_point timer_due_;
  bool timer_stop_ = false;
  std::thread timer_thread_;
};

/// A client of one real connection actor over a fake transport.
class test_client {
 public:
  test_client(caf::actor_system& sys, connection_options opts);

  /// Delivers one text frame to the connection, as net/ would.
  void send(std::string text);
  void send(const boost::json::object& frame);
  void send_binary(std::string bytes = std::string{"\x00\x01", 2});
  /// The socket went away (close frame, reset): ws_closed.
  void drop(std::uint16_t code = 1006);

  /// The next frame as a JSON object, skipping pings unless `pings` is set.
  /// On timeout or invalid JSON: a test failure and an empty object.
  boost::json::object next(bool pings = false);

  /// next(), and a test failure unless its `type` is `type`.
  boost::json::object expect(std::string_view type);

  std::optional<close_record> await_close() { return transport_->await_close(); }

  fake_transport& transport() { return *transport_; }
  const caf::actor& actor() const { return conn_; }

 private:
  std::shared_ptr<fake_transport> transport_;
  caf::actor conn_;
};

/// The integer field `key` of `obj`, or -1 if absent or not an integer.
std::int64_t num(const boost::json::object& obj, std::string_view key);

/// Parses `head + *body` of an outbound frame; a test failure if it is not an object.
boost::json::object parse_frame(const out_frame& frame);

/// True iff `actor` terminates within `timeout`.
bool await_down(caf::actor_system& sys, const caf::actor& actor,
                std::chrono::milliseconds timeout = await_timeout);

}  // namespace wsvisor::test
