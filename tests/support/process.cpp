#include "tests/support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace wsvisor::test {

using clock = std::chrono::steady_clock;

child_process::child_process(const std::string& path, const std::vector<std::string>& args) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe: " + std::string{std::strerror(errno)});
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int rc = posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  if (rc != 0) throw std::runtime_error("posix_spawn " + path + ": " + std::strerror(rc));
}

child_process::~child_process() {
  if (!status_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

int child_process::pump(std::chrono::milliseconds timeout) {
  pollfd fds[2];
  int n = 0;
  if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
  if (n == 0) return -1;
  int rc = poll(fds, n, static_cast<int>(timeout.count()));
  if (rc <= 0) return 0;
  for (int i = 0; i < n; ++i) {
    if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    char buf[4096];
    auto got = read(fds[i].fd, buf, sizeof buf);
    bool is_out = fds[i].fd == out_fd_;
    if (got > 0) {
      (is_out ? out_ : err_).append(buf, static_cast<std::size_t>(got));
    } else if (got == 0 || errno != EINTR) {
      close(fds[i].fd);
      (is_out ? out_fd_ : err_fd_) = -1;
    }
  }
  return 1;
}

std::optional<std::string> child_process::wait_for_line(
    const std::string& text, std::size_t& scanned,
    const std::function<bool(const std::string&)>& pred, std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  for (;;) {
    for (auto nl = text.find('\n', scanned); nl != std::string::npos;
         nl = text.find('\n', scanned)) {
      auto line = text.substr(scanned, nl - scanned);
      scanned = nl + 1;
      if (pred(line)) return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0 || pump(left) < 0) return std::nullopt;
  }
}

std::optional<std::string> child_process::wait_for_stderr_line(
    const std::function<bool(const std::string&)>& pred, std::chrono::milliseconds timeout) {
  return wait_for_line(err_, err_scanned_, pred, timeout);
}

std::optional<std::string> child_process::wait_for_stdout_line(
    const std::function<bool(const std::string&)>& pred, std::chrono::milliseconds timeout) {
  return wait_for_line(out_, out_scanned_, pred, timeout);
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  while (!status_) {
    int st;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) return std::nullopt;
    // Output is drained while waiting so that a chatty child cannot block
    // on a full pipe; once the pipes are closed, waitpid is polled briefly.
    if (pump(std::min(left, std::chrono::milliseconds{20})) < 0) poll(nullptr, 0, 5);
  }
  while (pump(std::chrono::milliseconds{0}) > 0) {
  }
  return status_;
}

void child_process::send_signal(int signo) {
  if (!status_) kill(pid_, signo);
}

std::uint16_t await_loopback_port(child_process& p, const std::string& marker,
                                  std::chrono::milliseconds timeout) {
  auto line = p.wait_for_stderr_line(
      [&marker](const std::string& l) { return l.find(marker) != std::string::npos; }, timeout);
  const std::string loopback = "127.0.0.1:";
  auto at = line ? line->find(loopback) : std::string::npos;
  if (at == std::string::npos) return 0;
  // (std::regex trips a GCC 12 false positive under ASan, hence by hand.)
  unsigned port = 0;
  for (auto i = at + loopback.size(); i < line->size() && port <= 65535; ++i) {
    auto c = (*line)[i];
    if (c < '0' || c > '9') break;
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  return port <= 65535 ? static_cast<std::uint16_t>(port) : 0;
}

run_result run_to_exit(const std::string& path, const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout) {
  child_process p{path, args};
  auto st = p.wait_exit(timeout);
  return {st.value_or(-1), p.stdout_text(), p.stderr_text()};
}

}  // namespace wsvisor::test
