#pragma once

/// The node's event loops: one `io_context` per thread, each run by exactly
/// one thread of the pool. Sockets are spread over the contexts; with the
/// `io` actor scheduler (net/io_scheduler.hpp) the same threads run the
/// actors, so a frame read on a socket is handled by actors on that socket's
/// thread.
///
/// Because each context has one thread, a context's executor serialises
/// everything posted to it: it is the strand of every socket that lives on it.
///
/// Thread-safety: `context`, `next`, `size`, `index_here` and `running` may be
/// called from any thread. `start` and `stop` are for the owner, and never
/// from a pool thread.

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace wsvisor::net {

class io_pool {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  /// `threads` contexts (at least one); no thread runs before `start`.
  explicit io_pool(std::size_t threads);
  /// Stops the threads (as `stop`), then destroys the contexts: handlers
  /// still queued are destroyed without running.
  ~io_pool();
  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  std::size_t size() const { return contexts_.size(); }
  boost::asio::io_context& context(std::size_t i);

  /// The context for the next new socket, round robin.
  boost::asio::io_context& next();

  /// Starts one thread per context; each runs its context until `stop`,
  /// even while it has no work.
  void start();

  /// Stops every context, joins the threads, then calls each `on_stopped`
  /// callback (in the order they were added). Idempotent.
  void stop();

  /// True between `start` and `stop`.
  bool running() const { return running_.load(std::memory_order_acquire); }

  /// The index of the calling thread in this pool, or npos on any other
  /// thread (including another pool's).
  std::size_t index_here() const;

  /// `fn` runs at the end of `stop`, once no pool thread is left; at once
  /// when the pool has stopped already. Returns a handle for `forget`.
  std::size_t on_stopped(std::function<void()> fn);

  /// Drops an `on_stopped` callback; once this returns it will not run. Not
  /// from within a callback.
  void forget(std::size_t handle);

 private:
  struct context_type;
  struct guard;
  std::vector<std::unique_ptr<context_type>> contexts_;
  std::vector<std::unique_ptr<guard>> guards_;  // keep run() going while idle
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> running_{false};
  std::mutex mtx_;  // guards stopped_ and callbacks_
  bool stopped_ = false;
  std::vector<std::pair<std::size_t, std::function<void()>>> callbacks_;
  std::size_t next_handle_ = 0;
};

}  // namespace wsvisor::net
