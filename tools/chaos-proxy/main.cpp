/// chaos-proxy: a fault-injecting TCP proxy. Usage: `chaos-proxy --help`
/// and tools/chaos-proxy/README.md.

#include <pthread.h>
#include <signal.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "tools/chaos-proxy/cli.hpp"

int main(int argc, char** argv) {
  using namespace wsvisor::chaos;
  auto parsed = parse_cli(argc, argv);
  if (!parsed.ok()) {
    std::cerr << "chaos-proxy: " << parsed.error << " (try --help)\n";
    return 2;
  }
  if (parsed.plan.help) {
    std::cout << usage_text();
    return 0;
  }
  // Blocked before any thread starts, so every thread inherits the mask and
  // only sigwait below takes these signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Static: the stdin reader below is detached and may outlive main's frame.
  static std::mutex proxy_mtx;
  static std::unique_ptr<chaos_proxy> proxy;
  try {
    proxy = std::make_unique<chaos_proxy>(parsed.plan.proxy);
  } catch (const std::exception& e) {
    std::cerr << "chaos-proxy: " << e.what() << "\n";
    return 1;
  }
  apply(parsed.plan, *proxy);
  const auto& o = parsed.plan.proxy;
  std::cerr << "chaos-proxy: listening on " << o.listen_host << ":" << proxy->port()
            << ", forwarding to " << o.target_host << ":" << o.target_port << std::endl;

  // Commands on stdin. The reader may block in getline when a signal ends
  // the proxy, so it is detached, and the proxy is reached under a lock that
  // the shutdown takes too.
  std::thread{[] {
    for (std::string line; std::getline(std::cin, line);) {
      std::lock_guard guard{proxy_mtx};
      if (!proxy) return;
      auto reply = run_command(*proxy, line);
      if (!reply.empty()) std::cout << reply << std::endl;
    }
  }}.detach();

  int signo = 0;
  sigwait(&stop_signals, &signo);
  std::lock_guard guard{proxy_mtx};
  std::cerr << "chaos-proxy: " << strsignal(signo) << ": " << format_stats(proxy->stats())
            << std::endl;
  proxy.reset();
  return 0;
}
