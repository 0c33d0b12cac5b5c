#pragma once

/// The socket side of one WebSocket connection, as its actors see it. The
/// interface keeps Beast out of actors/: net/ implements it (one per accepted
/// WebSocket), the connection and session actors call it.
///
/// Thread-safety: every member may be called from any thread (actors run on
/// CAF's workers); implementations hand the work to the socket's strand.
/// Ordering: frames passed to `send` from one thread, or from one actor, go
/// out in that order.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>

#include "protocol/frame_text.hpp"

namespace wsvisor {

/// One outbound text frame, sent as `head + *body`. A fan-out message shares
/// one encoded `body` between every recipient; each adds only its `head`,
/// kept inline when short (protocol/frame_text.hpp). Either part may be empty
/// (a null `body` counts as empty).
struct out_frame {
  frame_text head;
  std::shared_ptr<const std::string> body;

  std::size_t size() const { return head.size() + (body ? body->size() : 0); }
};

/// What the frames of a connection are on the wire: JSON text (`wsvisor.v1`)
/// or MessagePack binary messages (`wsvisor.v1.msgpack`,
/// protocol/msgpack_codec.hpp). Actors always send JSON `out_frame`s; a
/// MessagePack transport encodes them on the way out.
enum class wire_format : std::uint8_t { json, msgpack };

/// Answer of `transport::send`.
enum class send_result {
  queued,   // accepted; will be written after the frames queued before it
  dropped,  // the queue passed its bound: the transport closes the connection itself
  closed,   // the connection is closing or closed; the frame was discarded
};

class transport {
 public:
  virtual ~transport() = default;

  /// Queues one text frame behind the frames already queued (one write in
  /// flight, a bounded queue behind it). When the queue would pass its byte
  /// bound the client has stopped reading: the frame is dropped and the
  /// connection is closed, which in turn ends the connection actor.
  virtual send_result send(out_frame frame) = 0;

  /// Sends a close frame with `code` and `reason` after the frames already
  /// queued, then closes the socket. Later sends return `closed`.
  virtual void close(std::uint16_t code, std::string reason) = 0;

  /// The peer's address as `host:port`, for logs.
  virtual std::string peer() const = 0;

  /// How the client's frames are encoded (the subprotocol it chose).
  virtual wire_format format() const { return wire_format::json; }

  // -- flow control -----------------------------------------------------------
  //
  // A producer with a backlog (a session replaying, or one whose client reads
  // slower than messages arrive) sends only while `has_room()`, then asks to
  // be called back with `when_room` and continues from there. The queue bound
  // then only ever catches frames that bypass this (control frames).

  /// True while the queue is below half its bound.
  virtual bool has_room() const { return true; }

  /// Calls `fn` once, from any thread, when the queue has drained below a
  /// quarter of its bound (at once if it already has). A later call replaces
  /// a pending one. Never called once the connection has ended.
  virtual void when_room(std::function<void()> fn) { fn(); }

  // -- timer ------------------------------------------------------------------
  //
  // The connection's deadlines (handshake, heartbeat, silence) live with the
  // socket rather than in CAF: a `delayed_send` cannot be cancelled in CAF
  // 0.17 and keeps its receiver allocated until it fires, so every connection
  // cut at once would stay in memory for up to heartbeat_timeout.

  /// Calls `fn` once, from any thread, after `delay`. A later call replaces a
  /// pending one. Never called once the connection has ended, and `fn` is
  /// released then.
  virtual void set_timer(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
};

using transport_ptr = std::shared_ptr<transport>;

}  // namespace wsvisor

// A transport is a live object bound to a socket in this process: never serialised.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::transport_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::out_frame)
