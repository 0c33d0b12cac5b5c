#pragma once

/// Counting for the load generator: latency samples and their percentiles,
/// per-receiver loss and duplicate detection, and what /proc says about a
/// process (CPU time, RSS). No sockets; the tests check these directly.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wsbench {

/// Latency samples in microseconds. Each generator thread fills its own and
/// they are merged once the run is over.
class latencies {
 public:
  void add(std::int64_t ns) { us_.push_back(static_cast<std::uint32_t>(ns < 0 ? 0 : ns / 1000)); }
  void merge(const latencies& other) { us_.insert(us_.end(), other.us_.begin(), other.us_.end()); }
  std::size_t size() const { return us_.size(); }
  /// Sorts, then answers percentiles (0..100) by nearest rank; 0 when empty.
  void finish();
  double percentile(double p) const;
  /// `points` lines "percentile microseconds", for a gnuplot CDF.
  std::string cdf(int points = 200) const;

 private:
  std::vector<std::uint32_t> us_;
  bool sorted_ = false;
};

/// The messages one receiver got from one sender, numbered 1, 2, 3, ... by
/// the sender. A number at or below the highest seen is a duplicate; numbers
/// skipped over are lost (counted when skipped, and at the end those never
/// received up to the sender's last).
class sequence_check {
 public:
  void receive(std::uint64_t k) {
    ++received_;
    if (k <= last_) {
      ++duplicates_;
      return;
    }
    lost_ += k - last_ - 1;
    last_ = k;
  }
  /// Messages lost so far, counting those after `last` up to `sent`.
  std::uint64_t lost(std::uint64_t sent) const { return lost_ + (sent > last_ ? sent - last_ : 0); }
  std::uint64_t duplicates() const { return duplicates_; }
  std::uint64_t received() const { return received_; }
  std::uint64_t last() const { return last_; }

 private:
  std::uint64_t last_ = 0;
  std::uint64_t lost_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t received_ = 0;
};

/// A process's CPU time (user + system, all threads) and resident set.
struct process_sample {
  double cpu_s = 0;
  std::uint64_t rss_kib = 0;
};
/// Reads /proc/PID/stat and /proc/PID/status; nullopt if the process is gone.
std::optional<process_sample> sample_process(pid_t pid);
/// This process, through getrusage (includes every thread).
double own_cpu_seconds();

}  // namespace wsbench
