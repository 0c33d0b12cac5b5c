#include "net/http_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "log/log.hpp"
#include "net/ws_session.hpp"
#include "net/ws_upgrade.hpp"

namespace wsvisor::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// What an over-capacity client is told to wait before retrying. A hint only:
// clients add their own backoff and jitter.
constexpr const char* retry_after_seconds = "5";

std::shared_ptr<spdlog::logger> http_log() {
  static auto logger = log::get("http");
  return logger;
}

// One HTTP connection. Lives as long as an asynchronous operation holds it.
class http_connection : public std::enable_shared_from_this<http_connection> {
 public:
  http_connection(tcp::socket&& socket, std::shared_ptr<const http_options> opts,
                  std::shared_ptr<ws_slots> slots)
      : stream_(std::move(socket)), opts_(std::move(opts)), slots_(std::move(slots)) {}

  void run() {
    // Start on the connection's strand: the socket was accepted elsewhere.
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&http_connection::read, shared_from_this()));
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(opts_->max_header_bytes));
    parser_->body_limit(0);  // the routes served here take no request body
    // One deadline covers both waiting for a request and receiving it, so an
    // idle keep-alive client and a slowloris client are cut alike.
    stream_.expires_after(opts_->request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_connection::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return close();
    if (ec == beast::error::timeout) {
      log::debug(*http_log(), "request timed out", {{"peer", peer()}});
      return close();
    }
    if (ec == http::error::header_limit) return reply_error(http::status::request_header_fields_too_large);
    if (ec == http::error::body_limit) return reply_error(http::status::payload_too_large);
    if (ec) {
      log::debug(*http_log(), "bad request", {{"peer", peer()}, {"error", ec.message()}});
      return reply_error(http::status::bad_request);
    }
    auto req = parser_->release();
    if (opts_->on_websocket && path_of(req) == opts_->ws_path) return upgrade(std::move(req));
    respond(req);
  }

  static std::string_view path_of(const http::request<http::string_body>& req) {
    auto target = std::string_view{req.target().data(), req.target().size()};
    return target.substr(0, target.find('?'));
  }

  // Every refusal happens here, before the 101: a refused client costs no
  // WebSocket handshake and no actor.
  void upgrade(http::request<http::string_body>&& req) {
    if (!beast::websocket::is_upgrade(req)) {
      // RFC 7231 §6.5.15: a 426 names the protocol to upgrade to.
      return reply_error(http::status::upgrade_required, "this is a WebSocket endpoint\n",
                         {{http::field::upgrade, "websocket"},
                          {http::field::sec_websocket_version, "13"}});
    }
    auto choice = choose_subprotocol(req);
    if (!choice.acceptable) {
      return reply_error(http::status::bad_request,
                         "unsupported subprotocol; this server speaks " +
                             std::string{ws_subprotocol} + "\n");
    }
    if (buffer_.size() != 0) {
      return reply_error(http::status::bad_request, "data sent before the upgrade completed\n");
    }
    // Over capacity: 503 before the upgrade, not the close code 4429 that
    // protocol.md also lists. A refusal then costs no WebSocket handshake
    // and no actor, and every HTTP client understands it.
    if (!slots_->try_acquire()) {
      log::debug(*http_log(), "websocket refused: at max_connections",
                 {{"peer", peer()}, {"max_connections", opts_->max_connections}});
      return reply_error(http::status::service_unavailable, "too many connections\n",
                         {{http::field::retry_after, retry_after_seconds}});
    }
    // The HTTP phase's deadline ends here; the WebSocket sets its own.
    stream_.expires_never();
    ws_session::start(stream_.release_socket(), std::move(req), std::move(choice.selected), opts_,
                      slots_);
  }

  void respond(const http::request<http::string_body>& req) {
    auto target = path_of(req);
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::server, "wsvisor");
    res.set(http::field::cache_control, "no-store");
    bool known = target == "/healthz" || target == "/version";
    bool read_only = req.method() == http::verb::get || req.method() == http::verb::head;
    if (!known) {
      res.result(http::status::not_found);
      res.set(http::field::content_type, "text/plain");
      res.body() = "not found\n";
    } else if (!read_only) {
      res.result(http::status::method_not_allowed);
      res.set(http::field::allow, "GET, HEAD");
      res.set(http::field::content_type, "text/plain");
      res.body() = "method not allowed\n";
    } else if (target == "/healthz") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain");
      res.body() = "ok\n";
    } else {
      res.result(http::status::ok);
      res.set(http::field::content_type, "application/json");
      res.body() = opts_->version_json;
    }
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();
    log::debug(*http_log(), "request",
               {{"peer", peer()}, {"method", std::string{req.method_string()}},
                {"target", std::string{req.target()}}, {"status", res.result_int()}});
    send(std::move(res));
  }

  void reply_error(http::status status, std::string body = {},
                   std::initializer_list<std::pair<http::field, std::string_view>> headers = {}) {
    http::response<http::string_body> res{status, 11};
    res.set(http::field::server, "wsvisor");
    res.set(http::field::content_type, "text/plain");
    for (const auto& [name, value] : headers) res.set(name, value);
    res.keep_alive(false);
    res.body() = body.empty() ? std::string{http::obsolete_reason(status)} + "\n" : std::move(body);
    res.prepare_payload();
    send(std::move(res));
  }

  void send(http::response<http::string_body>&& res) {
    auto sp = std::make_shared<http::response<http::string_body>>(std::move(res));
    stream_.expires_after(opts_->request_timeout);
    http::async_write(stream_, *sp,
                      [self = shared_from_this(), sp](beast::error_code ec, std::size_t) {
                        if (ec || !sp->keep_alive()) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  std::string peer() const {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (ec) return "?";
    return ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<const http_options> opts_;
  std::shared_ptr<ws_slots> slots_;
};

}  // namespace

struct http_server::impl : std::enable_shared_from_this<http_server::impl> {
  impl(asio::io_context& ioc, http_options opts)
      : ioc_(ioc),
        opts_(std::make_shared<const http_options>(std::move(opts))),
        slots_(std::make_shared<ws_slots>(opts_->max_connections)),
        acceptor_(asio::make_strand(ioc)) {}

  void accept() {
    acceptor_.async_accept(asio::make_strand(ioc_),
                           [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                             if (ec == asio::error::operation_aborted || !self->acceptor_.is_open())
                               return;
                             if (ec) {
                               // Out of descriptors or similar: keep accepting
                               // rather than go deaf; the condition is logged.
                               log::warn(*http_log(), "accept failed", {{"error", ec.message()}});
                             } else {
                               // Small frames must leave at once: with Nagle on,
                               // a frame written right after another (the `ack`
                               // then the `message` of a publish) waits for the
                               // peer's delayed ACK, 40 ms on Linux. Measured
                               // in docs/benchmarks.md.
                               beast::error_code ignored;
                               socket.set_option(tcp::no_delay(true), ignored);
                               std::make_shared<http_connection>(std::move(socket), self->opts_,
                                                                 self->slots_)
                                   ->run();
                             }
                             self->accept();
                           });
  }

  asio::io_context& ioc_;
  std::shared_ptr<const http_options> opts_;
  std::shared_ptr<ws_slots> slots_;
  tcp::acceptor acceptor_;
  tcp::endpoint bound_;
};

http_server::http_server(asio::io_context& ioc, http_options opts)
    : impl_(std::make_shared<impl>(ioc, std::move(opts))) {}

http_server::~http_server() { stop(); }

std::string http_server::start() {
  const auto& address = impl_->opts_->listen;
  std::string host, port;
  if (!split_host_port(address, host, port)) return "cannot listen on " + address + ": not host:port";
  beast::error_code ec;
  tcp::resolver resolver{impl_->ioc_};
  auto results = resolver.resolve(host, port, tcp::resolver::passive, ec);
  if (ec || results.empty()) return "cannot listen on " + address + ": " + ec.message();
  auto endpoint = results.begin()->endpoint();
  auto& acc = impl_->acceptor_;
  auto fail = [&](const char* what) {
    beast::error_code ignored;
    acc.close(ignored);
    return "cannot listen on " + address + ": " + what + ": " + ec.message();
  };
  if (acc.open(endpoint.protocol(), ec); ec) return fail("open");
  if (acc.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail("reuse_address");
  if (acc.bind(endpoint, ec); ec) return fail("bind");
  if (acc.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen");
  impl_->bound_ = acc.local_endpoint(ec);
  impl_->accept();
  return {};
}

void http_server::stop() {
  // Close on the acceptor's strand: a pending accept handler may be running.
  asio::post(impl_->acceptor_.get_executor(), [self = impl_] {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
  });
}

std::uint16_t http_server::local_port() const { return impl_->bound_.port(); }

std::uint64_t http_server::open_websockets() const { return impl_->slots_->open(); }

std::string http_server::local_address() const {
  auto addr = impl_->bound_.address();
  auto host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return host + ":" + std::to_string(impl_->bound_.port());
}

bool split_host_port(const std::string& address, std::string& host, std::string& port) {
  std::string_view a{address};
  std::size_t colon;
  if (!a.empty() && a.front() == '[') {
    auto close = a.find(']');
    if (close == std::string_view::npos || close + 1 >= a.size() || a[close + 1] != ':') return false;
    host = std::string{a.substr(1, close - 1)};
    colon = close + 1;
  } else {
    colon = a.rfind(':');
    if (colon == std::string_view::npos || a.find(':') != colon) return false;
    host = std::string{a.substr(0, colon)};
  }
  port = std::string{a.substr(colon + 1)};
  if (host.empty() || port.empty() || port.size() > 5) return false;
  for (char c : port)
    if (c < '0' || c > '9') return false;
  return std::stoul(port) <= 65535;
}

}  // namespace wsvisor::net
