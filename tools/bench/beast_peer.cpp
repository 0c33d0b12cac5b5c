/// beast_peer: the smallest Beast WebSocket server that does the benchmark's
/// work, on one thread: `/echo` sends each frame back, `/broadcast` sends
/// each frame to every other connection on `/broadcast`. No sessions, no
/// JSON, no actors: the ceiling of wsvisor's own stack (Asio + Beast).
///
/// usage: beast_peer [--port N] [--fault drop|duplicate --fault-every K]
/// Prints "listening PORT" once ready. --fault exists for the load
/// generator's own tests: every K-th broadcast is dropped for (or sent twice
/// to) one receiver, so the tests can see the generator notice.

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

enum class fault { none, drop, duplicate };

struct frame {
  std::string data;
  bool binary = false;
};
using frame_ptr = std::shared_ptr<const frame>;

class session;

struct server {
  std::set<session*> broadcast;  // live /broadcast connections
  fault kind = fault::none;
  unsigned long every = 0;
  unsigned long broadcasts = 0;
  void fan_out(const frame_ptr& f, session* from);
};

class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket s, server& srv) : ws_{std::move(s)}, srv_{srv} {}

  ~session() {
    if (joined_) srv_.broadcast.erase(this);
  }

  void start() {
    http::async_read(ws_.next_layer(), buf_, req_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec) self->on_request();
                     });
  }

  void send(const frame_ptr& f) {
    queue_.push_back(f);
    if (queue_.size() == 1) write();
  }

 private:
  void on_request() {
    if (!websocket::is_upgrade(req_) ||
        (req_.target() != "/echo" && req_.target() != "/broadcast")) {
      auto res = std::make_shared<http::response<http::string_body>>(http::status::not_found,
                                                                     req_.version());
      res->body() = "not found: /echo or /broadcast\n";
      res->prepare_payload();
      http::async_write(ws_.next_layer(), *res,
                        [self = shared_from_this(), res](beast::error_code, std::size_t) {});
      return;
    }
    broadcast_ = req_.target() == "/broadcast";
    ws_.read_message_max(16 * 1024 * 1024);
    ws_.auto_fragment(false);
    ws_.async_accept(req_, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      if (self->broadcast_) {
        self->srv_.broadcast.insert(self.get());
        self->joined_ = true;
      }
      self->read();
    });
  }

  void read() {
    ws_.async_read(buf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        if (self->joined_) self->srv_.broadcast.erase(self.get());
        self->joined_ = false;
        return;
      }
      auto f = std::make_shared<frame>(
          frame{beast::buffers_to_string(self->buf_.data()), self->ws_.got_binary()});
      self->buf_.consume(self->buf_.size());
      if (self->broadcast_)
        self->srv_.fan_out(f, self.get());
      else
        self->send(f);
      self->read();
    });
  }

  void write() {
    ws_.binary(queue_.front()->binary);
    ws_.async_write(asio::buffer(queue_.front()->data),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      if (ec) return;
                      self->queue_.pop_front();
                      if (!self->queue_.empty()) self->write();
                    });
  }

  websocket::stream<tcp::socket> ws_;
  server& srv_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  std::deque<frame_ptr> queue_;
  bool broadcast_ = false;
  bool joined_ = false;
};

void server::fan_out(const frame_ptr& f, session* from) {
  ++broadcasts;
  bool faulty = every > 0 && broadcasts % every == 0;
  bool first = true;
  for (auto* s : broadcast) {
    if (s == from) continue;
    if (faulty && first && kind == fault::drop) {
      first = false;
      continue;
    }
    s->send(f);
    if (faulty && first && kind == fault::duplicate) s->send(f);
    first = false;
  }
}

void accept(tcp::acceptor& acc, server& srv) {
  acc.async_accept([&acc, &srv](beast::error_code ec, tcp::socket s) {
    if (ec) return;
    s.set_option(tcp::no_delay(true), ec);
    std::make_shared<session>(std::move(s), srv)->start();
    accept(acc, srv);
  });
}

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "beast_peer: " << why
            << "\nusage: beast_peer [--port N] [--fault drop|duplicate --fault-every K]\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  unsigned long port = 0;
  server srv;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc) usage("missing value after " + std::string{flag});
    std::string v = argv[++i];
    if (flag == "--port")
      port = std::stoul(v);
    else if (flag == "--fault-every")
      srv.every = std::stoul(v);
    else if (flag == "--fault" && v == "drop")
      srv.kind = fault::drop;
    else if (flag == "--fault" && v == "duplicate")
      srv.kind = fault::duplicate;
    else
      usage("unknown option " + std::string{flag} + " " + v);
  }
  if (port > 65535) usage("--port out of range");

  asio::io_context ioc{1};
  tcp::acceptor acc{ioc};
  tcp::endpoint ep{asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)};
  acc.open(ep.protocol());
  acc.set_option(asio::socket_base::reuse_address(true));
  acc.bind(ep);
  acc.listen(asio::socket_base::max_listen_connections);
  accept(acc, srv);
  asio::signal_set signals{ioc, SIGINT, SIGTERM};
  signals.async_wait([&](beast::error_code, int) { ioc.stop(); });
  std::printf("listening %u\n", acc.local_endpoint().port());
  std::fflush(stdout);
  ioc.run();
  return 0;
}
