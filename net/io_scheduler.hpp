#pragma once

/// A CAF 0.17 scheduler that runs actors on the node's I/O threads
/// (`server.actor_scheduler = "io"`; docs/architecture.md, "Threads").
///
/// Each thread of an `io_pool` gets one worker, an execution unit whose jobs
/// (actors with mail) wait in the worker's own queue; the worker posts one
/// handler to its thread's io_context whenever that queue turns non-empty,
/// and that handler resumes the queued actors in turn, so socket handlers and
/// actors take turns on the thread. Where a job goes:
/// - woken by an actor running on a worker: to that worker (its thread);
/// - woken from a pool thread outside an actor (a socket's read handler
///   sending to its connection actor): to that thread's worker;
/// - woken from any other thread (CAF's middleman, a detached actor, the
///   main thread): to the workers in turn.
/// A frame read on a socket is therefore parsed, sequenced, fanned out and
/// written on that socket's thread, unless a recipient is woken elsewhere.
///
/// Delayed messages and timeouts (`delayed_send`, request timeouts) run on
/// an Asio timer on the pool's first context: no timer thread.
///
/// Lifetime: load it with `io_system_config` (whose `pool` must outlive the
/// actor system or be stopped before it). When the pool stops
/// (`io_pool::stop`), the scheduler moves every worker, and the timer, to a
/// thread of its own, so that actors still alive (the node's shutdown awaits
/// them after its I/O threads stopped) keep running until the actor system
/// is destroyed.

#include <caf/actor_system_config.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

namespace wsvisor::net {

class io_pool;

/// An actor system config that names the pool whose threads run the actors
/// when `io_scheduler` is loaded.
struct io_system_config : caf::actor_system_config {
  io_pool* pool = nullptr;

  /// Loads `io_scheduler` as the actor system's scheduler, on `p`'s threads.
  io_system_config& use_io_scheduler(io_pool& p);
};

class io_scheduler final : public caf::scheduler::abstract_coordinator {
 public:
  /// For `actor_system_config::load`: the config must be an `io_system_config`
  /// with a pool.
  static caf::actor_system::module* make(caf::actor_system& sys, caf::detail::type_list<>);

  explicit io_scheduler(caf::actor_system& sys, io_pool& pool);
  ~io_scheduler() override;

  void init(caf::actor_system_config& cfg) override;
  void start() override;
  void stop() override;
  void enqueue(caf::resumable* job) override;
  caf::actor_clock& clock() noexcept override;

  /// The io_scheduler of `sys`, or null when it runs another scheduler.
  static io_scheduler* of(caf::actor_system& sys);

  /// Jobs resumed so far on pool threads and on the scheduler's own thread
  /// after the pool stopped (for tests).
  std::size_t resumed_on_pool() const;
  std::size_t resumed_after_pool() const;

  /// Delayed messages and timeouts waiting in the clock now
  /// (`wsvisor_actor_timers_pending`).
  std::size_t pending_timers() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace wsvisor::net
