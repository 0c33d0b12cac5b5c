#include "tools/bench/stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace wsbench {

void latencies::finish() {
  std::sort(us_.begin(), us_.end());
  sorted_ = true;
}

double latencies::percentile(double p) const {
  if (us_.empty()) return 0;
  if (!sorted_) return -1;  // a programming error: finish() first
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(us_.size())));
  rank = std::clamp<std::size_t>(rank, 1, us_.size());
  return us_[rank - 1];
}

std::string latencies::cdf(int points) const {
  std::ostringstream out;
  if (us_.empty()) return {};
  for (int i = 0; i <= points; ++i) {
    double p = 100.0 * i / points;
    out << p << ' ' << percentile(p == 0 ? 0.0001 : p) << '\n';
  }
  return out.str();
}

std::optional<process_sample> sample_process(pid_t pid) {
  process_sample s;
  {
    std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
    std::string line;
    if (!std::getline(stat, line)) return std::nullopt;
    // The command name (field 2) may hold spaces; fields resume after ')'.
    auto close = line.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream rest{line.substr(close + 2)};
    std::string field;
    unsigned long long utime = 0, stime = 0;
    // After ')': state is field 3; utime and stime are fields 14 and 15.
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    s.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  std::ifstream status{"/proc/" + std::to_string(pid) + "/status"};
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> s.rss_kib;
      return s;
    }
    status.ignore(1 << 16, '\n');
  }
  return std::nullopt;
}

double own_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

}  // namespace wsbench
