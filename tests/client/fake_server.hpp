#pragma once

/// A scripted wsvisor.v1 server for the client's tests (../shared/protocol.md):
/// Beast on 127.0.0.1, port chosen by the OS, one I/O thread. It keeps real
/// sessions (seq numbering, a replay buffer with eviction, resume with the
/// unknown / overflow outcomes, cseq dedup and bad_cseq, subscriptions,
/// bye), so the client is tested against the contract, while tests script
/// what a real server does only under load or failure: silence, goaway,
/// withheld acks, a forced resume failure, raw frames.
///
/// Threading: every member may be called from any thread; scripting calls
/// return once the server's thread has done the work (frames are queued).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

namespace wsvisor::test {

class fake_server_impl;

struct fake_server_options {
  std::uint64_t heartbeat_ms = 25'000;      // sent in welcome
  std::uint64_t resume_window_ms = 30'000;  // sent in welcome (not enforced)
  std::chrono::milliseconds ping_every{0};  // 0: no pings
  bool ack_publishes = true;                // false: accept publishes but send no ack
  std::size_t replay_buffer = 1024;         // messages kept per session
  bool select_subprotocol = true;           // false: the upgrade names no subprotocol
};

/// One frame the server received.
struct received_frame {
  std::size_t index = 0;  // position in the log, from 0
  std::size_t conn = 0;   // connection number, from 1
  std::string type;
  boost::json::object body;
  std::chrono::steady_clock::time_point at;
};

/// One publish the server accepted (published to its channel).
struct accepted_publish {
  std::string session;
  std::uint64_t cseq = 0;
  std::string channel;
  std::string data;
};

class fake_server {
 public:
  explicit fake_server(fake_server_options opts = {});
  ~fake_server();
  fake_server(const fake_server&) = delete;
  fake_server& operator=(const fake_server&) = delete;

  std::uint16_t port() const;
  std::string url() const;  // ws://127.0.0.1:<port>/ws

  // -- scripting --
  /// Publishes on `channel` as if another client had: every session
  /// subscribed gets it with its next seq (buffered; sent if attached).
  void publish(const std::string& channel, const std::string& json_data);
  /// Sends `text` as is on the newest open connection.
  void send_raw(const std::string& text);
  /// Sends goaway on every open connection, then closes each with 1001.
  void goaway(std::uint64_t retry_ms, std::optional<std::string> url = std::nullopt);
  /// While on, nothing at all is sent on any connection (not even pings).
  void set_silent(bool on);
  /// Answers the next resume with resumed: false and `reason` (a new session).
  void fail_next_resume(std::string reason);
  void set_ack_publishes(bool on);
  /// While on, publishes are logged but otherwise ignored, as if lost on
  /// the way: neither accepted nor acknowledged.
  void set_drop_publishes(bool on);

  // -- observation --
  std::vector<received_frame> frames() const;
  /// The first frame at index >= `from` satisfying `pred`, waiting up to `timeout`.
  std::optional<received_frame> await_frame(const std::function<bool(const received_frame&)>& pred,
                                            std::chrono::milliseconds timeout,
                                            std::size_t from = 0) const;
  /// Waits until at least `n` WebSocket connections were accepted.
  bool await_connections(std::size_t n, std::chrono::milliseconds timeout) const;
  std::size_t connections() const;
  /// The subprotocols each upgrade request offered, in connection order.
  std::vector<std::string> offered_protocols() const;
  std::vector<accepted_publish> accepted_publishes() const;

 private:
  std::shared_ptr<fake_server_impl> impl_;
};

}  // namespace wsvisor::test
