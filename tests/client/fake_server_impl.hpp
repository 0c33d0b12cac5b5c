#pragma once

// Internal to fake_server.{hpp,cpp} and fake_server_protocol.cpp: the
// server's connections, sessions and state. Everything but the log runs on
// the server's one I/O thread.

#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include "tests/client/fake_server.hpp"

namespace wsvisor::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;

struct fake_conn;

struct fake_session {
  std::string id;
  std::string token;
  std::uint64_t next_seq = 1;
  std::deque<std::pair<std::uint64_t, std::string>> buffer;  // seq, encoded frame
  std::uint64_t evicted_upto = 0;                            // highest seq evicted from the buffer
  std::uint64_t highest_cseq = 0;
  std::set<std::string> channels;
  std::weak_ptr<fake_conn> attached;
};

inline std::string encode(json::object o) { return json::serialize(o); }

// Everything but the log runs on the one I/O thread; the log has its own lock.
class fake_server_impl : public std::enable_shared_from_this<fake_server_impl> {
 public:
  explicit fake_server_impl(fake_server_options o)
      : opts(o),
        work(asio::make_work_guard(ioc)),
        acceptor(ioc, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}) {}

  fake_server_options opts;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  tcp::acceptor acceptor;
  std::thread thread;
  bool silent = false;
  bool drop_publishes = false;
  std::optional<std::string> forced_reset;
  std::map<std::string, std::shared_ptr<fake_session>> sessions;
  std::vector<std::weak_ptr<fake_conn>> conns;
  std::uint64_t session_counter = 0;

  mutable std::mutex mtx;  // guards the rest
  mutable std::condition_variable cv;
  std::vector<received_frame> log;
  std::vector<std::string> protocols;
  std::vector<accepted_publish> accepted;
  std::size_t upgrades = 0;

  void accept();
  void on_frame(const std::shared_ptr<fake_conn>& c, const std::string& text);
  void on_resume(const std::shared_ptr<fake_conn>& c, const json::object& o);
  void on_publish(const std::shared_ptr<fake_conn>& c, const json::object& o);
  void welcome(const std::shared_ptr<fake_conn>& c, const fake_session& s, bool resumed,
               const std::string& reason);
  std::shared_ptr<fake_session> new_session();
  void fan_out(const std::string& channel, const std::string& data);
  void record(std::size_t conn_no, const json::object& o) {
    std::lock_guard guard{mtx};
    received_frame f;
    f.index = log.size();
    f.conn = conn_no;
    if (auto* t = o.if_contains("type"); t && t->is_string()) f.type = std::string{t->get_string()};
    f.body = o;
    f.at = std::chrono::steady_clock::now();
    log.push_back(std::move(f));
    cv.notify_all();
  }

  template <class F>
  auto run_sync(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task{std::move(f)};
    auto result = task.get_future();
    asio::post(ioc, [&task] { task(); });
    return result.get();
  }
};

/// One accepted connection: upgrade, reads, one write in flight.
struct fake_conn : std::enable_shared_from_this<fake_conn> {
  fake_conn(tcp::socket s, fake_server_impl* srv)
      : ws(std::move(s)), server(srv), ping_timer(ws.get_executor()) {}

  websocket::stream<beast::tcp_stream> ws;
  fake_server_impl* server;  // outlives every conn: its destructor drains them
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  std::deque<std::string> out;
  bool writing = false;
  bool dead = false;
  std::optional<std::uint16_t> close_after;  // close with this code once `out` is written
  std::size_t number = 0;
  std::shared_ptr<fake_session> sess;
  asio::steady_timer ping_timer;

  void start() {
    http::async_read(beast::get_lowest_layer(ws), buffer, req,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return;
                       self->upgrade();
                     });
  }

  void upgrade() {
    {
      std::lock_guard guard{server->mtx};
      server->protocols.push_back(std::string{req[http::field::sec_websocket_protocol]});
    }
    bool select = server->opts.select_subprotocol;
    ws.set_option(websocket::stream_base::decorator([select](websocket::response_type& res) {
      if (select) res.set(http::field::sec_websocket_protocol, "wsvisor.v1");
    }));
    ws.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      {
        std::lock_guard guard{self->server->mtx};
        self->number = ++self->server->upgrades;
        self->server->cv.notify_all();
      }
      self->server->conns.push_back(self);
      self->arm_ping();
      self->read();
    });
  }

  void arm_ping() {
    if (server->opts.ping_every.count() == 0) return;
    ping_timer.expires_after(server->opts.ping_every);
    ping_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->dead) return;
      self->send(R"({"type":"ping"})");
      self->arm_ping();
    });
  }

  void read() {
    ws.async_read(buffer, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->on_gone();
      auto text = beast::buffers_to_string(self->buffer.data());
      self->buffer.consume(self->buffer.size());
      // A malformed frame from the client under test is answered, not fatal.
      try {
        self->server->on_frame(self, text);
      } catch (const std::exception&) {
        self->send(R"({"type":"error","code":"bad_frame","message":"missing field"})");
      }
      if (!self->dead) self->read();
    });
  }

  void send(std::string text) {
    if (dead || server->silent || close_after) return;
    out.push_back(std::move(text));
    if (!writing) write();
  }

  void write() {
    if (out.empty()) {
      if (close_after) do_close(*close_after);
      return;
    }
    writing = true;
    ws.text(true);
    ws.async_write(asio::buffer(out.front()),
                   [self = shared_from_this()](beast::error_code ec, std::size_t) {
                     self->writing = false;
                     if (ec) return self->on_gone();
                     self->out.pop_front();
                     self->write();
                   });
  }

  void close_with(std::uint16_t code) {
    if (dead || close_after) return;
    close_after = code;
    if (!writing) write();
  }

  void do_close(std::uint16_t code) {
    ws.async_close(websocket::close_reason(code),
                   [self = shared_from_this()](beast::error_code) { self->on_gone(); });
  }

  // Detaches the session: it waits for a resume.
  void on_gone() {
    if (dead) return;
    dead = true;
    ping_timer.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(ws).socket().close(ignored);
    if (sess && sess->attached.lock().get() == this) sess->attached.reset();
  }
};

}  // namespace wsvisor::test
