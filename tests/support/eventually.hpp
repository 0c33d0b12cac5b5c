#pragma once

/// For states that announce nothing (an object's end, a counter, a slot
/// freed after a socket ended): checked every few milliseconds until true or
/// the deadline. Prefer awaiting an event where there is one.

#include <chrono>
#include <thread>

namespace wsvisor::test {

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  return true;
}

}  // namespace wsvisor::test
