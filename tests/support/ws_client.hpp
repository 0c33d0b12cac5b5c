#pragma once

/// A small blocking WebSocket client for tests. Every call is bounded by a
/// deadline: the client runs its own io_context for at most the given time
/// and never blocks past it. Not thread-safe: one test thread drives it.
///
/// A `receive` that times out leaves its read pending; the next `receive`
/// (or `close`) picks it up, so no frame is lost to a timeout. A client that
/// simply never calls `receive` is a client that stopped reading: once the
/// kernel buffers are full the server's writes stall (`set_receive_buffer`
/// makes that happen sooner).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace wsvisor::test {

/// One thing the client observed.
struct ws_event {
  enum class kind { text, binary, closed, timeout, error };
  kind type = kind::timeout;
  std::string text;              // text, binary: the payload; closed: the close reason;
                                 // error: what failed
  std::uint16_t close_code = 0;  // closed: the server's code; 1005 for a close frame without
                                 // one, 1006 when TCP ended without a close frame
};

/// Outcome of `ws_client::connect`.
struct ws_handshake {
  bool ok = false;          // upgraded (101)
  int status = 0;           // HTTP status of the answer; 0 when none arrived
  std::string subprotocol;  // Sec-WebSocket-Protocol selected by the server; empty if none
  std::string retry_after;  // Retry-After of a refusal
  std::string body;         // body of a refusal
  std::string error;        // empty when ok
};

class ws_client {
 public:
  using ms = std::chrono::milliseconds;

  ws_client();
  ~ws_client();
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  /// Sets SO_RCVBUF for the next `connect` (before it, so the TCP window is
  /// small from the start).
  void set_receive_buffer(int bytes);

  /// Connects to 127.0.0.1:`port` and upgrades on `target`, offering
  /// `subprotocols` (none: no Sec-WebSocket-Protocol header).
  ws_handshake connect(std::uint16_t port, std::string_view target = "/ws",
                       const std::vector<std::string>& subprotocols = {}, ms timeout = ms{5000});

  /// Sends one message. Returns an empty string, or what went wrong.
  std::string send_text(std::string_view payload, ms timeout = ms{5000});
  std::string send_binary(std::string_view payload, ms timeout = ms{5000});

  /// The next message, or the close (once closed, every call returns the
  /// same `closed` event), or `timeout`.
  ws_event receive(ms timeout = ms{5000});

  /// Sends a close frame with `code` and waits for the server's answer:
  /// `closed` with the server's code, or `timeout` / `error`.
  ws_event close(std::uint16_t code = 1000, std::string_view reason = {}, ms timeout = ms{5000});

  /// Ends the TCP connection without a close frame: FIN, or RST when `reset`.
  void drop(bool reset = false);

  /// Connected and no close seen or sent.
  bool is_open() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace wsvisor::test
