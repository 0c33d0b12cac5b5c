#pragma once

/// A hand-driven WebSocket client over a plain TCP socket, for what a real
/// client will not do: trickle or mangle the upgrade request, go silent, and
/// write frames byte by byte as the test builds them (`ws_frame`): unmasked,
/// fragmented, oversized, with reserved bits, bad opcodes, invalid UTF-8 or
/// invalid close codes. It reads the server's frames as they are, without
/// answering anything (no pong, no close reply).
///
/// Every call is bounded by a deadline: the client runs its own io_context
/// for at most the given time. While it writes it also reads, so a server
/// answering a flood never blocks on this client. Not thread-safe.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace wsvisor::test {

/// Opcodes (RFC 6455 §5.2).
namespace op {
inline constexpr std::uint8_t continuation = 0x0;
inline constexpr std::uint8_t text = 0x1;
inline constexpr std::uint8_t binary = 0x2;
inline constexpr std::uint8_t close = 0x8;
inline constexpr std::uint8_t ping = 0x9;
inline constexpr std::uint8_t pong = 0xA;
}  // namespace op

/// How `ws_frame` departs from a well-formed client frame.
struct frame_bits {
  bool fin = true;
  std::uint8_t rsv = 0;                 // RSV1..3: 0x40, 0x20, 0x10
  bool masked = true;                   // a client must mask (§5.3)
  std::optional<std::uint64_t> length;  // announce this payload length instead of the real one
  int length_bytes = 0;                 // 0: the shortest encoding; 2 or 8: that one regardless
};

/// One client frame carrying `payload` (masked unless told otherwise).
std::string ws_frame(std::uint8_t opcode, std::string_view payload, frame_bits bits = {});

/// A close frame with `code` and `reason`.
std::string ws_close_frame(std::uint16_t code, std::string_view reason = {});

/// An upgrade request for `target` (`extra` is inserted before the blank
/// line: whole header lines, each ending in CRLF).
std::string ws_upgrade_request(std::string_view target = "/ws", std::string_view extra = {});

/// One frame from the server.
struct raw_frame {
  std::uint8_t opcode = 0;
  bool fin = true;
  std::uint8_t rsv = 0;  // RSV1..3 as in the first byte: 0x40 (RSV1: compressed), 0x20, 0x10
  std::string payload;

  /// A close frame's code: 1005 when it carries none.
  std::uint16_t close_code() const;
};

class raw_ws {
 public:
  using ms = std::chrono::milliseconds;

  raw_ws();
  ~raw_ws();
  raw_ws(const raw_ws&) = delete;
  raw_ws& operator=(const raw_ws&) = delete;

  /// Opens a TCP connection to 127.0.0.1:`port` from `source` (on Linux any
  /// 127.0.0.0/8 address is this host, so a test can be several clients).
  bool connect(std::uint16_t port, std::string_view source = "127.0.0.1", ms timeout = ms{5000});

  /// Writes `request` and reads the answer's head (through the blank line);
  /// returns its status, 0 when none arrived. Bytes after the head are kept
  /// as the first frames.
  int handshake(std::string_view request = ws_upgrade_request(), ms timeout = ms{5000});

  /// connect + handshake: true when upgraded (101).
  bool upgrade(std::uint16_t port, std::string_view source = "127.0.0.1");

  /// Writes `bytes`; false when the connection failed first or the deadline passed.
  bool write(std::string_view bytes, ms timeout = ms{5000});

  /// The next frame, or nullopt when the connection ended (`ended()`) or
  /// the deadline passed.
  std::optional<raw_frame> read_frame(ms timeout = ms{5000});

  /// Reads until the server's close frame and returns its code (1005 for
  /// none); 1006 when TCP ended without one, 0 on timeout. The payloads of
  /// the text frames read on the way are appended to `texts` when given.
  std::uint16_t await_close(ms timeout = ms{5000}, std::vector<std::string>* texts = nullptr);

  /// Waits until the server ends the TCP connection (EOF or reset); false
  /// after `timeout`. What it sent meanwhile is kept.
  bool await_end(ms timeout);

  /// The server has ended the TCP connection.
  bool ended() const { return ended_; }

  /// The head of the handshake's answer.
  const std::string& response_head() const { return head_; }

  /// Bytes received and not consumed by `handshake` or `read_frame`.
  const std::string& unread() const { return in_; }

 private:
  template <class Pred>
  bool run_until(Pred done, ms timeout);
  void keep_reading();

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_{ioc_};
  std::array<char, 16 * 1024> chunk_{};
  std::string in_;  // received and not yet consumed
  std::string head_;
  bool reading_ = false;
  bool ended_ = false;
};

}  // namespace wsvisor::test
