#include "tests/support/tcp_proxy.hpp"

#include <array>
#include <atomic>
#include <future>
#include <list>
#include <random>
#include <stdexcept>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace wsvisor::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// One proxied connection. Everything runs on the proxy's single I/O thread,
// so no strand is needed.
struct pipe_pair : std::enable_shared_from_this<pipe_pair> {
  explicit pipe_pair(asio::io_context& ioc) : client(ioc), server(ioc) {}

  tcp::socket client;
  tcp::socket server;
  std::array<std::array<char, 16384>, 2> buffers{};
  std::array<bool, 2> done{};  // direction finished: 0 = client->server, 1 = server->client
  bool closed = false;

  tcp::socket& from(int dir) { return dir == 0 ? client : server; }
  tcp::socket& to(int dir) { return dir == 0 ? server : client; }

  void pump(int dir) {
    auto self = shared_from_this();
    from(dir).async_read_some(
        asio::buffer(buffers[dir]), [self, dir](error_code ec, std::size_t n) {
          if (self->closed) return;
          if (ec == asio::error::eof) {
            // Pass an orderly close on as one; the other direction may still
            // carry the rest of a close handshake.
            error_code ignored;
            self->to(dir).shutdown(tcp::socket::shutdown_send, ignored);
            self->done[dir] = true;
            if (self->done[0] && self->done[1]) self->close(false);
            return;
          }
          if (ec) return self->close(true);
          asio::async_write(self->to(dir), asio::buffer(self->buffers[dir], n),
                            [self, dir](error_code ec, std::size_t) {
                              if (self->closed) return;
                              if (ec) return self->close(true);
                              self->pump(dir);
                            });
        });
  }

  // `reset`: SO_LINGER 0 makes close() send RST instead of FIN.
  void close(bool reset) {
    if (closed) return;
    closed = true;
    for (auto* s : {&client, &server}) {
      error_code ignored;
      if (reset && s->is_open()) s->set_option(asio::socket_base::linger(true, 0), ignored);
      s->close(ignored);
    }
  }
};

}  // namespace

struct tcp_proxy::impl : std::enable_shared_from_this<impl> {
  explicit impl(std::uint16_t target)
      : work(asio::make_work_guard(ioc)),
        acceptor(ioc, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}),
        target_port(target),
        cut_timer(ioc) {}

  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  tcp::acceptor acceptor;
  std::uint16_t target_port;
  std::list<std::shared_ptr<pipe_pair>> pairs;  // I/O thread only
  asio::steady_timer cut_timer;
  std::uint64_t cut_generation = 0;  // a stale schedule's timer does nothing
  std::mt19937_64 rng;
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> cuts{0};
  std::atomic<std::size_t> active{0};
  std::atomic<bool> refusing{false};
  std::thread thread;

  void accept() {
    auto pair = std::make_shared<pipe_pair>(ioc);
    acceptor.async_accept(pair->client, [self = shared_from_this(), pair](error_code ec) {
      if (ec) return;  // the acceptor was closed
      ++self->accepted;
      if (self->refusing) {
        ++self->cuts;
        pair->close(true);
      } else {
        self->connect(pair);
      }
      self->accept();
    });
  }

  void connect(const std::shared_ptr<pipe_pair>& pair) {
    pairs.push_back(pair);
    ++active;
    pair->server.async_connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), target_port},
                               [self = shared_from_this(), pair](error_code ec) {
                                 if (pair->closed) return;
                                 if (ec) return pair->close(true);
                                 error_code ignored;
                                 pair->server.set_option(tcp::no_delay{true}, ignored);
                                 pair->client.set_option(tcp::no_delay{true}, ignored);
                                 pair->pump(0);
                                 pair->pump(1);
                               });
  }

  // Forgets pairs that ended on their own, so that cuts pick live ones.
  void prune() {
    pairs.remove_if([](const std::shared_ptr<pipe_pair>& p) { return p->closed; });
    active = pairs.size();
  }

  std::size_t cut_all_now() {
    prune();
    std::size_t n = 0;
    for (auto& p : pairs) {
      p->close(true);
      ++n;
    }
    cuts += n;
    prune();
    return n;
  }

  void schedule_cut(std::chrono::milliseconds lo, std::chrono::milliseconds hi,
                    std::uint64_t generation) {
    std::uniform_int_distribution<std::int64_t> pick{lo.count(), hi.count()};
    cut_timer.expires_after(std::chrono::milliseconds{pick(rng)});
    cut_timer.async_wait([self = shared_from_this(), lo, hi, generation](error_code ec) {
      if (ec || generation != self->cut_generation) return;
      self->prune();
      if (!self->pairs.empty()) {
        std::uniform_int_distribution<std::size_t> which{0, self->pairs.size() - 1};
        auto it = std::next(self->pairs.begin(), static_cast<std::ptrdiff_t>(which(self->rng)));
        (*it)->close(true);
        ++self->cuts;
        self->prune();
      }
      self->schedule_cut(lo, hi, generation);
    });
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

tcp_proxy::tcp_proxy(std::uint16_t target_port) : impl_(std::make_shared<impl>(target_port)) {
  impl_->accept();
  impl_->thread = std::thread([i = impl_.get()] { i->ioc.run(); });
}

tcp_proxy::~tcp_proxy() {
  impl_->run_sync([i = impl_.get()] {
    ++i->cut_generation;
    i->cut_timer.cancel();
    error_code ignored;
    i->acceptor.close(ignored);
    i->cut_all_now();
    return 0;
  });
  // Every socket, the acceptor and the timer are closed, so run() returns
  // once their aborted handlers have run; stopping the context instead would
  // leave handlers (holding the impl) inside it, a reference cycle.
  impl_->work.reset();
  impl_->thread.join();
}

std::uint16_t tcp_proxy::port() const { return impl_->acceptor.local_endpoint().port(); }

std::size_t tcp_proxy::cut_all() {
  return impl_->run_sync([i = impl_.get()] { return i->cut_all_now(); });
}

void tcp_proxy::cut_randomly(std::chrono::milliseconds min_interval,
                             std::chrono::milliseconds max_interval, std::uint64_t seed) {
  if (max_interval < min_interval) throw std::invalid_argument("cut_randomly: max < min");
  impl_->run_sync([i = impl_.get(), min_interval, max_interval, seed] {
    i->rng.seed(seed);
    i->schedule_cut(min_interval, max_interval, ++i->cut_generation);
    return 0;
  });
}

void tcp_proxy::stop_cutting() {
  impl_->run_sync([i = impl_.get()] {
    ++i->cut_generation;
    i->cut_timer.cancel();
    return 0;
  });
}

void tcp_proxy::set_refusing(bool on) { impl_->refusing = on; }

std::uint64_t tcp_proxy::accepted() const { return impl_->accepted; }

std::uint64_t tcp_proxy::cut() const { return impl_->cuts; }

std::size_t tcp_proxy::active() const {
  return impl_->run_sync([i = impl_.get()] {
    i->prune();
    return i->pairs.size();
  });
}

}  // namespace wsvisor::test
