#include "tools/chaos-proxy/chaos_proxy.hpp"

#include <future>
#include <list>
#include <random>
#include <stdexcept>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "tools/chaos-proxy/connection.hpp"

namespace wsvisor::chaos {

using namespace detail;
using error_code = boost::system::error_code;

namespace {

tcp::resolver::results_type resolve(asio::io_context& ioc, const std::string& host,
                                    std::uint16_t port, const char* what) {
  tcp::resolver resolver{ioc};
  error_code ec;
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty())
    throw std::runtime_error(std::string{what} + " " + host + ":" + std::to_string(port) +
                             ": cannot resolve: " + ec.message());
  return results;
}

tcp::acceptor listen_on(asio::io_context& ioc, const proxy_options& o) {
  auto at = resolve(ioc, o.listen_host, o.listen_port, "listen").begin()->endpoint();
  tcp::acceptor acceptor{ioc};
  error_code ec;
  acceptor.open(at.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(at, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("listen " + o.listen_host + ":" + std::to_string(o.listen_port) +
                             ": " + ec.message());
  return acceptor;
}

}  // namespace

// Everything but `counts` and `port` is touched on the I/O thread only; the
// public members reach it through run_sync.
struct chaos_proxy::impl {
  explicit impl(proxy_options o)
      : options(std::move(o)),
        work(asio::make_work_guard(ioc)),
        target(resolve(ioc, options.target_host, options.target_port, "target")),
        acceptor(listen_on(ioc, options)),
        port(acceptor.local_endpoint().port()),
        cut_timer(ioc) {
    if (options.chunk_bytes == 0) throw std::invalid_argument("chunk_bytes must be positive");
  }

  proxy_options options;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  tcp::resolver::results_type target;
  tcp::acceptor acceptor;
  const std::uint16_t port;  // read from any thread
  fault_plan faults;
  counters counts;
  std::list<std::shared_ptr<connection>> connections;
  bool refusing = false;
  asio::steady_timer cut_timer;
  std::uint64_t cut_generation = 0;  // a replaced schedule's timer does nothing
  std::mt19937_64 rng;
  std::list<asio::steady_timer> moments;  // cut_at
  std::thread thread;

  void accept() {
    auto c = std::make_shared<connection>(ioc, options, faults, counts);
    acceptor.async_accept(c->client(), [this, c](error_code ec) {
      if (ec) return;  // the acceptor was closed
      counts.accepted();
      prune();
      connections.push_back(c);
      if (refusing)
        c->cut();
      else
        c->start(target);
      accept();
    });
  }

  // Forgets connections that ended, so that cuts pick open ones.
  void prune() {
    connections.remove_if([](const std::shared_ptr<connection>& c) { return c->closed(); });
  }

  std::size_t cut_all() {
    prune();
    for (auto& c : connections) c->cut();
    auto n = connections.size();
    connections.clear();
    return n;
  }

  void schedule_random(duration lo, duration hi, std::optional<truncation> truncate,
                       std::uint64_t generation) {
    std::uniform_int_distribution<std::int64_t> pick{lo.count(), hi.count()};
    cut_timer.expires_after(duration{pick(rng)});
    cut_timer.async_wait([this, lo, hi, truncate, generation](error_code ec) {
      if (ec || generation != cut_generation) return;
      prune();
      if (!connections.empty()) {
        std::uniform_int_distribution<std::size_t> which{0, connections.size() - 1};
        auto& c = *std::next(connections.begin(), static_cast<std::ptrdiff_t>(which(rng)));
        if (truncate)
          c->arm_truncation(*truncate);
        else
          c->cut();
      }
      schedule_random(lo, hi, truncate, generation);
    });
  }

  void stop_cutting() {
    ++cut_generation;
    cut_timer.cancel();
    moments.clear();  // destroying a timer cancels its wait
  }

  void resume_all() {
    prune();
    for (auto& c : connections) c->resume();
  }

  // Runs `f` on the I/O thread and waits for its result.
  template <class F>
  auto run_sync(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task{std::move(f)};
    auto result = task.get_future();
    asio::post(ioc, [&task] { task(); });
    return result.get();
  }
};

chaos_proxy::chaos_proxy(proxy_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {
  impl_->accept();
  impl_->thread = std::thread([i = impl_.get()] { i->ioc.run(); });
}

chaos_proxy::chaos_proxy(std::uint16_t target_port)
    : chaos_proxy(proxy_options{.target_port = target_port}) {}

chaos_proxy::~chaos_proxy() {
  impl_->run_sync([i = impl_.get()] {
    i->stop_cutting();
    error_code ignored;
    i->acceptor.close(ignored);
    i->cut_all();
  });
  // Every socket and timer is closed or cancelled, so run() returns once
  // their aborted handlers have run; stopping the context instead would
  // destroy handlers that still hold connections mid-flight.
  impl_->work.reset();
  impl_->thread.join();
}

std::uint16_t chaos_proxy::port() const { return impl_->port; }

std::size_t chaos_proxy::cut_all() {
  return impl_->run_sync([i = impl_.get()] { return i->cut_all(); });
}

void chaos_proxy::cut_randomly(duration min_interval, duration max_interval, std::uint64_t seed,
                               std::optional<truncation> truncate) {
  if (max_interval < min_interval) throw std::invalid_argument("cut_randomly: max < min");
  impl_->run_sync([i = impl_.get(), min_interval, max_interval, seed, truncate] {
    i->rng.seed(seed);
    i->cut_timer.cancel();
    i->schedule_random(min_interval, max_interval, truncate, ++i->cut_generation);
  });
}

void chaos_proxy::cut_at(const std::vector<duration>& after) {
  impl_->run_sync([i = impl_.get(), &after] {
    for (auto d : after) {
      auto& timer = i->moments.emplace_back(i->ioc, d);
      timer.async_wait([i](error_code ec) {
        if (!ec) i->cut_all();
      });
    }
  });
}

void chaos_proxy::stop_cutting() {
  impl_->run_sync([i = impl_.get()] { i->stop_cutting(); });
}

void chaos_proxy::cut_after_bytes(std::optional<std::uint64_t> limit) {
  impl_->run_sync([i = impl_.get(), limit] {
    i->faults.cut_after_bytes = limit;
    i->resume_all();  // a connection already past the new limit is cut now
  });
}

void chaos_proxy::set_refusing(bool on) {
  impl_->run_sync([i = impl_.get(), on] { i->refusing = on; });
}

void chaos_proxy::set_delay(direction d, duration delay) {
  impl_->run_sync([i = impl_.get(), d, delay] { i->faults.lanes[index(d)].delay = delay; });
}

void chaos_proxy::set_throttle(direction d, std::uint64_t bytes_per_second) {
  impl_->run_sync([i = impl_.get(), d, bytes_per_second] {
    i->faults.lanes[index(d)].bytes_per_second = bytes_per_second;
  });
}

void chaos_proxy::set_stalled(direction d, bool stalled) {
  impl_->run_sync([i = impl_.get(), d, stalled] {
    i->faults.lanes[index(d)].stalled = stalled;
    if (!stalled) i->resume_all();
  });
}

void chaos_proxy::truncate_next(truncation t) {
  impl_->run_sync([i = impl_.get(), t] {
    i->faults.lanes[index(t.dir)].truncate_next = t.keep;
    i->resume_all();  // in case a chunk is waiting already
  });
}

proxy_stats chaos_proxy::stats() const { return impl_->counts.snapshot(); }

bool chaos_proxy::wait_for(const std::function<bool(const proxy_stats&)>& pred,
                           duration timeout) const {
  return impl_->counts.wait_for(pred, timeout);
}

std::string to_string(direction d) { return d == direction::client_to_server ? "c2s" : "s2c"; }

}  // namespace wsvisor::chaos
