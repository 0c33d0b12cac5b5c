#pragma once

/// Minimal blocking HTTP client for tests, bounded by a deadline (it runs its
/// own io_context for at most `timeout`).

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace wsvisor::test {

struct http_reply {
  int status = 0;      // 0 when no response arrived
  std::string body;
  std::string content_type;
  std::string error;   // transport error, empty on success
};

http_reply http_request(std::uint16_t port, std::string_view method, std::string_view target,
                        std::chrono::milliseconds timeout = std::chrono::seconds{10});

struct raw_exchange {
  std::string received;                 // every byte the server sent
  bool closed_by_server = false;        // the server closed (EOF or reset) before the deadline
  std::chrono::milliseconds elapsed{};  // from the last byte sent to the close (or deadline)
};

/// Connects, writes `bytes` and reads until the server closes the
/// connection or `timeout` passes.
raw_exchange send_raw(std::uint16_t port, std::string_view bytes,
                      std::chrono::milliseconds timeout = std::chrono::seconds{10});

}  // namespace wsvisor::test
