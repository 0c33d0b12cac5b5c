#pragma once

/// The workloads of the load generator (docs/benchmarks.md says what each
/// measures and how). Each runs against one server, or against the nodes of
/// one cluster (`target::ports`: client i connects to node i mod K, a
/// publisher to the first; failover's to the second), and returns its
/// figures as one JSON object. Failover needs a cluster: it kills the first
/// node (`kill_pid`) mid-run.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "tools/bench/client.hpp"

namespace wsbench {

struct options {
  std::string workload;  // roundtrip | fanout | idle | detached | storm | connrate | failover
  std::string label;     // the server's name in the output
  target to;
  std::vector<pid_t>
      server_pids;        // CPU and RSS, summed (a cluster's processes); none: not measured
  std::uint32_t n = 100;  // connections / subscribers / sessions
  std::size_t payload = 64;
  filler fill = filler::x;  // what pads the payload (wire.hpp)
  double warmup_s = 1;
  double duration_s = 5;
  double settle_s = 2;             // idle, detached: before reading RSS
  int threads = 1;                 // generator threads, one io_context each
  std::uint32_t window = 4;        // fanout: messages in flight
  double rate = 10;                // storm, failover: publishes per second
  double reconnect_delay_s = 0;    // storm: pause between the cut and the reconnect
  pid_t kill_pid = 0;              // failover: the first node's process, which it kills
  std::uint32_t concurrency = 32;  // connrate: clients connecting at once
  std::uint32_t batch = 500;       // connections opened at once while ramping up
  double timeout_s = 120;          // bound on any phase
  std::string cdf_file;            // latency CDF for gnuplot, if set
};

/// Runs `o.workload`; throws std::runtime_error naming what failed.
boost::json::object run_workload(const options& o);

}  // namespace wsbench
