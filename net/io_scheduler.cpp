#include "net/io_scheduler.hpp"

#include <pthread.h>

#include <atomic>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/actor_system.hpp>
#include <caf/detail/simple_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>

#include "net/io_pool.hpp"

namespace wsvisor::net {

namespace asio = boost::asio;

namespace {

/// Resumes per turn of a worker on its thread: then socket handlers that
/// became ready meanwhile run before the next turn.
constexpr std::size_t jobs_per_turn = 512;

class worker;

// The worker whose turn is running on this thread, if any.
thread_local worker* running_here = nullptr;

/// One pool thread's execution unit (see io_scheduler.hpp).
class worker final : public caf::execution_unit {
 public:
  worker(caf::actor_system& sys, const void* owner, asio::io_context& target)
      : caf::execution_unit(&sys), owner_(owner), target_(&target) {}

  /// Called by an actor this worker is running, about another actor it woke.
  void exec_later(caf::resumable* job) override {
    if (running_here == this) {
      local_.push_back(job);
      return;
    }
    push(job);
  }

  /// From any thread.
  void push(caf::resumable* job) {
    std::lock_guard lock{mtx_};
    inbox_.push_back(job);
    post_turn();
  }

  /// When `job` can go to the queue of the turn running on this thread.
  static bool push_here(const void* owner, caf::resumable* job) {
    auto* w = running_here;
    if (w == nullptr || w->owner_ != owner) return false;
    w->local_.push_back(job);
    return true;
  }

  /// From now on turns run on `ctx` (the scheduler's own thread).
  void retarget(asio::io_context& ctx) {
    std::lock_guard lock{mtx_};
    target_ = &ctx;
    // A turn posted to the old context may never run: post one here.
    posted_ = false;
    if (!inbox_.empty() || !local_.empty()) post_turn();
  }

  /// What was left when the scheduler stopped; no turn runs any more.
  std::vector<caf::resumable*> take_leftovers() {
    std::lock_guard run_lock{run_mtx_};
    std::lock_guard lock{mtx_};
    std::vector<caf::resumable*> jobs(local_.begin(), local_.end());
    jobs.insert(jobs.end(), inbox_.begin(), inbox_.end());
    local_.clear();
    inbox_.clear();
    return jobs;
  }

  std::size_t max_throughput = 0;
  std::atomic<std::size_t> resumed{0};

 private:
  // Under mtx_.
  void post_turn() {
    if (posted_) return;
    posted_ = true;
    asio::post(*target_, [this] { turn(); });
  }

  void turn() {
    // Two turns never overlap: after a retarget one may still be queued on
    // the old context while the new one runs.
    std::lock_guard run_lock{run_mtx_};
    {
      std::lock_guard lock{mtx_};
      posted_ = false;
      for (auto* job : inbox_) local_.push_back(job);
      inbox_.clear();
    }
    auto* outer = std::exchange(running_here, this);
    std::size_t budget = jobs_per_turn;
    while (!local_.empty() && budget-- > 0) {
      auto* job = local_.front();
      local_.pop_front();
      resumed.fetch_add(1, std::memory_order_relaxed);
      switch (job->resume(this, max_throughput)) {
        case caf::resumable::resume_later:
          local_.push_back(job);  // its mailbox is not empty yet: behind the others
          break;
        case caf::resumable::done:
        case caf::resumable::awaiting_message:
        case caf::resumable::shutdown_execution_unit:
          intrusive_ptr_release(job);
          break;
      }
    }
    running_here = outer;
    std::lock_guard lock{mtx_};
    if (!local_.empty() || !inbox_.empty()) post_turn();
  }

  const void* const owner_;             // the scheduler: workers of another never mix jobs
  std::mutex run_mtx_;                  // held by a turn
  std::mutex mtx_;                      // guards inbox_, posted_, target_
  std::vector<caf::resumable*> inbox_;  // pushed from other threads
  bool posted_ = false;                 // a turn is queued and has not taken inbox_ yet
  asio::io_context* target_;
  std::deque<caf::resumable*> local_;  // the turn's queue: touched by turns only (run_mtx_)
};

/// CAF's timers on an Asio timer (see io_scheduler.hpp). CAF's own
/// simple_actor_clock keeps the schedule; every change takes the lock and
/// moves the timer to the earliest entry. Expired entries are shipped outside
/// the lock: shipping may release the last reference to an actor, whose
/// cleanup cancels its timeouts here.
class io_clock final : public caf::detail::simple_actor_clock {
 public:
  using super = caf::detail::simple_actor_clock;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            uint64_t id) override {
    std::lock_guard lock{mtx_};
    super::set_ordinary_timeout(t, self, type, id);
    rearm();
  }
  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         uint64_t id) override {
    std::lock_guard lock{mtx_};
    super::set_multi_timeout(t, self, type, id);
    rearm();
  }
  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override {
    std::lock_guard lock{mtx_};
    super::set_request_timeout(t, self, id);
    rearm();
  }
  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override {
    std::lock_guard lock{mtx_};
    super::cancel_ordinary_timeout(self, type);
  }
  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override {
    std::lock_guard lock{mtx_};
    super::cancel_request_timeout(self, id);
  }
  void cancel_timeouts(caf::abstract_actor* self) override {
    std::lock_guard lock{mtx_};
    super::cancel_timeouts(self);
  }
  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override {
    std::lock_guard lock{mtx_};
    super::schedule_message(t, std::move(receiver), std::move(content));
    rearm();
  }
  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                        caf::message content) override {
    std::lock_guard lock{mtx_};
    super::schedule_message(t, std::move(target), std::move(sender), std::move(content));
    rearm();
  }
  void cancel_all() override {
    std::lock_guard lock{mtx_};
    schedule_.clear();
    actor_lookup_.clear();
  }

  /// From now on the timer runs on `ctx`.
  void retarget(asio::io_context& ctx) {
    std::lock_guard lock{mtx_};
    timer_.emplace(ctx);
    armed_ = false;
    rearm();
  }

  std::size_t pending() {
    std::lock_guard lock{mtx_};
    return schedule_.size();
  }

  /// No timer any more; what is scheduled is dropped.
  void stop() {
    std::lock_guard lock{mtx_};
    timer_.reset();
    armed_ = false;
    schedule_.clear();
    actor_lookup_.clear();
  }

 private:
  // Under mtx_: the timer waits for the earliest entry (cancelling a wait for
  // a later one); a cancelled wait's handler sees a stale generation.
  void rearm() {
    if (!timer_ || schedule_.empty()) return;
    auto due = schedule_.begin()->first;
    if (armed_ && due >= armed_due_) return;
    armed_ = true;
    armed_due_ = due;
    timer_->expires_at(due);
    timer_->async_wait([this, generation = ++generation_](const boost::system::error_code& ec) {
      if (!ec) fire(generation);
    });
  }

  void fire(std::uint64_t generation) {
    std::vector<caf::detail::simple_actor_clock::unique_delayed_event_ptr> due;
    {
      std::lock_guard lock{mtx_};
      if (generation != generation_) return;
      armed_ = false;
      auto now = this->now();
      auto it = schedule_.begin();
      while (it != schedule_.end() && it->first <= now) {
        auto backlink = it->second->backlink;
        if (backlink != actor_lookup_.end()) actor_lookup_.erase(backlink);
        due.push_back(std::move(it->second));
        it = schedule_.erase(it);
      }
      rearm();
    }
    for (auto& event : due) ship(*event);
  }

  std::mutex mtx_;
  std::optional<asio::steady_timer> timer_;
  bool armed_ = false;
  time_point armed_due_;
  std::uint64_t generation_ = 0;
};

}  // namespace

struct io_scheduler::impl {
  impl(caf::actor_system& sys, io_pool& p, const void* owner) : pool(p) {
    for (std::size_t i = 0; i < p.size(); ++i)
      workers.push_back(std::make_unique<worker>(sys, owner, p.context(i)));
    clock.retarget(p.context(0));
  }

  /// The pool has stopped (or is about to be left): every turn and the
  /// timer move to a thread of the scheduler's own.
  void leave_pool() {
    std::lock_guard lock{mtx};
    if (left_pool.exchange(true)) return;
    fallback_thread = std::thread{[this] {
      pthread_setname_np(pthread_self(), "wsvisor.actors");
      fallback.run();
    }};
    for (auto& w : workers) w->retarget(fallback);
    clock.retarget(fallback);
  }

  // Declared first so that it is destroyed last: workers and the timer may
  // point at it.
  asio::io_context fallback{1};
  asio::executor_work_guard<asio::io_context::executor_type> fallback_work{fallback.get_executor()};
  io_pool& pool;
  std::vector<std::unique_ptr<worker>> workers;
  std::atomic<std::size_t> next{0};
  io_clock clock;
  std::size_t stopped_handle = 0;
  std::mutex mtx;  // serialises leave_pool and the end of fallback_work
  std::atomic<bool> left_pool{false};
  std::thread fallback_thread;
  std::atomic<std::size_t> resumed_before_leaving{0};
};

io_system_config& io_system_config::use_io_scheduler(io_pool& p) {
  pool = &p;
  load<io_scheduler>();
  return *this;
}

caf::actor_system::module* io_scheduler::make(caf::actor_system& sys, caf::detail::type_list<>) {
  const auto* cfg = dynamic_cast<const io_system_config*>(&sys.config());
  if (cfg == nullptr || cfg->pool == nullptr)
    throw std::logic_error("io_scheduler needs an io_system_config with a pool");
  return new io_scheduler(sys, *cfg->pool);
}

io_scheduler::io_scheduler(caf::actor_system& sys, io_pool& pool)
    : abstract_coordinator(sys), impl_(std::make_unique<impl>(sys, pool, this)) {}

io_scheduler::~io_scheduler() = default;

void io_scheduler::init(caf::actor_system_config& cfg) {
  abstract_coordinator::init(cfg);
  num_workers_ = impl_->workers.size();
  for (auto& w : impl_->workers) w->max_throughput = max_throughput_;
}

void io_scheduler::start() {
  impl_->stopped_handle = impl_->pool.on_stopped([this] {
    std::size_t resumed = 0;
    for (auto& w : impl_->workers) resumed += w->resumed.load(std::memory_order_relaxed);
    impl_->resumed_before_leaving = resumed;
    impl_->leave_pool();
  });
  abstract_coordinator::start();
}

void io_scheduler::stop() {
  // CAF's printer is a detached actor: this waits for it only.
  stop_actors();
  auto& d = *impl_;
  d.pool.forget(d.stopped_handle);
  if (d.pool.running()) {
    // Destroyed before its pool stopped: leave it, then wait until no turn
    // or timer handler queued on it before that is left.
    d.leave_pool();
    for (std::size_t i = 0; i < d.pool.size(); ++i) {
      std::promise<void> passed;
      asio::post(d.pool.context(i), [&passed] { passed.set_value(); });
      passed.get_future().wait();
    }
  }
  // A pending timer would keep the fallback thread's loop running: the
  // schedule goes first (CAF's own coordinator drops it too).
  d.clock.stop();
  {
    // Every turn queued now runs; then the thread ends.
    std::lock_guard lock{d.mtx};
    d.fallback_work.reset();
  }
  if (d.fallback_thread.joinable()) d.fallback_thread.join();
  // As CAF's own coordinator does with what its workers left.
  for (auto& w : d.workers)
    for (auto* job : w->take_leftovers()) cleanup_and_release(job);
}

void io_scheduler::enqueue(caf::resumable* job) {
  auto& d = *impl_;
  if (worker::push_here(this, job)) return;
  auto i = d.pool.index_here();
  if (i == io_pool::npos) i = d.next.fetch_add(1, std::memory_order_relaxed) % d.workers.size();
  d.workers[i]->push(job);
}

caf::actor_clock& io_scheduler::clock() noexcept { return impl_->clock; }

io_scheduler* io_scheduler::of(caf::actor_system& sys) {
  return dynamic_cast<io_scheduler*>(&sys.scheduler());
}

std::size_t io_scheduler::resumed_on_pool() const {
  if (impl_->left_pool) return impl_->resumed_before_leaving;
  std::size_t n = 0;
  for (auto& w : impl_->workers) n += w->resumed.load(std::memory_order_relaxed);
  return n;
}

std::size_t io_scheduler::pending_timers() const { return impl_->clock.pending(); }

std::size_t io_scheduler::resumed_after_pool() const {
  if (!impl_->left_pool) return 0;
  std::size_t n = 0;
  for (auto& w : impl_->workers) n += w->resumed.load(std::memory_order_relaxed);
  return n - impl_->resumed_before_leaving;
}

}  // namespace wsvisor::net
