#include "net/message_deflater.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <map>
#include <stdexcept>
#include <utility>

namespace wsvisor::net {

struct message_deflater::impl {
  z_stream z{};
  bool context_takeover = true;
  struct cached {
    std::shared_ptr<const std::string> body;
    std::string deflated;  // from a fresh state, without the trailing 00 00 ff ff
  };
  std::array<cached, cached_bodies> cache;
  std::size_t next_slot = 0;
  std::uint64_t bodies_compressed = 0;

  impl(int level, int window_bits, bool takeover) : context_takeover(takeover) {
    // Negative bits: raw deflate, no zlib header or checksum (RFC 7692 §7.2.1).
    // The hash table follows the window (zlib's memLevel 8 at 15 bits, its
    // default, down to 2 at 9), so that a smaller window_bits saves memory:
    // zlib takes 2^(bits+2) + 2^(memLevel+9) bytes.
    int mem_level = std::max(1, window_bits - 7);
    if (deflateInit2(&z, level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK)
      throw std::runtime_error("deflateInit2 failed");
  }
  ~impl() { deflateEnd(&z); }

  void feed(std::string_view in, int flush, std::string& out) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    do {
      auto used = out.size();
      auto room = deflateBound(&z, z.avail_in) + 16;
      out.resize(used + room);
      z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
      z.avail_out = static_cast<uInt>(room);
      deflate(&z, flush);  // Z_BUF_ERROR (no progress) only when done
      out.resize(used + room - z.avail_out);
    } while (z.avail_in > 0 || z.avail_out == 0);
  }
};

message_deflater::message_deflater(int level, int window_bits, bool context_takeover)
    : impl_(std::make_unique<impl>(level, window_bits, context_takeover)) {}

message_deflater::~message_deflater() = default;

void message_deflater::compress(std::string_view head, std::string_view body, std::string& out) {
  auto start = out.size();
  if (!head.empty()) impl_->feed(head, Z_NO_FLUSH, out);
  impl_->feed(body, Z_SYNC_FLUSH, out);
  // A sync flush ends with an empty stored block, 00 00 ff ff: the receiver
  // appends it again before inflating.
  if (out.size() >= start + 4) out.resize(out.size() - 4);
  if (!impl_->context_takeover) deflateReset(&impl_->z);
}

void message_deflater::compress_shared(std::string_view head,
                                       const std::shared_ptr<const std::string>& body,
                                       std::string& out) {
  constexpr std::size_t stored_max = 0xFFFF;
  if (impl_->context_takeover || !body || head.size() > stored_max)
    return compress(head, body ? std::string_view{*body} : std::string_view{}, out);
  auto& cache = impl_->cache;
  auto hit = std::find_if(cache.begin(), cache.end(), [&](auto& c) { return c.body == body; });
  if (hit == cache.end()) {
    hit = cache.begin() + static_cast<std::ptrdiff_t>(impl_->next_slot);
    impl_->next_slot = (impl_->next_slot + 1) % cache.size();
    hit->body = body;
    hit->deflated.clear();
    compress({}, *body, hit->deflated);  // resets the state after it
    ++impl_->bodies_compressed;
  }
  if (!head.empty()) {
    // A stored block (RFC 1951 §3.2.4): BFINAL 0, BTYPE 00, padded to the
    // byte, then LEN and its one's complement, little-endian, then the bytes.
    auto n = static_cast<std::uint16_t>(head.size());
    auto inverse = static_cast<std::uint16_t>(~n);
    const char block[5] = {0, static_cast<char>(n & 0xFF), static_cast<char>(n >> 8),
                           static_cast<char>(inverse & 0xFF), static_cast<char>(inverse >> 8)};
    out.append(block, sizeof block);
    out.append(head);
  }
  out.append(hit->deflated);
}

std::uint64_t message_deflater::bodies_compressed() const { return impl_->bodies_compressed; }

message_deflater& message_deflater::for_thread(int level, int window_bits) {
  thread_local std::map<std::pair<int, int>, std::unique_ptr<message_deflater>> mine;
  auto& slot = mine[{level, window_bits}];
  if (!slot) slot = std::make_unique<message_deflater>(level, window_bits, false);
  return *slot;
}

}  // namespace wsvisor::net
