#pragma once

/// Runs a program as a child process for end-to-end tests: its stdout and
/// stderr are captured, lines can be awaited with a deadline, signals sent
/// and the exit status collected. Every wait is bounded; nothing sleeps.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace wsvisor::test {

class child_process {
 public:
  /// Starts `path` with `args` (argv[0] is `path`). Throws on spawn failure.
  child_process(const std::string& path, const std::vector<std::string>& args);
  ~child_process();  // kills the child if it still runs
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Reads stderr until a line satisfies `pred` or the deadline passes;
  /// returns that line.
  std::optional<std::string> wait_for_stderr_line(
      const std::function<bool(const std::string&)>& pred,
      std::chrono::milliseconds timeout = std::chrono::seconds{20});

  /// The same for stdout.
  std::optional<std::string> wait_for_stdout_line(
      const std::function<bool(const std::string&)>& pred,
      std::chrono::milliseconds timeout = std::chrono::seconds{20});

  /// Waits for the child to exit (draining its output); nullopt on timeout.
  /// The result is the exit status, or 128 + signal number if killed.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds{20});

  void send_signal(int signo);

  const std::string& stdout_text() const { return out_; }
  const std::string& stderr_text() const { return err_; }
  pid_t pid() const { return pid_; }

 private:
  // Reads whatever is available on either pipe, waiting at most `timeout`.
  // Returns 1 after reading, 0 when nothing arrived, -1 once both are closed.
  int pump(std::chrono::milliseconds timeout);
  std::optional<std::string> wait_for_line(const std::string& text, std::size_t& scanned,
                                           const std::function<bool(const std::string&)>& pred,
                                           std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  std::size_t err_scanned_ = 0;
  std::size_t out_scanned_ = 0;
  std::optional<int> status_;
};

/// Awaits a stderr line containing `marker` (a `listening` line, say) and
/// returns the port of the first `127.0.0.1:PORT` in it; 0 when no such line
/// came before the deadline or it names no loopback port.
std::uint16_t await_loopback_port(child_process& p, const std::string& marker,
                                  std::chrono::milliseconds timeout = std::chrono::seconds{20});

/// Runs a program to completion (bounded) and returns the child afterwards.
struct run_result {
  int status;
  std::string out;
  std::string err;
};
run_result run_to_exit(const std::string& path, const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout = std::chrono::seconds{30});

}  // namespace wsvisor::test
