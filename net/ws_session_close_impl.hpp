#pragma once

/// How a ws_session ends (net/ws_session.hpp): a close asked for by its actor
/// or the peer, the close handshake bounded by a deadline, a reset when the
/// peer does not answer, and the one `finish` that reports the end. The
/// second half of net/ws_session_impl.hpp, which includes it at its end
/// (its file-local helpers, such as trim_reason and is_normal_ending, are
/// that file's); internal to net/.

namespace wsvisor::net {

template <class NextLayer>
void ws_session<NextLayer>::request_close(std::uint16_t code, std::string reason) {
  accepting_.store(false, std::memory_order_release);
  if (finished_ || close_requested_) return;
  if (!sendable_close_code(code)) {
    log::warn(*ws_log(), "invalid close code replaced by 1011", {{"peer", peer_}, {"code", code}});
    code = 1011;
  }
  close_requested_ = close_request{code, trim_reason(std::move(reason))};
  // From now on the socket has handshake_timeout to go, whatever blocks it
  // (a peer that reads nothing, a peer that never answers the close).
  arm_close_deadline();
  if (!writing_) start_close();  // otherwise on_write starts it once the queue drains
}

template <class NextLayer>
void ws_session<NextLayer>::start_close() {
  // Beast may be closing already (the peer's close frame, a failed frame):
  // a second close frame is not allowed, and the deadline bounds Beast's.
  // After our own reset there is nobody to send a close frame to.
  if (!ws_.is_open() || !beast::get_lowest_layer(ws_).socket().is_open()) return;
  close_started_ = true;
  close_pending_ = true;
  websocket::close_reason frame{close_requested_->code};
  frame.reason = close_requested_->reason;  // trimmed to fit by request_close
  ws_.async_close(frame, beast::bind_front_handler(&ws_session::on_close, shared_from_this()));
}

template <class NextLayer>
void ws_session<NextLayer>::on_close(beast::error_code ec) {
  close_pending_ = false;
  if (ec) fail(ec, "close");
  // The read usually ends first; if it has, the socket is ours to release.
  if (finished_) release_socket();
}

template <class NextLayer>
void ws_session<NextLayer>::arm_close_deadline() {
  if (deadline_armed_ || finished_) return;
  deadline_armed_ = true;
  close_deadline_.expires_after(opts_->handshake_timeout);
  close_deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec != asio::error::operation_aborted) self->on_close_deadline();
  });
}

template <class NextLayer>
void ws_session<NextLayer>::on_close_deadline() {
  auto& socket = beast::get_lowest_layer(ws_).socket();
  if (!socket.is_open()) return;
  if (!deadline_passed_) {
    // First a shutdown rather than a close: reads see EOF and blocked writes
    // fail, so Beast's operations end by themselves and keep their result
    // (a teardown after 1009 still reports 1009). Linger 0 makes the close
    // that follows a reset, dropping what a dead peer never read.
    deadline_passed_ = true;
    if (!reset_reason_) reset_reason_ = "close timed out";
    log::info(*ws_log(), "websocket close timed out", {{"peer", peer_}});
    beast::error_code ignored;
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    // Data already queued is still read after a shutdown: a peer that keeps
    // sending could stretch Beast's drain, so a hard close follows shortly.
    close_deadline_.expires_after(std::min<duration>(opts_->handshake_timeout, duration{1000}));
    close_deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec != asio::error::operation_aborted) self->on_close_deadline();
    });
    return;
  }
  reset_socket("close timed out");
}

template <class NextLayer>
void ws_session<NextLayer>::reset_socket(const char* why) {
  auto& socket = beast::get_lowest_layer(ws_).socket();
  if (!socket.is_open()) return;
  if (!reset_reason_) reset_reason_ = why;
  log::info(*ws_log(), "websocket reset", {{"peer", peer_}, {"reason", why}});
  // Linger 0 turns close into a reset: the kernel drops what the peer never
  // read instead of holding it for the peer, so the memory is freed now.
  beast::error_code ignored;
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
  beast::get_lowest_layer(ws_).close();
}

template <class NextLayer>
void ws_session<NextLayer>::release_socket() {
  close_deadline_.cancel();
  if (beast::get_lowest_layer(ws_).socket().is_open()) beast::get_lowest_layer(ws_).close();
}

template <class NextLayer>
void ws_session<NextLayer>::finish(beast::error_code ec) {
  on_room_ = nullptr;  // its producer learns of the end through ws_closed instead
  // The timer's callback holds the connection actor (weakly, which still
  // keeps its memory): drop it with the socket.
  timer_fn_ = nullptr;
  timer_.cancel();
  if (finished_) return;
  finished_ = true;
  accepting_.store(false, std::memory_order_release);
  discard_queue();
  if (ec != websocket::error::closed) fail(ec, "read");

  std::uint16_t code = 1006;
  std::string reason;
  if (close_started_) {
    // Our close frame went out; what the actor asked for is what it hears.
    code = close_requested_->code;
    reason = close_requested_->reason;
  } else if (ec == websocket::error::closed || ws_.reason().code != websocket::close_code::none) {
    // The peer's close (Beast has answered it with the same code), also when
    // the teardown after it was cut short by the close deadline.
    code =
        ws_.reason().code == websocket::close_code::none ? std::uint16_t{1005} : ws_.reason().code;
    reason = std::string{ws_.reason().reason.data(), ws_.reason().reason.size()};
  } else if (ec == websocket::error::message_too_big) {
    code = websocket::close_code::too_big;  // sent by Beast's read
    reason = "message too big";
  } else if (ec == websocket::error::bad_frame_payload) {
    code = websocket::close_code::bad_payload;
    reason = "invalid UTF-8";
  } else if (ec.category() == websocket::make_error_code(websocket::error::closed).category() &&
             accepted_) {
    code = websocket::close_code::protocol_error;
    reason = "protocol error";
  } else {
    reason = reset_reason_ ? reset_reason_ : ec.message();
  }

  // A close of ours still in flight releases the socket in on_close.
  if (!close_pending_) release_socket();
  slots_->release(ip_);
  log::debug(*ws_log(), "websocket closed", {{"peer", peer_}, {"code", code}, {"reason", reason}});
  if (actor_) {
    caf::anon_send(actor_, ws_closed_atom::value, code, std::move(reason));
    actor_ = nullptr;
  }
}

template <class NextLayer>
void ws_session<NextLayer>::fail(beast::error_code ec, const char* what) {
  if (is_normal_ending(ec) || failure_logged_) return;
  failure_logged_ = true;
  log::debug(*ws_log(), "websocket failed",
             {{"peer", peer_}, {"during", what}, {"error", ec.message()}});
}

}  // namespace wsvisor::net
