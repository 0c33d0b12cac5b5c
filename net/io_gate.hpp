#pragma once

/// Lets threads outside an io_context (an actor's exit functor, run by CAF as
/// the actor terminates) post work to it only while it is alive. The owner of
/// the io_context closes the gate before destroying it; a post after that is
/// dropped. CAF may still be running such a functor after
/// `actor_system::await_all_actors_done()` returns, so waiting for the actors
/// alone does not make destroying the io_context safe.
///
/// Thread-safe. The lock is held only while the handler is queued.

#include <mutex>
#include <utility>

#include <boost/asio/post.hpp>

namespace wsvisor::net {

class io_gate {
 public:
  /// Posts `f` to `target` (an io_context, strand or executor) unless the
  /// gate is closed.
  template <class Target, class F>
  void post(Target& target, F&& f) {
    std::lock_guard guard{mtx_};
    if (open_) boost::asio::post(target, std::forward<F>(f));
  }

  /// Runs `f` now, on this thread, unless the gate is closed; the io_context
  /// is not destroyed while it runs. For calls that post to it themselves.
  template <class F>
  bool call(F&& f) {
    std::lock_guard guard{mtx_};
    if (open_) std::forward<F>(f)();
    return open_;
  }

  /// From now on, `post` drops its handler. Returns once no post is running.
  void close() {
    std::lock_guard guard{mtx_};
    open_ = false;
  }

 private:
  std::mutex mtx_;
  bool open_ = true;
};

}  // namespace wsvisor::net
