#pragma once

/// An outbound WebSocket as the actors see it: what an upstream link (and the
/// C++ client's link) needs from a socket, with Beast kept out of actors/.
/// net/ws_client.hpp implements it; the node hands the upstream links an
/// `outbound_dialer` that opens one, and tests may hand them a fake.
///
/// Contract of an `outbound_socket`:
/// - every member may be called from any thread and returns at once;
/// - `events.on_open` runs once the upgrade succeeded, then `on_text` once
///   per received text frame, in order (binary frames are ignored and logged);
/// - `on_written(tag)` runs once per frame passed to `send`, when its write
///   completed, in send order;
/// - `on_closed` runs exactly once when the socket ends for any reason other
///   than `abort()`, after every other event; nothing runs after it;
/// - events run on the socket's own thread: they must not block (sending an
///   actor message is the intended use).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace wsvisor {

/// Why an outbound socket ended.
enum class outbound_end : std::uint8_t {
  bad_url,            // the URL cannot be dialled (should have been caught by validation)
  resolve_failed,     // the host name did not resolve
  connect_failed,     // TCP connect failed (refused, unreachable)
  tls_failed,         // the TLS handshake or certificate verification failed
  handshake_failed,   // the HTTP upgrade was refused (http_status says how) or malformed
  connect_timeout,    // resolve + connect + TLS + upgrade took longer than connect_timeout
  heartbeat_timeout,  // nothing (data, ping or pong) arrived for heartbeat_timeout
  closed_by_peer,     // the peer sent a close frame (close_code says which)
  connection_lost,    // the TCP connection failed or ended without a close frame
  write_overflow,     // more than max_queued_bytes were waiting to be written
  closed,             // close() was called and the closing handshake is done
};

/// The enumerator's name, e.g. "connect_timeout".
std::string to_string(outbound_end kind);

struct outbound_result {
  outbound_end kind = outbound_end::connection_lost;
  std::uint16_t close_code = 0;  // closed_by_peer: the peer's close code (1005 when none)
  unsigned http_status = 0;      // handshake_failed: the HTTP status answered, 0 if none
  std::string detail;            // human-readable cause, e.g. "connect: Connection refused"
};

/// One line for logs and state reports, e.g. "handshake_failed: HTTP 500".
std::string describe(const outbound_result& r);

struct outbound_options {
  std::string url;                        // ws://host[:port][/path] or wss://...
  std::vector<std::string> subprotocols;  // offered in Sec-WebSocket-Protocol; none: no header
  bool compression = false;               // offer permessage-deflate (RFC 7692)
  bool require_subprotocol = false;       // fail the handshake unless one offered is selected
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  std::string user_agent = "wsvisor";
  duration connect_timeout{10'000};  // bound on resolve + connect + TLS + upgrade
  duration heartbeat_timeout{0};     // 0: off; else ping after half of it idle, end after it
  std::uint64_t max_frame_bytes = 1u << 20;    // larger inbound frames end the socket
  std::uint64_t max_queued_bytes = 16u << 20;  // unwritten bytes beyond this end the socket
  std::string ca_file;  // wss: PEM file of extra trusted CAs; empty: system's
};

struct outbound_events {
  std::function<void(std::string subprotocol)> on_open;  // the selected one, empty if none
  std::function<void(std::string text)> on_text;
  std::function<void(std::uint64_t tag)> on_written;  // may be empty
  std::function<void(outbound_result)> on_closed;
};

class outbound_socket {
 public:
  virtual ~outbound_socket() = default;

  /// Queues one text frame. Frames sent before the upgrade completes are
  /// written after it; frames sent after close() or the end are dropped.
  virtual void send(std::string text, std::uint64_t tag) = 0;

  /// Writes what is queued, then the closing handshake; reports `closed`.
  virtual void close() = 0;

  /// Closes the socket now; no event runs any more.
  virtual void abort() = 0;
};

using outbound_socket_ptr = std::shared_ptr<outbound_socket>;

/// Opens an outbound socket and returns at once (never null; a failure is
/// reported through `on_closed`).
using outbound_dialer = std::function<outbound_socket_ptr(outbound_options, outbound_events)>;

}  // namespace wsvisor
