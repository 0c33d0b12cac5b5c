#pragma once

/// Runs a real wsvisor node in-process (listener on an OS-chosen loopback
/// port, its own actor system and I/O threads) for integration tests.
///
/// The node runs the default scheduler (`io`: actors on the I/O threads)
/// with `io_threads` from the environment variable WSVISOR_TEST_IO_THREADS,
/// else 2, so that sessions, connections and sockets meet across threads;
/// tests/integration/CMakeLists.txt runs the suites again with 1 and 4.

#include <cstdlib>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "app/node.hpp"

namespace wsvisor::test {

inline std::uint32_t test_io_threads() {
  const char* env = std::getenv("WSVISOR_TEST_IO_THREADS");
  return env != nullptr && *env != 0 ? static_cast<std::uint32_t>(std::stoul(env)) : 2;
}

inline config integration_config() {
  config cfg;
  cfg.server.listen = "127.0.0.1:0";
  cfg.server.io_threads = test_io_threads();
  cfg.log.level = log_level::warn;
  return cfg;
}

class NodeTest : public ::testing::Test {
 protected:
  /// Starts the node; call once per test, after adjusting `cfg_`.
  void start_node() {
    node_ = std::make_unique<node>(cfg_, node_options{.handle_signals = false});
    auto err = node_->start();
    ASSERT_EQ(err, "");
    runner_ = std::thread{[this] { status_ = node_->run(); }};
  }

  void TearDown() override {
    if (!node_) return;
    node_->stop();
    if (runner_.joinable()) runner_.join();
    EXPECT_EQ(status_, exit_ok);
    node_.reset();
  }

  std::uint16_t port() const { return node_->http_port(); }

  config cfg_ = integration_config();
  std::unique_ptr<node> node_;
  std::thread runner_;
  int status_ = -1;
};

}  // namespace wsvisor::test
