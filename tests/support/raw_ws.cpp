#include "tests/support/raw_ws.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

namespace wsvisor::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

std::string ws_frame(std::uint8_t opcode, std::string_view payload, frame_bits bits) {
  static constexpr std::array<unsigned char, 4> key{0x37, 0xfa, 0x21, 0x3d};
  std::string out;
  out.reserve(payload.size() + 14);
  out += static_cast<char>((bits.fin ? 0x80 : 0) | (bits.rsv & 0x70) | (opcode & 0x0f));
  const std::uint64_t length = bits.length.value_or(payload.size());
  const char mask = bits.masked ? '\x80' : '\0';
  int length_bytes = bits.length_bytes;
  if (length_bytes == 0) length_bytes = length < 126 ? 0 : length <= 0xffff ? 2 : 8;
  if (length_bytes == 0) {
    out += static_cast<char>(mask | static_cast<char>(length));
  } else {
    out += static_cast<char>(mask | (length_bytes == 2 ? 126 : 127));
    for (int i = length_bytes - 1; i >= 0; --i)
      out += static_cast<char>((length >> (8 * i)) & 0xff);
  }
  if (bits.masked) out.append(reinterpret_cast<const char*>(key.data()), key.size());
  for (std::size_t i = 0; i < payload.size(); ++i)
    out += bits.masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
  return out;
}

std::string ws_close_frame(std::uint16_t code, std::string_view reason) {
  std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  payload += reason;
  return ws_frame(op::close, payload);
}

std::string ws_upgrade_request(std::string_view target, std::string_view extra) {
  std::string req = "GET ";
  req += target;
  req +=
      " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  req += extra;
  req += "\r\n";
  return req;
}

std::uint16_t raw_frame::close_code() const {
  if (payload.size() < 2) return 1005;
  return static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                    static_cast<unsigned char>(payload[1]));
}

raw_ws::raw_ws() = default;

raw_ws::~raw_ws() {
  error_code ignored;
  socket_.close(ignored);
  // Let the aborted read's handler run while its buffer still exists.
  ioc_.restart();
  ioc_.poll();
}

template <class Pred>
bool raw_ws::run_until(Pred done, ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (ioc_.stopped()) ioc_.restart();
    ioc_.run_one_for(deadline - now);
  }
  return true;
}

void raw_ws::keep_reading() {
  if (reading_ || ended_ || !socket_.is_open()) return;
  reading_ = true;
  socket_.async_read_some(asio::buffer(chunk_), [this](error_code ec, std::size_t n) {
    reading_ = false;
    in_.append(chunk_.data(), n);
    if (ec) {
      if (ec != asio::error::operation_aborted) ended_ = true;
      return;
    }
    keep_reading();
  });
}

bool raw_ws::connect(std::uint16_t port, std::string_view source, ms timeout) {
  error_code ec;
  socket_.open(tcp::v4(), ec);
  if (!ec) socket_.bind(tcp::endpoint{asio::ip::make_address(source), 0}, ec);
  if (ec) return false;
  bool done = false;
  socket_.async_connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port},
                        [&](error_code e) {
                          ec = e;
                          done = true;
                        });
  if (!run_until([&] { return done; }, timeout)) {
    socket_.close(ec);
    run_until([&] { return done; }, ms{1000});
    return false;
  }
  return !ec;
}

int raw_ws::handshake(std::string_view request, ms timeout) {
  if (!write(request, timeout)) return 0;
  std::size_t end = std::string::npos;
  run_until(
      [&] {
        end = in_.find("\r\n\r\n");
        return end != std::string::npos || ended_;
      },
      timeout);
  if (end == std::string::npos) return 0;
  head_ = in_.substr(0, end + 4);
  in_.erase(0, end + 4);
  // "HTTP/1.1 101 Switching Protocols"
  if (head_.size() < 12 || !head_.starts_with("HTTP/1.")) return 0;
  return std::stoi(head_.substr(9, 3));
}

bool raw_ws::upgrade(std::uint16_t port, std::string_view source) {
  return connect(port, source) && handshake() == 101;
}

bool raw_ws::write(std::string_view bytes, ms timeout) {
  if (!socket_.is_open()) return false;
  bool done = false;
  error_code result;
  asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()),
                    [&](error_code ec, std::size_t) {
                      result = ec;
                      done = true;
                    });
  keep_reading();
  if (!run_until([&] { return done; }, timeout)) {
    // The handler refers to this frame: end the socket and let it run.
    error_code ignored;
    socket_.close(ignored);
    run_until([&] { return done; }, ms{1000});
    return false;
  }
  return !result;
}

std::optional<raw_frame> raw_ws::read_frame(ms timeout) {
  std::optional<raw_frame> frame;
  // Parses one frame off the front of in_ when it is all there.
  auto parse = [&] {
    if (in_.size() < 2) return false;
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(in_[i]); };
    std::size_t pos = 2;
    std::uint64_t length = byte(1) & 0x7f;
    if (length >= 126) {
      std::size_t n = length == 126 ? 2 : 8;
      if (in_.size() < pos + n) return false;
      length = 0;
      for (std::size_t i = 0; i < n; ++i) length = (length << 8) | byte(pos + i);
      pos += n;
    }
    const bool masked = (byte(1) & 0x80) != 0;
    std::array<unsigned char, 4> key{};
    if (masked) {
      if (in_.size() < pos + 4) return false;
      for (std::size_t i = 0; i < 4; ++i) key[i] = byte(pos + i);
      pos += 4;
    }
    if (in_.size() - pos < length) return false;
    raw_frame f{.opcode = static_cast<std::uint8_t>(byte(0) & 0x0f),
                .fin = (byte(0) & 0x80) != 0,
                .rsv = static_cast<std::uint8_t>(byte(0) & 0x70),
                .payload = in_.substr(pos, length)};
    if (masked)
      for (std::size_t i = 0; i < f.payload.size(); ++i)
        f.payload[i] ^= static_cast<char>(key[i % 4]);
    in_.erase(0, pos + length);
    frame = std::move(f);
    return true;
  };
  keep_reading();
  run_until([&] { return parse() || ended_; }, timeout);
  return frame;
}

std::uint16_t raw_ws::await_close(ms timeout, std::vector<std::string>* texts) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<ms>(deadline - std::chrono::steady_clock::now());
    auto f = read_frame(std::max(left, ms{0}));
    if (!f) return ended_ ? 1006 : 0;
    if (f->opcode == op::close) return f->close_code();
    if (texts && f->opcode == op::text) texts->push_back(std::move(f->payload));
  }
}

bool raw_ws::await_end(ms timeout) {
  keep_reading();
  return run_until([&] { return ended_; }, timeout);
}

}  // namespace wsvisor::test
