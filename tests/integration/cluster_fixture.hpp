#pragma once

/// The fixture of the cluster suites (cluster_test.cpp, cluster_ops_test.cpp):
/// a cluster of real wsvisor processes on loopback; on failure the nodes'
/// last log lines are printed and their full logs and configurations written
/// to $TMPDIR/wsvisor-cluster-logs/TEST/NODE.{log,toml}.

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/cluster_nodes.hpp"

namespace wsvisor::test {

class Cluster : public ::testing::Test {
 protected:
  cluster& make(const std::vector<std::string>& names, cluster::mesh m = cluster::mesh::full) {
    cl_ = std::make_unique<cluster>(WSVISOR_BINARY, names, m);
    return *cl_;
  }

  /// A one-node cluster whose only peer is an address nobody listens on: its
  /// link fails at once and is restarted after `backoff_min` to `backoff_max`,
  /// without end. Returns the node (not started) and sets `dead` to the address.
  cluster_node& alone_with_a_dead_peer(std::string& dead, ms backoff_min, ms backoff_max) {
    auto& n = make({"a"}).node("a");
    dead = "127.0.0.1:" + std::to_string(free_ports(1).front());
    n.settings().peers = {dead};
    n.settings().backoff_min = backoff_min;
    n.settings().backoff_max = backoff_max;
    return n;
  }

  void TearDown() override {
    if (!cl_ || !HasFailure()) return;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    auto dir = std::filesystem::temp_directory_path() / "wsvisor-cluster-logs" / info->name();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    for (auto& n : cl_->nodes()) {
      std::ofstream{dir / (n->name() + ".log")} << n->log();
      std::ofstream{dir / (n->name() + ".toml")} << n->config_text();
    }
    std::cerr << "---- node logs (full logs in " << dir.string() << ") ----" << cl_->tails(60)
              << "\n";
  }

  std::unique_ptr<cluster> cl_;
};

}  // namespace wsvisor::test
