// Free loopback ports for the nodes of a test cluster
// (tests/support/cluster_nodes.hpp).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/cluster_nodes.hpp"

namespace wsvisor::test {

namespace {

// Binds a loopback TCP socket to `port` (0: any); -1 if that fails.
int bind_loopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket: " + std::string{std::strerror(errno)});
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::uint16_t bound_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// The start of the kernel's ephemeral range (ports it gives outgoing connections).
unsigned ephemeral_low() {
  std::ifstream in{"/proc/sys/net/ipv4/ip_local_port_range"};
  unsigned low = 32768;
  in >> low;
  return low;
}

}  // namespace

// Ports below the ephemeral range when there is room: a node that is down
// for a while (killed, restarting) must find its ports still free, and an
// ephemeral port may be handed to any outgoing connection meanwhile (the
// test's clients reconnecting elsewhere, peers' link attempts).
std::vector<std::uint16_t> free_ports(std::size_t n) {
  std::vector<int> fds;
  std::vector<std::uint16_t> ports;
  auto low = ephemeral_low();
  constexpr unsigned floor = 10'000;
  std::mt19937 rng{
      static_cast<unsigned>(::getpid()) ^
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count())};
  for (int attempt = 0; ports.size() < n && low > floor + 1000 && attempt < 1000; ++attempt) {
    auto candidate = static_cast<std::uint16_t>(floor + rng() % (low - floor));
    if (std::find(ports.begin(), ports.end(), candidate) != ports.end()) continue;
    int fd = bind_loopback(candidate);
    if (fd < 0) continue;
    fds.push_back(fd);
    ports.push_back(candidate);
  }
  while (ports.size() < n) {  // no room below the range: any free port
    int fd = bind_loopback(0);
    if (fd < 0) throw std::runtime_error("bind: " + std::string{std::strerror(errno)});
    fds.push_back(fd);
    ports.push_back(bound_port(fd));
  }
  for (int fd : fds) ::close(fd);
  return ports;
}

}  // namespace wsvisor::test
