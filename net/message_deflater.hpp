#pragma once

/// permessage-deflate's sending side (RFC 7692 §7.2.1) for the frames the
/// server writes itself (net/frame_stream.hpp): one message in, its
/// compressed payload out. Beast negotiates the extension and inflates what
/// the client compresses; the frames of ours it never sees, so it cannot
/// deflate them.
///
/// With context takeover a connection owns its deflater: each message may
/// refer back to the ones before it (the LZ77 window, 2^window_bits bytes).
/// Without, every message is compressed from a fresh state, so one deflater
/// per I/O thread serves all of that thread's connections (`for_thread`):
/// such a connection holds no compressor memory of its own.
///
/// Not thread-safe: used on one I/O thread (a connection's strand, or the
/// thread that owns `for_thread`'s instance).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace wsvisor::net {

class message_deflater {
 public:
  /// `level` 1..9, `window_bits` 9..15 (zlib's range for raw deflate).
  message_deflater(int level, int window_bits, bool context_takeover);
  ~message_deflater();
  message_deflater(const message_deflater&) = delete;
  message_deflater& operator=(const message_deflater&) = delete;

  /// Appends to `out` the compressed payload of the message `head` + `body`:
  /// deflate, flushed to a byte boundary, without its last four bytes
  /// (00 00 ff ff), as a frame with RSV1 carries it.
  void compress(std::string_view head, std::string_view body, std::string& out);

  /// Without context takeover only: the same payload shape for `head` +
  /// `*body`, with the body compressed once for every frame that shares it
  /// (a fan-out's recipients differ in their heads alone). The head goes
  /// first as a stored (uncompressed) block, which leaves the stream at a
  /// byte boundary where the body's own deflate, made from a fresh state,
  /// can follow as it is; a body this deflater compressed recently is
  /// taken from its cache (the last `cached_bodies`, held by reference).
  void compress_shared(std::string_view head, const std::shared_ptr<const std::string>& body,
                       std::string& out);

  /// How many bodies compress_shared had to compress (not found cached).
  std::uint64_t bodies_compressed() const;

  static constexpr std::size_t cached_bodies = 8;

  /// This thread's deflater without context takeover for `level` and
  /// `window_bits` (made on first use, kept for the thread's life).
  static message_deflater& for_thread(int level, int window_bits);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace wsvisor::net
