#pragma once

/// A value guarded by a mutex, updated by I/O or actor threads while the test
/// thread awaits a predicate on it (bounded by a timeout).

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace wsvisor::test {

template <class T>
class watched {
 public:
  template <class F>
  void update(F f) {
    {
      std::lock_guard lock{mutex_};
      f(data_);
    }
    cv_.notify_all();
  }

  template <class F>
  auto read(F f) {
    std::lock_guard lock{mutex_};
    return f(data_);
  }

  /// Waits until `pred(value)` holds; false after `timeout`.
  template <class Pred>
  bool await(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    std::unique_lock lock{mutex_};
    return cv_.wait_for(lock, timeout, [&] { return pred(data_); });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  T data_;
};

}  // namespace wsvisor::test
