#pragma once

/// The layer between a server WebSocket (Beast's `websocket::stream`) and
/// its byte stream, so that ws_session can write a whole batch of data
/// frames with one gathered write instead of one Beast write per frame.
///
/// Beast writes one frame per operation, through a composed operation per
/// frame; a burst of small frames (a publish's `ack` and `message`, a
/// fan-out window, a replay) then costs a send per frame and Beast's
/// machinery for each. A server's data frames are simple to write itself (no
/// mask; permessage-deflate, when negotiated, is ours too:
/// net/message_deflater.hpp): `data_frame_header` and
/// `async_write_frames` do it, and everything else (the opening handshake,
/// reading, control frames, the close) stays Beast's.
///
/// Beast still writes on its own: a pong answering a ping, the echo of a
/// peer's close frame, and the close we start. Those writes reach the byte
/// stream through `async_write_some` here, so the layer keeps the two
/// writers apart: a Beast write waits while frames of ours are being written
/// and ours wait (`when_writable`) while a Beast write is in progress (a
/// frame of Beast's may take several sends). Bytes of two frames never mix.
///
/// Internal to net/. Used on the stream's executor only (the socket's
/// event loop), like the stream itself.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

namespace wsvisor::net {

/// The header of an unmasked, unfragmented text (or binary) frame of
/// `size` payload bytes (RFC 6455 §5.2): 2, 4 or 10 bytes.
struct data_frame_header {
  std::array<std::uint8_t, 10> bytes{};
  std::uint8_t size = 0;

  static data_frame_header of(std::uint64_t payload, bool binary = false) {
    data_frame_header h;
    h.bytes[0] = binary ? 0x82 : 0x81;  // FIN, opcode 2 (binary) or 1 (text)
    if (payload < 126) {
      h.bytes[1] = static_cast<std::uint8_t>(payload);
      h.size = 2;
    } else if (payload <= 0xFFFF) {
      h.bytes[1] = 126;
      h.bytes[2] = static_cast<std::uint8_t>(payload >> 8);
      h.bytes[3] = static_cast<std::uint8_t>(payload);
      h.size = 4;
    } else {
      h.bytes[1] = 127;
      for (int i = 0; i < 8; ++i)
        h.bytes[2 + i] = static_cast<std::uint8_t>(payload >> (56 - 8 * i));
      h.size = 10;
    }
    return h;
  }

  boost::asio::const_buffer buffer() const { return {bytes.data(), size}; }
};

template <class Inner>
class frame_stream {
 public:
  using executor_type = typename Inner::executor_type;
  using next_layer_type = Inner;

  explicit frame_stream(Inner&& inner) : inner_(std::move(inner)) {}

  executor_type get_executor() noexcept { return inner_.get_executor(); }
  Inner& next_layer() noexcept { return inner_; }
  const Inner& next_layer() const noexcept { return inner_; }

  template <class MutableBufferSequence, class ReadHandler>
  auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
    return inner_.async_read_some(buffers, std::forward<ReadHandler>(handler));
  }

  /// Beast's writes. One at a time (Beast's own write lock); held while
  /// frames of ours are being written.
  template <class ConstBufferSequence, class WriteHandler>
  auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
    return boost::asio::async_initiate<WriteHandler, void(boost::beast::error_code, std::size_t)>(
        [this](auto h, const ConstBufferSequence& b) {
          auto start = [this, b, h = std::move(h)]() mutable { beast_write(b, std::move(h)); };
          if (ours_writing_)
            held_beast_ = std::make_unique<held<decltype(start)>>(std::move(start));
          else
            start();
        },
        handler, buffers);
  }

  /// True while a frame of Beast's is partly written: frames of ours wait.
  bool beast_writing() const { return beast_writing_ || held_beast_ != nullptr; }

  /// Calls `fn` once no frame of Beast's is being written: now, or when the
  /// one being written is done (`fn` then decides whether to write at all:
  /// Beast's frame may have been a close).
  void when_writable(std::function<void()> fn) {
    if (!beast_writing()) return fn();
    waiting_ = std::move(fn);
  }

  /// Writes `buffers` (complete frames, see `data_frame_header`) in one
  /// gathered write. Only when `!beast_writing()`, and one at a time.
  template <class ConstBufferSequence, class Handler>
  void async_write_frames(const ConstBufferSequence& buffers, Handler&& handler) {
    ours_writing_ = true;
    boost::asio::async_write(inner_, buffers,
                             [this, h = std::forward<Handler>(handler)](boost::beast::error_code ec,
                                                                        std::size_t n) mutable {
                               ours_writing_ = false;
                               // A Beast frame held meanwhile (a pong, a close) goes first.
                               if (auto next = std::move(held_beast_)) next->run();
                               h(ec, n);
                             });
  }

 private:
  struct held_base {
    virtual ~held_base() = default;
    virtual void run() = 0;
  };
  template <class F>
  struct held final : held_base {
    explicit held(F f) : fn(std::move(f)) {}
    void run() override { fn(); }
    F fn;
  };

  template <class ConstBufferSequence, class Handler>
  void beast_write(const ConstBufferSequence& buffers, Handler&& handler) {
    beast_writing_ = true;
    inner_.async_write_some(buffers, [this, total = boost::asio::buffer_size(buffers),
                                      h = std::forward<Handler>(handler)](
                                         boost::beast::error_code ec, std::size_t n) mutable {
      // Beast writes a frame with async_write: a short write is followed
      // by another for the rest, at once, and nothing may come between.
      beast_writing_ = !ec && n < total;
      h(ec, n);
      if (!beast_writing_ && waiting_) std::exchange(waiting_, nullptr)();
    });
  }

  Inner inner_;
  bool ours_writing_ = false;
  bool beast_writing_ = false;
  std::unique_ptr<held_base> held_beast_;  // Beast's write, waiting for ours
  std::function<void()> waiting_;          // ours, waiting for Beast's
};

/// Beast finds these by argument-dependent lookup: the teardown of the
/// stream below (net/ws_stream.hpp, net/tls_stream.hpp).
template <class Inner>
void teardown(boost::beast::role_type role, frame_stream<Inner>& stream,
              boost::beast::error_code& ec) {
  using boost::beast::websocket::teardown;
  teardown(role, stream.next_layer(), ec);
}

template <class Inner, class TeardownHandler>
void async_teardown(boost::beast::role_type role, frame_stream<Inner>& stream,
                    TeardownHandler&& handler) {
  using boost::beast::websocket::async_teardown;
  async_teardown(role, stream.next_layer(), std::forward<TeardownHandler>(handler));
}

}  // namespace wsvisor::net
