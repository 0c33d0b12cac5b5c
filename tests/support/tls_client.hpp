#pragma once

/// A TLS client connection for tests, over a real socket to 127.0.0.1: what
/// the server's TLS side must be checked against (old versions, untrusted
/// certificates, silent peers) without a WebSocket library in the way.
/// Every call is bounded by its timeout (the object runs its own io_context
/// for at most that long). Not thread-safe: one test thread drives it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tests/support/http_client.hpp"

namespace wsvisor::test {

struct tls_client_options {
  std::string ca_file;             // trusted CA certificates (PEM); empty: the system's only
  std::string host = "localhost";  // sent as SNI (unless an address) and verified
  int max_version = 0;             // newest version offered (e.g. TLS1_2_VERSION); 0: any
};

class tls_socket {
 public:
  using ms = std::chrono::milliseconds;

  tls_socket();
  ~tls_socket();
  tls_socket(const tls_socket&) = delete;
  tls_socket& operator=(const tls_socket&) = delete;

  /// Connects and completes the handshake, verifying the server's
  /// certificate. Empty, or what failed ("connect: …", "handshake: …").
  std::string connect(std::uint16_t port, const tls_client_options& opts = {},
                      ms timeout = ms{5000});

  /// The negotiated protocol ("TLSv1.2", "TLSv1.3"); empty before connect.
  std::string version() const;

  /// Writes `bytes` inside TLS. Empty, or what failed.
  std::string write(std::string_view bytes, ms timeout = ms{5000});

  /// Reads inside TLS until what was received since connect contains
  /// `until` (when not empty), the server ends TLS or TCP, or the timeout.
  /// `received` holds every byte since connect; `closed_by_server` says the
  /// server ended the connection; `elapsed` counts from this call.
  raw_exchange read(std::string_view until = {}, ms timeout = ms{5000});

  /// Sends the upgrade request for a WebSocket on `target` (with `origin`
  /// when not empty) and reads the response head. True on a 101; the head
  /// is in read().received either way.
  bool upgrade(std::string_view target = "/ws", std::string_view origin = {},
               ms timeout = ms{5000});

  /// Waits until the server has closed the TCP connection, never answering
  /// inside TLS (no close_notify, no FIN): what it sends is read and dropped.
  /// True when it closed within `timeout`.
  bool await_tcp_close(ms timeout);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A client WebSocket frame (FIN set, masked with a zero key) of `opcode`
/// (0x1 text, 0x8 close, ...) carrying `payload` (under 64 KiB).
std::string masked_frame(unsigned opcode, std::string_view payload);

/// `GET target` over https on a new connection (`Connection: close`).
http_reply https_get(std::uint16_t port, std::string_view target,
                     const tls_client_options& opts = {},
                     std::chrono::milliseconds timeout = std::chrono::seconds{10});

}  // namespace wsvisor::test
