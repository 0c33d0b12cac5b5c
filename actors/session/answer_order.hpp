#pragma once

/// The answers a session owes its client, kept in the order the client asked
/// for them. Some wait for another actor (a publish's broker answer, a
/// subscribe's confirmation across the cluster) and an upstream's channel
/// answers later than a plain one, yet the client must never see ack N+1
/// before ack N, nor `unsubscribed` before the `subscribed` it asked first.
/// A subscribe whose answer depends on subscribes still at the broker (the
/// subscription limit) is decided only once everything before it is out.
///
/// Pure and single-threaded: the session actor owns one (session_state).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/frame_text.hpp"

namespace wsvisor {

class answer_order {
 public:
  /// Nothing is outstanding or queued.
  bool empty() const { return answers_.empty(); }

  /// A publish with this cseq has not been answered yet (or its answer
  /// waits for those before it).
  bool awaiting(std::uint64_t cseq) const;

  /// Reserves the next place for an answer that comes later (fill);
  /// `cseq`: the publish's, 0 for anything else. Returns its ticket.
  std::uint64_t reserve(std::uint64_t cseq = 0);

  /// Reserves the next place for a subscribe to `channel` that is decided
  /// once every answer before it is out (release).
  void reserve_undecided(std::string channel);

  /// An answer that is ready now, behind those still outstanding.
  void queue(frame_text frame);

  /// The answer for `ticket` has come (release sends it when its turn comes).
  void fill(std::uint64_t ticket, frame_text frame);

  /// Hands the answers at the front that are ready to `send`, oldest first,
  /// and forgets them. An undecided subscribe at the front is decided by
  /// `decide(channel, ticket)`: nullopt keeps the line waiting, an empty
  /// string turns it into an outstanding answer under the same ticket.
  template <class Decide, class Send>
  void release(Decide&& decide, Send&& send) {
    std::size_t sent = 0;
    while (sent < answers_.size()) {
      auto& front = answers_[sent];
      if (!front.undecided_subscribe.empty()) {
        std::optional<std::string> decided = decide(front.undecided_subscribe, front.ticket);
        if (!decided) break;
        front.undecided_subscribe.clear();
        front.frame = std::move(*decided);
      }
      if (front.frame.empty()) break;
      send(std::move(front.frame));
      ++sent;
    }
    answers_.erase(answers_.begin(), answers_.begin() + static_cast<std::ptrdiff_t>(sent));
  }

 private:
  struct pending_answer {
    std::uint64_t ticket;
    std::uint64_t cseq;               // of a publish; 0 otherwise
    frame_text frame;                 // empty while the answer is outstanding
    std::string undecided_subscribe;  // the channel of a subscribe not decided yet
  };
  // A vector, not a std::deque: libstdc++'s deque allocates 576 bytes even
  // while empty, which is what this almost always is.
  std::vector<pending_answer> answers_;
  std::uint64_t last_ticket_ = 0;
};

}  // namespace wsvisor
