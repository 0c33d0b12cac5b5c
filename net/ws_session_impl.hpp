#pragma once

// The definitions of ws_session's members, for its two explicit
// instantiations: ws_session_plain.cpp (ws://) and ws_session_tls.cpp
// (wss://). One each, in their own translation units, because each takes
// minutes to compile and two compile side by side. Internal to net/.

#include "net/ws_session.hpp"

#include "net/io_gate.hpp"

#include <array>
#include <cstdlib>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>
#include <caf/send.hpp>

#include "actors/messages.hpp"
#include "log/log.hpp"
#include "net/tls_stream.hpp"
#include "protocol/codec.hpp"
#include "protocol/msgpack_codec.hpp"

namespace wsvisor::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

std::shared_ptr<spdlog::logger> ws_log() {
  static auto logger = log::get("ws");
  return logger;
}

// A close frame holds at most 123 bytes of reason, and Beast's fixed-size
// string throws past that: cut at a UTF-8 character boundary.
std::string trim_reason(std::string reason) {
  reason.resize(proto::utf8_prefix(reason, 123).size());
  return reason;
}

// Codes an endpoint may put in a close frame (RFC 6455 §7.4; the same set
// Beast accepts from a peer). 1005, 1006 and 1015 only ever describe a close.
bool sendable_close_code(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1013) ||
         (code >= 3000 && code <= 4999);
}

bool is_normal_ending(const beast::error_code& ec) {
  return ec == asio::error::operation_aborted || ec == websocket::error::closed;
}

std::string endpoint_text(const tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  auto addr = ep.address();
  auto host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return host + ":" + std::to_string(ep.port());
}

}  // namespace

template <class NextLayer>
void ws_session<NextLayer>::start(NextLayer&& stream, http::request<http::string_body>&& req,
                                  std::string subprotocol, std::shared_ptr<const http_options> opts,
                                  std::shared_ptr<ws_slots> slots) {
  auto self = std::make_shared<ws_session>(std::move(stream), std::move(subprotocol),
                                           std::move(opts), std::move(slots));
  // The listener calls this on the connection's strand, which is ours too, so
  // dispatch runs inline; it is spelled out so that no other caller can
  // touch the stream off the strand.
  asio::dispatch(self->strand_,
                 [self, req = std::move(req)]() mutable { self->accept(std::move(req)); });
}

template <class NextLayer>
ws_session<NextLayer>::ws_session(NextLayer&& stream, std::string subprotocol,
                                  std::shared_ptr<const http_options> opts,
                                  std::shared_ptr<ws_slots> slots)
    : strand_(beast::get_lowest_layer(stream).get_executor()),
      peer_(endpoint_text(beast::get_lowest_layer(stream).socket())),
      ip_(remote_ip(beast::get_lowest_layer(stream).socket())),
      subprotocol_(std::move(subprotocol)),
      format_(subprotocol_ == proto::msgpack_subprotocol ? wire_format::msgpack
                                                         : wire_format::json),
      opts_(std::move(opts)),
      slots_(std::move(slots)),
      ws_(std::move(stream)),
      close_deadline_(strand_),
      timer_(strand_) {}

template <class NextLayer>
ws_session<NextLayer>::~ws_session() {
  // Only reached unfinished when the io_context dropped our handlers (the
  // server stopped without closing). No ws_closed then: the actor, if any,
  // released us, and the actor system may already be gone.
  if (!finished_) slots_->release(ip_);
}

template <class NextLayer>
void ws_session<NextLayer>::accept(http::request<http::string_body> req) {
  // Beast's own timer bounds the opening handshake and the closes we start.
  // No idle timeout and no keep-alive pings: the application heartbeat owns
  // liveness, and a control frame proves nothing about the application.
  auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
  timeouts.handshake_timeout = opts_->handshake_timeout;
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws_.set_option(timeouts);
  const auto& z = opts_->compression;
  if (z.enabled) {
    // Beast negotiates (answering the client's offer within these bounds)
    // and inflates the client's compressed messages; what we send is
    // compressed by us (write_compressed_batch).
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;
    pmd.server_max_window_bits = static_cast<int>(z.window_bits);
    pmd.server_no_context_takeover = !z.context_takeover;
    pmd.client_no_context_takeover = !z.context_takeover;
    pmd.compLevel = static_cast<int>(z.level);
    ws_.set_option(pmd);
  }
  // Called by Beast once the response holds what it negotiated.
  ws_.set_option(websocket::stream_base::decorator([this](websocket::response_type& res) {
    res.set(http::field::server, "wsvisor");
    if (!subprotocol_.empty()) res.set(http::field::sec_websocket_protocol, subprotocol_);
    auto ext = res[http::field::sec_websocket_extensions];
    negotiated_.assign(ext.data(), ext.size());
  }));
  ws_.read_message_max(opts_->max_message_bytes);
  // One frame per message, written straight from the frame's two buffers
  // (a server does not mask, so Beast copies nothing).
  ws_.auto_fragment(false);
  beast::get_lowest_layer(ws_).rate_policy().on_teardown = [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->arm_close_deadline();
  };
  ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
}

template <class NextLayer>
void ws_session<NextLayer>::on_accept(beast::error_code ec) {
  if (ec) {
    fail(ec, "accept");
    return finish(ec);
  }
  accepted_ = true;
  start_deflate();
  try {
    if (opts_->on_websocket) actor_ = opts_->on_websocket(shared_from_this());
  } catch (const std::exception& e) {
    // An exception must not escape into the io_context's run loop.
    log::error(*ws_log(), "spawning the connection actor failed",
               {{"peer", peer_}, {"error", e.what()}});
  }
  if (!actor_) {
    request_close(1011, "internal error");
  } else {
    // The actor's end closes the socket. A weak reference: the session must
    // not keep itself alive through the actor it keeps alive.
    actor_->attach_functor([weak = weak_from_this(), gate = opts_->gate](const caf::error&) {
      if (auto self = weak.lock())
        gate->post(self->strand_, [self] { self->request_close(1011, "internal error"); });
    });
  }
  log::debug(*ws_log(), "websocket open", {{"peer", peer_}, {"subprotocol", subprotocol_}});
  read();
}

// A read waits for the next message in a small buffer inside the session,
// and reads the rest of a longer message into the string the actor
// receives. Beast's async_read prepares its buffer before it waits (1.5 KB
// for a flat_buffer), so reading whole messages would hold a buffer per idle
// connection. This way an idle connection holds none of its own, a short
// message costs one read operation (async_read costs two), and every
// message is copied once, from Beast's frame buffer into its string.
template <class NextLayer>
void ws_session<NextLayer>::read() {
  ws_.async_read_some(asio::buffer(head_),
                      beast::bind_front_handler(&ws_session::on_head, shared_from_this()));
}

template <class NextLayer>
void ws_session<NextLayer>::on_head(beast::error_code ec, std::size_t bytes) {
  if (ec) return finish(ec);
  message_.assign(head_.data(), bytes);
  if (ws_.is_message_done()) return on_read({}, 0);
  // Beast sizes each step of the rest by what the frame header says remains.
  message_buffer_.emplace(message_);
  ws_.async_read(*message_buffer_,
                 beast::bind_front_handler(&ws_session::on_read, shared_from_this()));
}

template <class NextLayer>
void ws_session<NextLayer>::on_read(beast::error_code ec, std::size_t) {
  message_buffer_.reset();
  if (ec) return finish(ec);
  auto payload = std::move(message_);
  message_ = std::string{};
  // After asking for a close the actor is done with this connection; we
  // keep reading only so that Beast sees the peer's close frame.
  if (actor_ && !close_requested_) {
    if (ws_.got_text())
      caf::anon_send(actor_, ws_text_atom::value, std::move(payload));
    else
      caf::anon_send(actor_, ws_binary_atom::value, std::move(payload));
  }
  read();
}

template <class NextLayer>
send_result ws_session<NextLayer>::send(out_frame frame) {
  if (!accepting_.load(std::memory_order_acquire)) return send_result::closed;
  const std::uint64_t size = frame.size();
  const std::uint64_t limit = opts_->send_queue_bytes;
  // Reserve the bytes before posting, so that concurrent senders see each
  // other and the bound holds without a lock.
  auto queued = queued_.load(std::memory_order_acquire);
  do {
    if (queued != 0 && queued + size > limit) {
      if (accepting_.exchange(false, std::memory_order_acq_rel))
        asio::post(strand_,
                   [self = shared_from_this()] { self->reset_socket("send queue overflow"); });
      return send_result::dropped;
    }
  } while (!queued_.compare_exchange_weak(queued, queued + size, std::memory_order_acq_rel,
                                          std::memory_order_acquire));
  auto peak = peak_.load(std::memory_order_relaxed);
  while (queued + size > peak &&
         !peak_.compare_exchange_weak(peak, queued + size, std::memory_order_relaxed)) {
  }
  // Frames wait in the inbox for the strand; only the first of a batch
  // posts. A burst from the actors (a publish's ack and then its message, a
  // fan-out, a replay) therefore costs one post and leaves in one write.
  bool post = false;
  {
    std::lock_guard lock{inbox_mutex_};
    inbox_.push_back(std::move(frame));
    post = !drain_posted_;
    drain_posted_ = true;
  }
  if (post) asio::post(strand_, [self = shared_from_this()] { self->drain_inbox(); });
  return send_result::queued;
}

template <class NextLayer>
void ws_session<NextLayer>::close(std::uint16_t code, std::string reason) {
  accepting_.store(false, std::memory_order_release);
  asio::post(strand_, [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
    self->request_close(code, std::move(reason));
  });
}

template <class NextLayer>
void ws_session<NextLayer>::drain_inbox() {
  {
    std::lock_guard lock{inbox_mutex_};
    draining_.swap(inbox_);
    drain_posted_ = false;
  }
  for (auto& frame : draining_) {
    // A frame that raced with close() or with the socket's end is discarded.
    if (finished_ || close_requested_)
      queued_.fetch_sub(frame.size(), std::memory_order_acq_rel);
    else
      queue_.push_back(std::move(frame));
  }
  draining_.clear();
  if (!writing_) write_next();
}

template <class NextLayer>
void ws_session<NextLayer>::write_next() {
  if (queue_.empty()) return release_idle_queues();
  // What queued up is the next batch, owned by the write until on_write.
  writing_ = true;
  batch_.swap(queue_);
  if (!ws_.next_layer().beast_writing()) return write_batch();
  ws_.next_layer().when_writable([weak = weak_from_this()] {
    if (auto self = weak.lock()) self->write_batch();
  });
}

template <class NextLayer>
void ws_session<NextLayer>::write_batch() {
  // A close of Beast's (the peer's echoed, or ours) may have gone out while
  // the batch waited: nothing may follow it.
  if (!ws_.is_open()) {
    writing_ = false;
    for (auto& frame : batch_) queued_.fetch_sub(frame.size(), std::memory_order_acq_rel);
    batch_.clear();
    return;
  }
  if (deflater_) return write_compressed_batch();
  // Small frames are copied into one buffer, so that a burst (a replay, a
  // fan-out window) leaves in one send; a large body is written from where
  // it is, shared with the other recipients.
  constexpr std::size_t copied_body = 1024;
  const auto& frames = frames_to_write();
  const bool binary = format_ == wire_format::msgpack;
  std::size_t scratch_bytes = 0;
  for (auto& frame : frames) {
    auto body = frame.body ? frame.body->size() : 0;
    scratch_bytes += 10 + frame.head.size() + (body <= copied_body ? body : 0);
  }
  scratch_.clear();
  scratch_.reserve(scratch_bytes);  // no reallocation below: gather_ points into it
  gather_.clear();
  std::size_t cut = 0;  // scratch_ bytes already in gather_
  for (auto& frame : frames) {
    auto header = data_frame_header::of(frame.size(), binary);
    scratch_.append(reinterpret_cast<const char*>(header.bytes.data()), header.size);
    scratch_.append(frame.head);
    if (!frame.body || frame.body->empty()) continue;
    if (frame.body->size() <= copied_body) {
      scratch_.append(*frame.body);
      continue;
    }
    gather_.push_back(asio::buffer(scratch_.data() + cut, scratch_.size() - cut));
    cut = scratch_.size();
    gather_.push_back(asio::buffer(*frame.body));
  }
  if (scratch_.size() > cut)
    gather_.push_back(asio::buffer(scratch_.data() + cut, scratch_.size() - cut));
  ws_.next_layer().async_write_frames(
      gather_, beast::bind_front_handler(&ws_session::on_write, shared_from_this()));
}

template <class NextLayer>
void ws_session<NextLayer>::release_idle_queues() {
  // After a burst the vectors keep their capacity; an idle connection should
  // not hold a burst's worth of frame slots and bytes.
  constexpr std::size_t kept_slots = 8;
  if (batch_.capacity() > kept_slots) std::vector<out_frame>{}.swap(batch_);
  if (queue_.capacity() > kept_slots) std::vector<out_frame>{}.swap(queue_);
  if (draining_.capacity() > kept_slots) std::vector<out_frame>{}.swap(draining_);
  if (encoded_.capacity() > kept_slots) std::vector<out_frame>{}.swap(encoded_);
  if (gather_.capacity() > kept_slots) std::vector<asio::const_buffer>{}.swap(gather_);
  if (scratch_.capacity() > 512) std::string{}.swap(scratch_);
  if (deflated_.capacity() > 512) std::string{}.swap(deflated_);
}

template <class NextLayer>
bool ws_session<NextLayer>::has_room() const {
  return queued_.load(std::memory_order_acquire) < opts_->send_queue_bytes / 2;
}

template <class NextLayer>
void ws_session<NextLayer>::when_room(std::function<void()> fn) {
  asio::dispatch(ws_.get_executor(), [self = shared_from_this(), fn = std::move(fn)]() mutable {
    if (self->finished_) return;  // never called once the connection has ended
    self->on_room_ = std::move(fn);
    self->notify_room();
  });
}

template <class NextLayer>
void ws_session<NextLayer>::set_timer(std::chrono::milliseconds delay, std::function<void()> fn) {
  asio::post(strand_, [self = shared_from_this(), delay, fn = std::move(fn)]() mutable {
    if (self->finished_) return;  // never called once the connection has ended
    self->timer_fn_ = std::move(fn);
    auto generation = ++self->timer_generation_;
    self->timer_.expires_after(delay);  // cancels a pending wait
    self->timer_.async_wait([self, generation](beast::error_code ec) {
      // A replaced wait may have completed already; only the latest fires.
      if (ec || generation != self->timer_generation_ || self->finished_ || !self->timer_fn_)
        return;
      auto fire = std::move(self->timer_fn_);
      self->timer_fn_ = nullptr;
      fire();
    });
  });
}

template <class NextLayer>
void ws_session<NextLayer>::notify_room() {
  // Below a quarter, not half: some hysteresis, so that a producer refills
  // the queue in batches rather than one frame per write completion.
  if (!on_room_ || queued_.load(std::memory_order_acquire) > opts_->send_queue_bytes / 4) return;
  auto fn = std::move(on_room_);
  on_room_ = nullptr;
  fn();
}

template <class NextLayer>
void ws_session<NextLayer>::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  for (auto& frame : batch_) queued_.fetch_sub(frame.size(), std::memory_order_acq_rel);
  batch_.clear();
  encoded_.clear();
  notify_room();
  if (ec) {
    fail(ec, "write");
    discard_queue();
    // A failed write means a broken connection; make sure the read ends too.
    if (!is_normal_ending(ec)) reset_socket("write failed");
    return;
  }
  if (!queue_.empty()) return write_next();
  release_idle_queues();
  if (close_requested_ && !finished_) start_close();
}

template <class NextLayer>
void ws_session<NextLayer>::discard_queue() {
  // A batch being written stays until its write completes.
  for (auto& frame : queue_) queued_.fetch_sub(frame.size(), std::memory_order_acq_rel);
  queue_.clear();
}

}  // namespace wsvisor::net

// Frames beyond plain text: permessage-deflate and MessagePack.
#include "net/ws_session_encode_impl.hpp"
// How a session ends: its close handshake, bounded, and what follows.
#include "net/ws_session_close_impl.hpp"
