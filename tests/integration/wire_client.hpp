#pragma once

/// A wsvisor.v1 speaker for integration tests, over tests/support/ws_client:
/// sends frames built from JSON, receives frames as JSON objects, answers
/// `ping` itself unless told not to. Every wait has a deadline.

#include <cstdint>
#include <optional>
#include <string>

#include <boost/json.hpp>

#include "tests/support/ws_client.hpp"

namespace wsvisor::test {

class wire_client {
 public:
  using ms = std::chrono::milliseconds;

  /// Connects to the node's WebSocket path offering wsvisor.v1; fails the
  /// test (ADD_FAILURE) when the upgrade is refused.
  explicit wire_client(std::uint16_t port);

  void send(const boost::json::object& frame);
  void send_raw(std::string_view text) { ws_.send_text(text); }

  /// The next non-ping frame (pings are answered with pong unless
  /// `answer_pings` is false), or nullopt when the connection closed or the
  /// deadline passed; `last_event()` then says which.
  std::optional<boost::json::object> next(ms timeout = ms{5000});

  /// The next frame, which must be of `type` (else ADD_FAILURE and an empty object).
  boost::json::object expect(std::string_view type, ms timeout = ms{5000});

  /// Waits for the server to close; returns its close code, or 0 on timeout.
  std::uint16_t await_close(ms timeout = ms{10000});

  /// hello → welcome; resume → welcome.
  boost::json::object hello();
  boost::json::object resume(const std::string& session, const std::string& token,
                             std::uint64_t last_seq);

  void subscribe(const std::string& channel);  // waits for `subscribed`
  /// Publishes and waits for the matching ack.
  void publish(const std::string& channel, const boost::json::value& data, std::uint64_t cseq);

  bool answer_pings = true;
  ws_client& socket() { return ws_; }
  const ws_event& last_event() const { return last_; }

 private:
  ws_client ws_;
  ws_event last_;
};

}  // namespace wsvisor::test
