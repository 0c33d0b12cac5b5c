#include "tests/support/upstream_server.hpp"

#include <algorithm>
#include <condition_variable>
#include <future>
#include <list>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace wsvisor::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

// Everything below runs on the one I/O thread, except what takes `mtx`.
struct upstream_server::impl : std::enable_shared_from_this<upstream_server::impl> {
  struct conn {
    explicit conn(tcp::socket s) : ws(std::move(s)) {}
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    std::list<std::string> out;  // front: being written
    bool open = false;
    bool dead = false;
  };

  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  tcp::acceptor acceptor{ioc};
  std::uint16_t port = 0;
  upstream_mode mode = upstream_mode::normal;
  std::list<std::shared_ptr<conn>> conns;
  std::thread thread;

  mutable std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::string> received;
  std::size_t upgrades = 0;
  std::vector<clock::time_point> accepts;
  std::map<std::string, std::string> last_headers;

  template <class F>
  void run_sync(F f) {
    std::promise<void> done;
    asio::post(ioc, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

  void listen() {
    tcp::endpoint ep{asio::ip::make_address("127.0.0.1"), port};
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
    port = acceptor.local_endpoint().port();
    accept();
  }

  void accept() {
    acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec) return;  // closed by kill()
      {
        std::lock_guard lock{self->mtx};
        self->accepts.push_back(clock::now());
      }
      self->cv.notify_all();
      auto c = std::make_shared<conn>(std::move(s));
      self->conns.push_back(c);
      if (self->mode == upstream_mode::reset)
        self->drop(c);
      else if (self->mode != upstream_mode::silent)
        self->read_request(c);
      self->accept();
    });
  }

  void read_request(const std::shared_ptr<conn>& c) {
    http::async_read(beast::get_lowest_layer(c->ws), c->buffer, c->req,
                     [self = shared_from_this(), c](beast::error_code ec, std::size_t) {
                       if (ec || c->dead) return self->drop(c);
                       self->on_request(c);
                     });
  }

  void on_request(const std::shared_ptr<conn>& c) {
    {
      std::lock_guard lock{mtx};
      last_headers.clear();
      for (auto& field : c->req)
        last_headers[lower(std::string{field.name_string()})] = std::string{field.value()};
    }
    if (mode == upstream_mode::http_500) {
      auto res = std::make_shared<http::response<http::string_body>>(
          http::status::internal_server_error, 11);
      res->body() = "upstream broken\n";
      res->keep_alive(false);
      res->prepare_payload();
      http::async_write(
          beast::get_lowest_layer(c->ws), *res,
          [self = shared_from_this(), c, res](beast::error_code, std::size_t) { self->drop(c); });
      return;
    }
    std::string offered{c->req[http::field::sec_websocket_protocol]};
    auto chosen = offered.substr(0, offered.find(','));
    c->ws.set_option(websocket::stream_base::decorator([chosen](websocket::response_type& res) {
      if (!chosen.empty()) res.set(http::field::sec_websocket_protocol, chosen);
    }));
    c->ws.async_accept(c->req, [self = shared_from_this(), c](beast::error_code ec) {
      if (ec) return self->drop(c);
      c->open = true;
      {
        std::lock_guard lock{self->mtx};
        ++self->upgrades;
      }
      self->cv.notify_all();
      if (self->mode != upstream_mode::frozen) self->read(c);
    });
  }

  void read(const std::shared_ptr<conn>& c) {
    c->buffer.clear();
    c->ws.async_read(c->buffer, [self = shared_from_this(), c](beast::error_code ec, std::size_t) {
      if (ec || c->dead) return self->drop(c);
      auto text = beast::buffers_to_string(c->buffer.data());
      {
        std::lock_guard lock{self->mtx};
        self->received.push_back(text);
      }
      self->cv.notify_all();
      if (self->mode == upstream_mode::echo) self->send(c, text);
      self->read(c);
    });
  }

  void send(const std::shared_ptr<conn>& c, std::string text) {
    if (!c->open || c->dead) return;
    c->out.push_back(std::move(text));
    if (c->out.size() == 1) write(c);
  }

  void write(const std::shared_ptr<conn>& c) {
    c->ws.text(true);
    c->ws.async_write(asio::buffer(c->out.front()),
                      [self = shared_from_this(), c](beast::error_code ec, std::size_t) {
                        if (ec || c->dead) return self->drop(c);
                        c->out.pop_front();
                        if (!c->out.empty()) self->write(c);
                      });
  }

  void drop(const std::shared_ptr<conn>& c) {
    if (c->dead) return;
    c->dead = true;
    beast::error_code ignored;
    auto& sock = beast::get_lowest_layer(c->ws).socket();
    sock.set_option(asio::socket_base::linger(true, 0), ignored);  // reset, no FIN
    sock.close(ignored);
    conns.remove(c);
  }

  void drop_all() {
    auto all = conns;
    for (auto& c : all) drop(c);
  }

  void kill() {
    beast::error_code ignored;
    acceptor.close(ignored);
    drop_all();
  }
};

upstream_server::upstream_server(upstream_mode mode, std::uint16_t port)
    : impl_(std::make_shared<impl>()) {
  impl_->mode = mode;
  impl_->port = port;
  impl_->listen();
  impl_->thread = std::thread{[i = impl_] { i->ioc.run(); }};
}

upstream_server::~upstream_server() {
  // Once every socket is closed, the pending operations end with errors and
  // the I/O thread runs out of work (stopping it instead would leave their
  // handlers, which own this impl, behind).
  impl_->run_sync([this] { impl_->kill(); });
  impl_->work.reset();
  impl_->thread.join();
}

std::uint16_t upstream_server::port() const { return impl_->port; }

std::string upstream_server::url(const std::string& path) const {
  return "ws://127.0.0.1:" + std::to_string(impl_->port) + path;
}

void upstream_server::set_mode(upstream_mode mode) {
  impl_->run_sync([&] { impl_->mode = mode; });
}

void upstream_server::kill() {
  impl_->run_sync([this] { impl_->kill(); });
}

void upstream_server::restart() {
  impl_->run_sync([this] { impl_->listen(); });
}

void upstream_server::drop_connections() {
  impl_->run_sync([this] { impl_->drop_all(); });
}

std::vector<upstream_server::clock::time_point> upstream_server::accept_times() const {
  std::lock_guard lock{impl_->mtx};
  return impl_->accepts;
}

bool upstream_server::await_accepts(std::size_t n, ms timeout) {
  std::unique_lock lock{impl_->mtx};
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->accepts.size() >= n; });
}

void upstream_server::broadcast(const std::string& text) {
  impl_->run_sync([&] {
    for (auto& c : impl_->conns) impl_->send(c, text);
  });
}

std::vector<std::string> upstream_server::await_received(std::size_t n, ms timeout) {
  std::unique_lock lock{impl_->mtx};
  impl_->cv.wait_for(lock, timeout, [&] { return impl_->received.size() >= n; });
  return impl_->received;
}

std::vector<std::string> upstream_server::received() const {
  std::lock_guard lock{impl_->mtx};
  return impl_->received;
}

bool upstream_server::await_upgrades(std::size_t n, ms timeout) {
  std::unique_lock lock{impl_->mtx};
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->upgrades >= n; });
}

std::size_t upstream_server::upgrades() const {
  std::lock_guard lock{impl_->mtx};
  return impl_->upgrades;
}

std::map<std::string, std::string> upstream_server::last_request_headers() const {
  std::lock_guard lock{impl_->mtx};
  return impl_->last_headers;
}

}  // namespace wsvisor::test
