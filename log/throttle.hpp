#pragma once

/// Holds back repeats of one kind of log event (a refused subscribe, a failed
/// connect) so that one misbehaving client or one failing link writes at most
/// one line of that kind per interval (`[log] repeat_interval`), and says how
/// many it held back.
///
/// The first event is admitted at once and opens a window of `interval`.
/// Events inside the window are counted, not logged. The first event at or
/// after the window's end is admitted with that count, which its line states,
/// and opens the next window. `flush` hands over a count still held at the end
/// of what the throttle watches (a connection, a link) and closes the window,
/// so that the next event is admitted at once.
///
/// Plain data: no clock of its own (the caller passes the time), no
/// allocation, not thread-safe. Owned by one actor's state or one strand.

#include <chrono>
#include <cstdint>
#include <optional>

namespace wsvisor::log {

/// What a throttle held back before a line: `suppressed` events of the same
/// kind, all within `interval` after the previous line of that kind.
struct repeats {
  std::uint64_t suppressed = 0;
  std::chrono::milliseconds interval{0};
  bool operator==(const repeats&) const = default;
};

class throttle {
 public:
  using clock = std::chrono::steady_clock;

  /// The event at `now`: nullopt when it is held back (and counted); else it
  /// is to be logged, with what was held back before it (suppressed 0:
  /// nothing). An admission opens a window of `interval`; 0 admits every
  /// event. `now` must not go back (a steady clock's time).
  std::optional<repeats> admit(clock::time_point now, std::chrono::milliseconds interval);

  /// What is held back and not yet said, or nullopt when nothing is; closes
  /// the window either way.
  std::optional<repeats> flush();

  /// Events held back since the last admission or flush.
  std::uint64_t held() const { return held_; }

 private:
  bool open_ = false;  // a window runs until until_
  clock::time_point until_{};
  std::chrono::milliseconds window_{0};  // the open window's length
  std::uint64_t held_ = 0;
};

}  // namespace wsvisor::log
