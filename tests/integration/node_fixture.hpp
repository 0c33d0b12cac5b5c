#pragma once

/// Runs a real wsvisor node in-process (listener on an OS-chosen loopback
/// port, its own actor system and I/O thread) for integration tests.

#include <charconv>
#include <cstdlib>
#include <string_view>
#include <thread>

#include <gtest/gtest.h>

#include "app/node.hpp"

namespace wsvisor::test {

/// The in-process node's config. WSVISOR_TEST_IO_THREADS, when set to a
/// number, is its `server.io_threads` (the tsan test preset asks for 2, so
/// that actors on the io scheduler really run on two threads).
inline config integration_config() {
  config cfg;
  cfg.server.listen = "127.0.0.1:0";
  cfg.log.level = log_level::warn;
  if (const char* env = std::getenv("WSVISOR_TEST_IO_THREADS")) {
    std::string_view text{env};
    std::uint32_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc{} && end == text.data() + text.size()) cfg.server.io_threads = n;
    else ADD_FAILURE() << "WSVISOR_TEST_IO_THREADS is not a number: " << text;
  }
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
