#include "app/systemd_notify.hpp"

#include <time.h>

#include <string>

#include <systemd/sd-daemon.h>

namespace wsvisor::systemd {

namespace {

// unset_environment = 0: every later notification needs NOTIFY_SOCKET too.
void send(const std::string& state) { sd_notify(0, state.c_str()); }

}  // namespace

void notify_ready() { send("READY=1"); }

void notify_stopping() { send("STOPPING=1"); }

void notify_reloading() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  auto usec = static_cast<unsigned long long>(now.tv_sec) * 1'000'000ull +
              static_cast<unsigned long long>(now.tv_nsec) / 1000ull;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void notify_status(std::string_view text) {
  std::string line{text};
  for (auto& c : line)
    if (c == '\n') c = ' ';
  send("STATUS=" + line);
}

}  // namespace wsvisor::systemd
