#pragma once

/// Records what a wsvisor::client reports, for tests: every message and
/// state change with the time it arrived, and waits on them with deadlines
/// (never sleeps). Pass `callbacks()` to the client. Header-only so that any
/// test suite can use it.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "client/client.hpp"

namespace wsvisor::test {

class client_recorder {
 public:
  using clock = std::chrono::steady_clock;

  struct state_event {
    client_state_change change;
    clock::time_point at;
  };

  struct message_event {
    client_message message;
    clock::time_point at;
  };

  client_callbacks callbacks() {
    return {[this](const client_message& m) {
              {
                std::lock_guard guard{mtx_};
                messages_.push_back({m, clock::now()});
              }
              cv_.notify_all();
            },
            [this](const client_state_change& c) {
              {
                std::lock_guard guard{mtx_};
                states_.push_back({c, clock::now()});
              }
              cv_.notify_all();
            }};
  }

  /// Waits for the `nth` (1-based) state change of `kind`; returns it.
  std::optional<state_event> await_state(client_state_kind kind, std::size_t nth = 1,
                                         std::chrono::milliseconds timeout = default_timeout) {
    std::unique_lock lock{mtx_};
    std::optional<state_event> found;
    cv_.wait_for(lock, timeout, [&] {
      std::size_t seen = 0;
      for (auto& s : states_) {
        if (s.change.kind == kind && ++seen == nth) {
          found = s;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  /// Waits until at least `n` messages arrived.
  bool await_messages(std::size_t n, std::chrono::milliseconds timeout = default_timeout) {
    std::unique_lock lock{mtx_};
    return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
  }

  std::vector<message_event> messages() const {
    std::lock_guard guard{mtx_};
    return messages_;
  }

  std::vector<state_event> states() const {
    std::lock_guard guard{mtx_};
    return states_;
  }

  std::size_t count(client_state_kind kind) const {
    std::lock_guard guard{mtx_};
    return static_cast<std::size_t>(
        std::count_if(states_.begin(), states_.end(),
                      [&](const state_event& s) { return s.change.kind == kind; }));
  }

  /// Generous: awaiting is not timing, and a loaded two-core machine under
  /// ASan can be slow. A passing test never waits this long.
  static constexpr std::chrono::milliseconds default_timeout{20'000};

 private:
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<message_event> messages_;
  std::vector<state_event> states_;
};

}  // namespace wsvisor::test
