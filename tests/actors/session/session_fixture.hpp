#pragma once

/// A fixture for tests of sessions through the real actor stack: an actor
/// system, a session registry (with its broker) and test clients, each a real
/// connection actor over a fake transport.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/object.hpp>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actors/session/connection.hpp"
#include "actors/session/registry.hpp"
#include "tests/actors/fake_transport.hpp"

namespace wsvisor::test {

/// What a welcome told the client.
struct welcome_info {
  std::string session;
  std::string token;
  bool resumed = false;
  std::string reason;
  std::int64_t last_cseq = -1;
  std::int64_t replay = -1;  // a resume's messages that follow; -1: no field
};

/// Short but safe defaults: nothing times out during a test unless the test
/// shortens it on purpose.
session_config test_session_config();

class SessionFixture : public ::testing::Test {
 protected:
  SessionFixture();
  ~SessionFixture() override;

  /// Spawns the registry with `session_` and the other options as set by the
  /// test (call once, after adjusting them).
  void start_registry();

  /// A new client; the fixture drops it at the end.
  test_client& connect();

  /// Sends hello and returns the welcome.
  welcome_info hello(test_client& c);

  /// Sends resume and returns the welcome.
  welcome_info resume(test_client& c, const welcome_info& w, std::uint64_t last_seq);

  /// A welcomed subscriber on "news" and a welcomed publisher beside it.
  struct news_pair {
    test_client& reader;
    test_client& writer;
    welcome_info welcome;  // the reader's
  };
  news_pair reader_and_writer();

  /// Subscribes and awaits `subscribed`.
  void subscribe(test_client& c, const std::string& channel);

  /// Publishes `data` (an integer) with `cseq` and awaits the ack.
  void publish(test_client& c, const std::string& channel, std::int64_t data, std::uint64_t cseq);

  /// Awaits a `message` and checks its seq and integer data.
  void expect_message(test_client& c, std::int64_t seq, std::int64_t data,
                      const std::string& channel = "news");

  /// Asks the broker (as registered by the registry) for a channel's subscribers.
  std::uint64_t subscribers(const std::string& channel);

  /// Tells the broker, as a peer's cluster would, that publishes on
  /// `channel` were lost between nodes (cluster_gap_atom).
  void send_channel_gap(const std::string& channel);

  /// Asks the registry how many sessions are alive.
  std::uint64_t live_sessions();

  /// Returns once `whom` has handled every message this thread sent it
  /// before (its mailbox is FIFO; CAF answers ('sys', 'get', "info") in turn).
  void settle(const caf::actor& whom);

  /// True once `pred` holds, polling for up to await_timeout (for state that
  /// only a query can observe).
  bool eventually(const std::function<bool()>& pred);

  connection_options connection_opts() const;

  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  session_config session_ = test_session_config();
  registry_options registry_opts_;
  std::chrono::milliseconds handshake_timeout_{10'000};
  connection_options conn_opts_;  // limits, gate, auth (session and timeout are set from above)
  caf::actor registry_;
  std::deque<std::unique_ptr<test_client>> clients_;
};

}  // namespace wsvisor::test
