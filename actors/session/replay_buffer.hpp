#pragma once

/// A session's unacknowledged outbound messages, oldest first (plain data, no
/// actors; owned by one session actor, not thread-safe).
///
/// Bounded by a message count and a byte count: past either bound the oldest
/// entry is evicted. Evictions are remembered as a high-water mark, so
/// `can_replay_after(last_seq)` answers whether a resume can still deliver
/// every message the client lacks. Acknowledged entries are dropped too, but
/// they are not lost: the client said it holds them.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace wsvisor {

class replay_buffer {
 public:
  struct entry {
    std::uint64_t seq = 0;
    std::shared_ptr<const std::string> body;        // the shared `message` body
    std::size_t bytes = 0;                          // counted against max_bytes: body size
    std::chrono::steady_clock::time_point taken{};  // when the broker took it; {}: not measured
  };

  using const_iterator = std::vector<entry>::const_iterator;

  /// `max_messages` and `max_bytes` are the bounds (session.replay_buffer and
  /// session.replay_buffer_bytes); 0 keeps nothing.
  replay_buffer(std::uint64_t max_messages, std::uint64_t max_bytes);

  /// Appends the message `seq`, which must be above every seq pushed before,
  /// then evicts the oldest entries while either bound is exceeded (a message
  /// larger than max_bytes on its own evicts itself). Returns how many
  /// entries were evicted. `taken` is kept with the entry.
  std::size_t push(std::uint64_t seq, std::shared_ptr<const std::string> body,
                   std::chrono::steady_clock::time_point taken = {});

  /// Gives entry `seq`, pushed without a body, its body (a replica store's
  /// entry whose body arrives after it, actors/cluster/replica_records.hpp);
  /// the bounds apply as for a push. False if there is no such entry or it
  /// has a body.
  bool fill(std::uint64_t seq, std::shared_ptr<const std::string> body);

  /// The client holds every message up to `seq`: drops them.
  void ack(std::uint64_t seq);

  /// True iff every message with a seq above `last_seq` that was ever pushed
  /// is still here (or was acknowledged, so the client has it).
  bool can_replay_after(std::uint64_t last_seq) const;

  /// The first entry with seq > last_seq (entries are in seq order); iterate
  /// to end() to replay.
  const_iterator first_after(std::uint64_t last_seq) const;

  const_iterator begin() const { return entries_.begin() + static_cast<std::ptrdiff_t>(head_); }
  const_iterator end() const { return entries_.end(); }
  std::size_t size() const { return entries_.size() - head_; }

  /// Heap bytes held for entries (their capacity), for tests: an empty
  /// buffer holds none, so an idle or detached session costs nothing here.
  std::size_t capacity_bytes() const { return entries_.capacity() * sizeof(entry); }
  std::uint64_t bytes() const { return bytes_; }

  /// Highest seq evicted without acknowledgement (0 if none).
  std::uint64_t lost_through() const { return lost_through_; }

  /// Message `seq` (above every seq pushed) was lost before it got here (a
  /// gap between nodes): no resume from before it can be complete.
  void lose(std::uint64_t seq) { lost_through_ = std::max(lost_through_, seq); }

  /// Restores the marks of a buffer handed over from another node (entries
  /// are pushed separately).
  void restore_marks(std::uint64_t acked_through, std::uint64_t lost_through) {
    acked_through_ = acked_through;
    lost_through_ = lost_through;
  }

  /// Highest seq acknowledged (0 if none).
  std::uint64_t acked_through() const { return acked_through_; }

 private:
  std::uint64_t max_messages_;
  std::uint64_t max_bytes_;
  // Live entries are entries_[head_..]: dropping the oldest only moves
  // head_, and the dead prefix is erased once it is half the vector. Unlike
  // a std::deque (which allocates a 512-byte block and its map even when
  // empty), an empty vector holds no memory, and one emptied after a burst
  // gives its memory back.
  void drop_front();
  void compact();
  std::size_t evict_over_bounds();
  std::vector<entry> entries_;
  std::size_t head_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t lost_through_ = 0;
  std::uint64_t acked_through_ = 0;
};

}  // namespace wsvisor
