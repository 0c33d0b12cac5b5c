#pragma once

/// One accepted WebSocket: the adapter between its socket and its connection
/// actor (internal to net/; the listener creates it, the actor sees it only
/// as a `wsvisor::transport`). `NextLayer` is the stream the upgrade came
/// in on: `ws_tcp_stream` (ws://) or `tls_tcp_stream` (wss://,
/// net/tls_stream.hpp); each is instantiated in its own file
/// (ws_session_plain.cpp, ws_session_tls.cpp; ws_session_impl.hpp), and
/// everything below holds for both.
///
/// Inbound: every complete text message goes to the actor as
/// `(ws_text_atom, std::string)`, every binary one as
/// `(ws_binary_atom, std::string)`.
/// When the socket ends, for whatever reason, the actor gets
/// `(ws_closed_atom, std::uint16_t code, std::string reason)` exactly once:
/// the code the session sent (its own close, 1009 for an oversized message,
/// 1002/1007 for protocol errors), else the one the peer sent (1005 for a
/// close frame without a code), else 1006 (reset, EOF, send-queue overflow,
/// timeout).
///
/// Outbound: see `transport`. At most one write is in flight; the frames
/// behind it wait in a queue bounded by `send_queue_bytes`. A frame that
/// would take the queue past that bound is dropped, `send` answers
/// `dropped`, and the socket is reset at once (a client that stopped reading
/// would never read a close frame either). One exception keeps an oversized
/// frame from killing a healthy connection: a frame is always accepted when
/// nothing is queued, so the queue never holds more than
/// max(send_queue_bytes, the largest single frame).
///
/// Batching: `send` puts frames in an inbox under a mutex; only the first
/// frame of a batch posts to the strand, which moves the whole inbox to the
/// queue. Frames found queued together are written as one batch, framed here
/// and sent with one gathered write (net/frame_stream.hpp), so a burst (an
/// ack and its message, a fan-out window, a replay) leaves in one send
/// rather than one per frame (docs/benchmarks.md has the measurement).
///
/// Deadlines: the opening handshake, and every close from the moment it is
/// asked for (by the actor, the actor's exit, the peer, or Beast failing the
/// connection), are bounded by `handshake_timeout`: then the socket is shut
/// down (pending reads see EOF, blocked writes fail) and, at most
/// min(1 s, handshake_timeout) later, reset. There is no idle timeout:
/// liveness is the application heartbeat's business (control frames do not
/// count, protocol.md); the actor's close after a missed heartbeat is bounded
/// like any other.
///
/// Threading: `send`, `close`, `peer`, `has_room`, `when_room`, `set_timer`,
/// `queued_bytes` and `peak_queued_bytes` may be called from any thread. Every other member is
/// touched only on the session's strand (the executor of its socket); public calls reach it through
/// `asio::post`. The connection actor is notified with `anon_send`, which never blocks.
///
/// Lifetime: pending operations and the actor's `transport_ptr` keep the
/// session alive; the session holds the actor until it has sent
/// `ws_closed`. When the actor terminates, a functor attached to it closes
/// the socket (1011 "internal error" unless the actor had asked for a close).
/// The socket belongs to the listener's io_context, which must outlive every
/// `transport_ptr`; a session destroyed unfinished (its io_context went away
/// with the handlers) sends no `ws_closed`.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <caf/actor.hpp>

#include "actors/transport.hpp"
#include "net/frame_stream.hpp"
#include "net/http_server.hpp"
#include "net/message_deflater.hpp"
#include "net/ws_stream.hpp"
#include "net/ws_upgrade.hpp"

namespace wsvisor::net {

template <class NextLayer>
class ws_session final : public transport,
                         public std::enable_shared_from_this<ws_session<NextLayer>> {
 public:
  /// Takes over `stream`, whose upgrade request `req` passed the listener's
  /// checks and for which a slot of `slots` was acquired (the session
  /// returns it when the socket ends). Answers the upgrade with 101,
  /// selecting `subprotocol` when not empty, then spawns the connection
  /// actor with `opts->on_websocket` and starts reading. Call it on the
  /// stream's strand, with no deadline left on the stream.
  static void start(NextLayer&& stream,
                    boost::beast::http::request<boost::beast::http::string_body>&& req,
                    std::string subprotocol, std::shared_ptr<const http_options> opts,
                    std::shared_ptr<ws_slots> slots);

  ws_session(NextLayer&& stream, std::string subprotocol, std::shared_ptr<const http_options> opts,
             std::shared_ptr<ws_slots> slots);
  ~ws_session() override;

  // Named here so that the members can call them unqualified.
  using std::enable_shared_from_this<ws_session>::shared_from_this;
  using std::enable_shared_from_this<ws_session>::weak_from_this;

  send_result send(out_frame frame) override;
  void close(std::uint16_t code, std::string reason) override;
  std::string peer() const override { return peer_; }
  wire_format format() const override { return format_; }
  bool has_room() const override;
  void when_room(std::function<void()> fn) override;
  void set_timer(std::chrono::milliseconds delay, std::function<void()> fn) override;

  /// Bytes of frames accepted by `send` and not yet written (thread-safe).
  std::uint64_t queued_bytes() const { return queued_.load(std::memory_order_acquire); }

  /// The most `queued_bytes` ever was (thread-safe; for tests and stats).
  std::uint64_t peak_queued_bytes() const { return peak_.load(std::memory_order_acquire); }

 private:
  void accept(boost::beast::http::request<boost::beast::http::string_body> req);
  void on_accept(boost::beast::error_code ec);
  void read();
  void on_head(boost::beast::error_code ec, std::size_t bytes);
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void drain_inbox();
  void write_next();
  void write_batch();
  void write_compressed_batch();
  const std::vector<out_frame>& frames_to_write();
  void start_deflate();
  void release_idle_queues();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void discard_queue();
  void notify_room();
  void request_close(std::uint16_t code, std::string reason);
  void start_close();
  void on_close(boost::beast::error_code ec);
  void arm_close_deadline();
  void on_close_deadline();
  void reset_socket(const char* why);
  void release_socket();
  void finish(boost::beast::error_code ec);
  void fail(boost::beast::error_code ec, const char* what);

  // Immutable after construction: safe from any thread.
  const boost::asio::any_io_executor strand_;
  const std::string peer_;
  const std::string ip_;  // the remote address alone: its slot in `slots_`
  const std::string subprotocol_;
  const wire_format format_;
  const std::shared_ptr<const http_options> opts_;
  const std::shared_ptr<ws_slots> slots_;

  // Thread-safe.
  std::atomic<bool> accepting_{true};  // `send` queues frames; false once closing
  std::atomic<std::uint64_t> queued_{0};
  std::atomic<std::uint64_t> peak_{0};
  std::function<void()> on_room_;  // strand only: pending when_room callback
  std::mutex inbox_mutex_;         // guards inbox_ and drain_posted_
  std::vector<out_frame> inbox_;   // sent, not yet moved to the strand's queue_
  bool drain_posted_ = false;      // a drain_inbox is posted and has not taken inbox_ yet

  // Strand only.
  boost::beast::websocket::stream<frame_stream<NextLayer>> ws_;
  // Reading, in two steps (see read()): the head of the next message, then
  // the rest of it, if any, into `message_`, the string the actor receives.
  std::array<char, 256> head_;
  std::string message_;
  std::optional<
      boost::asio::dynamic_string_buffer<char, std::char_traits<char>, std::allocator<char>>>
      message_buffer_;
  boost::asio::steady_timer close_deadline_;
  boost::asio::steady_timer timer_;     // set_timer's
  std::function<void()> timer_fn_;      // pending set_timer callback
  std::uint64_t timer_generation_ = 0;  // a wait that completes after being replaced is stale
  caf::actor actor_;
  // Frames go out in batches, each in one gathered write of our own
  // framing (net/frame_stream.hpp): batch_ is being written while
  // `writing_`; what arrives meanwhile waits in queue_ and is the next batch.
  // Vectors, not a std::deque: libstdc++'s deque allocates 576 bytes even
  // while empty, as it is on an idle connection.
  std::vector<out_frame> batch_;
  std::vector<out_frame> queue_;
  std::vector<out_frame> draining_;  // inbox_ swapped out by drain_inbox
  std::vector<out_frame> encoded_;   // wsvisor.v1.msgpack: batch_ in MessagePack, being written
  std::string scratch_;              // the batch's headers and small frames, copied
  std::vector<boost::asio::const_buffer> gather_;  // what the batch's write sends
  bool writing_ = false;
  bool accepted_ = false;
  // permessage-deflate, when the handshake negotiated it: the sending side is
  // ours (net/message_deflater.hpp); null: not negotiated. Owned (context
  // takeover) or this I/O thread's shared one (no context takeover).
  message_deflater* deflater_ = nullptr;
  std::unique_ptr<message_deflater> own_deflater_;
  std::string negotiated_;  // the Sec-WebSocket-Extensions we answered; empty: none
  std::string deflated_;    // one message's compressed payload, before it joins scratch_
  struct close_request {
    std::uint16_t code;
    std::string reason;
  };
  std::optional<close_request> close_requested_;
  bool close_started_ = false;  // async_close issued: our close frame is on its way
  bool close_pending_ = false;  // async_close has not completed yet
  bool deadline_armed_ = false;
  bool deadline_passed_ = false;  // the socket was shut down; a hard close is next
  bool finished_ = false;         // ws_closed sent, slot returned
  bool failure_logged_ = false;
  const char* reset_reason_ = nullptr;  // set when we reset the socket ourselves
};

}  // namespace wsvisor::net
