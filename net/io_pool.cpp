#include "net/io_pool.hpp"

#include <pthread.h>

#include <string>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace wsvisor::net {

namespace asio = boost::asio;

namespace {

// Which pool, and which of its threads, the calling thread is.
thread_local const io_pool* this_pool = nullptr;
thread_local std::size_t this_index = io_pool::npos;

}  // namespace

// An io_context whose handlers can be destroyed before the context itself.
struct io_pool::context_type : asio::io_context {
  using asio::io_context::io_context;
  void destroy_handlers() { shutdown(); }
};

struct io_pool::guard {
  explicit guard(asio::io_context& ctx) : work(ctx.get_executor()) {}
  asio::executor_work_guard<asio::io_context::executor_type> work;
};

io_pool::io_pool(std::size_t threads) {
  if (threads == 0) threads = 1;
  for (std::size_t i = 0; i < threads; ++i) {
    // Concurrency hint 1: one thread runs each context, which lets Asio
    // queue a post made on that thread without taking its lock.
    contexts_.push_back(std::make_unique<context_type>(1));
    guards_.push_back(std::make_unique<guard>(*contexts_.back()));
  }
}

io_pool::~io_pool() {
  stop();
  guards_.clear();
  // A handler queued on one context may hold an object of another (the
  // listener's pending accept holds the socket it will give to the next
  // context): every context's handlers go before any context's services.
  for (auto& ctx : contexts_) ctx->destroy_handlers();
  contexts_.clear();
}

asio::io_context& io_pool::context(std::size_t i) { return *contexts_[i]; }

asio::io_context& io_pool::next() {
  return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

void io_pool::start() {
  if (running_.exchange(true, std::memory_order_acq_rel)) return;
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    threads_.emplace_back([this, i] {
      this_pool = this;
      this_index = i;
      std::string name = "wsvisor.io." + std::to_string(i);
      pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
      contexts_[i]->run();
      this_pool = nullptr;
      this_index = npos;
    });
  }
}

void io_pool::stop() {
  {
    std::lock_guard lock{mtx_};
    if (stopped_) return;
    stopped_ = true;
  }
  for (auto& ctx : contexts_) ctx->stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  running_.store(false, std::memory_order_release);
  // Under the lock, so that a `forget` returns only once its callback can no
  // longer run (its owner may be about to go away).
  std::lock_guard lock{mtx_};
  for (auto& [handle, fn] : callbacks_) fn();
  callbacks_.clear();
}

std::size_t io_pool::index_here() const { return this_pool == this ? this_index : npos; }

std::size_t io_pool::on_stopped(std::function<void()> fn) {
  {
    std::lock_guard lock{mtx_};
    if (!stopped_) {
      callbacks_.emplace_back(++next_handle_, std::move(fn));
      return next_handle_;
    }
  }
  fn();
  return 0;
}

void io_pool::forget(std::size_t handle) {
  std::lock_guard lock{mtx_};
  std::erase_if(callbacks_, [handle](const auto& c) { return c.first == handle; });
}

}  // namespace wsvisor::net
