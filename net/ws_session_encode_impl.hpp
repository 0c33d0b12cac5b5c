#pragma once

/// What a ws_session (net/ws_session.hpp) writes beyond plain text frames:
/// permessage-deflate, once the handshake negotiated it (the compressor is
/// ours, net/message_deflater.hpp), and wsvisor.v1.msgpack, whose frames are
/// encoded from the actors' JSON on the way out (protocol/msgpack_codec.hpp).
/// Part of net/ws_session_impl.hpp, which includes it near its end; internal
/// to net/.

#include <charconv>

#include "protocol/msgpack_codec.hpp"

namespace wsvisor::net {

// What Beast answered the client's permessage-deflate offer, if anything
// (RFC 7692 §7.1): "permessage-deflate" with "server_no_context_takeover"
// and "server_max_window_bits=N" when they apply.
template <class NextLayer>
void ws_session<NextLayer>::start_deflate() {
  auto answered = std::move(negotiated_);
  negotiated_ = {};
  std::string_view ext = answered;
  if (!ext.starts_with("permessage-deflate")) return;
  const auto& z = opts_->compression;
  bool takeover = ext.find("server_no_context_takeover") == std::string_view::npos;
  int bits = 15;
  constexpr std::string_view bits_key = "server_max_window_bits=";
  if (auto at = ext.find(bits_key); at != std::string_view::npos)
    bits = std::atoi(std::string{ext.substr(at + bits_key.size(), 2)}.c_str());
  if (bits < 9 || bits > 15) bits = static_cast<int>(z.window_bits);
  auto level = static_cast<int>(z.level);
  try {
    if (takeover) {
      own_deflater_ = std::make_unique<message_deflater>(level, bits, true);
      deflater_ = own_deflater_.get();
    } else {
      deflater_ = &message_deflater::for_thread(level, bits);
    }
  } catch (const std::exception& e) {
    // zlib could not allocate its state: the connection goes on with plain
    // frames, which RFC 7692 allows on a negotiated connection too.
    log::error(*ws_log(), "permessage-deflate unavailable; sending uncompressed",
               {{"peer", peer_}, {"error", e.what()}});
    return;
  }
  log::debug(*ws_log(), "permessage-deflate negotiated", {{"peer", peer_}, {"extension", ext}});
}

// With permessage-deflate every frame of the batch is built in scratch_: a
// message of at least `threshold` bytes compressed (RSV1 set), a smaller one
// as it is (RFC 7692 lets each message choose).
template <class NextLayer>
void ws_session<NextLayer>::write_compressed_batch() {
  const auto threshold = opts_->compression.threshold;
  const bool binary = format_ == wire_format::msgpack;
  scratch_.clear();
  for (auto& frame : frames_to_write()) {
    std::string_view body = frame.body ? std::string_view{*frame.body} : std::string_view{};
    if (frame.size() < threshold) {
      auto header = data_frame_header::of(frame.size(), binary);
      scratch_.append(reinterpret_cast<const char*>(header.bytes.data()), header.size);
      scratch_.append(frame.head);
      scratch_.append(body);
      continue;
    }
    deflated_.clear();
    if (own_deflater_)
      deflater_->compress(frame.head, body, deflated_);
    else  // no context takeover: a body shared by many frames is compressed once
      deflater_->compress_shared(frame.head, frame.body, deflated_);
    auto header = data_frame_header::of(deflated_.size(), binary);
    header.bytes[0] |= 0x40;  // RSV1: this message is compressed
    scratch_.append(reinterpret_cast<const char*>(header.bytes.data()), header.size);
    scratch_.append(deflated_);
  }
  gather_.clear();
  gather_.push_back(asio::buffer(scratch_));
  ws_.next_layer().async_write_frames(
      gather_, beast::bind_front_handler(&ws_session::on_write, shared_from_this()));
}

// What the batch is on the wire: batch_ itself (JSON), or its frames in
// MessagePack (wsvisor.v1.msgpack), kept in encoded_ until the write is
// done. batch_ stays as it was queued: the queue's byte count is of those.
// A message (its head and a shared body) gets a head of its own and the
// body's MessagePack form from this thread's cache, encoded once per
// message, not once per recipient; any other frame is encoded whole.
template <class NextLayer>
const std::vector<out_frame>& ws_session<NextLayer>::frames_to_write() {
  if (format_ != wire_format::msgpack) return batch_;
  thread_local proto::msgpack_bodies bodies;
  constexpr std::string_view message_head = R"({"type":"message","seq":)";
  encoded_.clear();
  encoded_.reserve(batch_.size());
  for (const auto& frame : batch_) {
    std::string_view head = frame.head;
    if (frame.body && head.starts_with(message_head)) {
      std::uint64_t seq = 0;
      auto digits = head.substr(message_head.size());
      std::from_chars(digits.data(), digits.data() + digits.size(), seq);
      auto body = bodies.get(frame.body);
      if (body.pairs) {
        encoded_.push_back({proto::msgpack_message_head(seq, body.count), body.pairs});
        continue;
      }
    }
    std::string text{head};
    if (frame.body) text += *frame.body;
    encoded_.push_back({{}, std::make_shared<const std::string>(proto::msgpack_frame(text))});
  }
  return encoded_;
}

}  // namespace wsvisor::net
