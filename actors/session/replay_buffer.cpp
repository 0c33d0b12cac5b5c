#include "actors/session/replay_buffer.hpp"

#include <algorithm>
#include <utility>

namespace wsvisor {

replay_buffer::replay_buffer(std::uint64_t max_messages, std::uint64_t max_bytes)
    : max_messages_(max_messages), max_bytes_(max_bytes) {}

std::size_t replay_buffer::push(std::uint64_t seq, std::shared_ptr<const std::string> body,
                                std::chrono::steady_clock::time_point taken) {
  auto bytes = body ? body->size() : 0;
  entries_.push_back(entry{seq, std::move(body), bytes, taken});
  bytes_ += bytes;
  return evict_over_bounds();
}

std::size_t replay_buffer::evict_over_bounds() {
  std::size_t evicted = 0;
  while (size() > 0 && (size() > max_messages_ || bytes_ > max_bytes_)) {
    // Evicted before the client acknowledged it: a resume from below this
    // seq can no longer be served.
    lost_through_ = std::max(lost_through_, entries_[head_].seq);
    drop_front();
    ++evicted;
  }
  compact();
  return evicted;
}

bool replay_buffer::fill(std::uint64_t seq, std::shared_ptr<const std::string> body) {
  auto it = std::lower_bound(entries_.begin() + static_cast<std::ptrdiff_t>(head_), entries_.end(),
                             seq, [](const entry& e, std::uint64_t s) { return e.seq < s; });
  if (it == entries_.end() || it->seq != seq || it->body || !body) return false;
  it->bytes = body->size();
  bytes_ += it->bytes;
  it->body = std::move(body);
  evict_over_bounds();
  return true;
}

void replay_buffer::ack(std::uint64_t seq) {
  acked_through_ = std::max(acked_through_, seq);
  while (size() > 0 && entries_[head_].seq <= seq) drop_front();
  compact();
}

void replay_buffer::drop_front() {
  auto& oldest = entries_[head_++];
  bytes_ -= oldest.bytes;
  oldest.body.reset();  // the body may be large: free it now, not at compaction
}

void replay_buffer::compact() {
  if (head_ == entries_.size()) {
    // Empty: give the memory back unless it is small enough to keep for
    // the next message (a session that is sent one message at a time and
    // acks it keeps a few entries, not a growing vector).
    entries_.clear();
    head_ = 0;
    if (entries_.capacity() > 16) entries_.shrink_to_fit();
    return;
  }
  if (head_ >= 16 && head_ * 2 >= entries_.size()) {
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

bool replay_buffer::can_replay_after(std::uint64_t last_seq) const {
  // What the client holds: everything up to last_seq, and everything it
  // acknowledged. Only an eviction above both loses a message it lacks.
  return std::max(last_seq, acked_through_) >= lost_through_;
}

replay_buffer::const_iterator replay_buffer::first_after(std::uint64_t last_seq) const {
  return std::upper_bound(begin(), end(), last_seq,
                          [](std::uint64_t s, const entry& e) { return s < e.seq; });
}

}  // namespace wsvisor
