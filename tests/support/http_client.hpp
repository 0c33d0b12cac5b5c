#pragma once

/// Minimal blocking HTTP client for tests, bounded by a deadline (it runs its
/// own io_context for at most `timeout`).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wsvisor::test {

struct http_reply {
  int status = 0;  // 0 when no response arrived
  std::string body;
  std::string content_type;
  std::string error;                                         // transport error, empty on success
  bool keep_alive = false;                                   // the server keeps the connection
  std::vector<std::pair<std::string, std::string>> headers;  // every response field, in order

  /// The value of the first field called `name` (any case); empty if none.
  std::string header(std::string_view name) const;
};

http_reply http_request(std::uint16_t port, std::string_view method, std::string_view target,
                        std::chrono::milliseconds timeout = std::chrono::seconds{10});

/// A request with a body and extra fields. Host and, for a non-empty body,
/// Content-Length are set unless `headers` sets them.
struct http_call {
  std::string method = "GET";
  std::string target = "/";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Sends `call` on a new connection with `Connection: close`.
http_reply http_send(std::uint16_t port, const http_call& call,
                     std::chrono::milliseconds timeout = std::chrono::seconds{10});

/// One keep-alive connection to 127.0.0.1:`port`, for several requests in a
/// row. Not thread-safe.
class http_session {
 public:
  explicit http_session(std::uint16_t port,
                        std::chrono::milliseconds timeout = std::chrono::seconds{10});
  ~http_session();
  http_session(const http_session&) = delete;
  http_session& operator=(const http_session&) = delete;

  /// Sends `call` (keep-alive unless its headers say otherwise) and waits
  /// for the response. `error` is set when the connection failed or closed.
  http_reply send(const http_call& call,
                  std::chrono::milliseconds timeout = std::chrono::seconds{10});

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The response in `bytes` (what a server sent up to its close), or `error`
/// set when they hold no complete one. For clients of other transports (TLS).
http_reply parse_http_reply(std::string_view bytes);

struct raw_exchange {
  std::string received;                 // every byte the server sent
  bool closed_by_server = false;        // the server closed (EOF or reset) before the deadline
  std::chrono::milliseconds elapsed{};  // from the last byte sent to the close (or deadline)
};

/// Connects, writes `bytes` and reads until the server closes the
/// connection or `timeout` passes, or (when `until` is not empty) until what
/// was received contains `until`.
raw_exchange send_raw(std::uint16_t port, std::string_view bytes,
                      std::chrono::milliseconds timeout = std::chrono::seconds{10},
                      std::string_view until = {});

}  // namespace wsvisor::test
