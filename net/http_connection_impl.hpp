#pragma once

// http_connection, the class template behind serve_http, for its two
// instantiations: http_connection_plain.cpp and http_connection_tls.cpp. One
// each, in their own translation units, because each takes minutes to
// compile and two compile side by side. Internal to net/.

#include "net/http_connection.hpp"

#include <type_traits>
#include <variant>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "log/log.hpp"
#include "net/api_routes.hpp"
#include "net/site_routes.hpp"
#include "net/tls_stream.hpp"
#include "net/ws_session.hpp"
#include "net/ws_upgrade.hpp"

namespace wsvisor::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// What an over-capacity client is told to wait before retrying. A hint only:
// clients add their own backoff and jitter.
constexpr const char* retry_after_seconds = "5";

std::shared_ptr<spdlog::logger> http_log() {
  static auto logger = log::get("http");
  return logger;
}

// One HTTP connection over `Stream`: ws_tcp_stream (plain) or tls_tcp_stream.
// Lives as long as an asynchronous operation or an unanswered publish_reply
// holds it.
template <class Stream>
class http_connection : public std::enable_shared_from_this<http_connection<Stream>> {
  static constexpr bool tls = std::is_same_v<Stream, tls_tcp_stream>;

 public:
  using std::enable_shared_from_this<http_connection>::shared_from_this;
  using std::enable_shared_from_this<http_connection>::weak_from_this;

  template <class... StreamArgs>
  http_connection(asio::io_context& ioc, std::shared_ptr<const http_options> opts,
                  std::shared_ptr<ws_slots> slots, bool loopback, StreamArgs&&... stream_args)
      : ioc_(ioc),
        stream_(std::forward<StreamArgs>(stream_args)...),
        answer_wait_(stream_.get_executor()),
        opts_(std::move(opts)),
        slots_(std::move(slots)),
        loopback_(loopback) {}

  void run() {
    // Start on the connection's strand: the socket was accepted elsewhere.
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if constexpr (tls)
        self->handshake();
      else
        self->read();
    });
  }

 private:
  ws_tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  const ws_tcp_stream& lowest() const { return beast::get_lowest_layer(stream_); }

  // TLS only. The handshake has the WebSocket handshake's bound: a client
  // that connects and then says nothing, or too little, is cut alike.
  void handshake() {
    lowest().expires_after(opts_->handshake_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) {
                              if (!ec) return self->read();
                              // Plain HTTP on this port, a client that does
                              // not trust us, a scanner: the client's problem.
                              log::debug(*http_log(), "TLS handshake failed",
                                         {{"peer", self->peer()}, {"error", ec.message()}});
                              self->lowest().close();
                            });
  }

  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(opts_->max_header_bytes));
    // The body limit depends on the route, known once the header is in
    // (on_header); Beast would check Content-Length against it too early.
    parser_->body_limit(boost::none);
    api_ = false;
    admin_ = false;
    // One deadline covers both waiting for a request and receiving it, so an
    // idle keep-alive client and a slowloris client are cut alike.
    lowest().expires_after(opts_->request_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&http_connection::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read(ec, 0);
    const auto& req = parser_->get();
    auto path = path_of(req);
    bool ws = opts_->on_websocket && path == opts_->ws_path;
    api_ = opts_->on_publish && path == api_publish_path && !ws;
    admin_ = opts_->on_admin && is_admin_path(path) && !ws;
    // Only the API takes a body; for every other route any body is an error.
    std::uint64_t limit = api_ ? opts_->max_message_bytes : 0;
    if (parser_->content_length().value_or(0) > limit) return on_read(http::error::body_limit, 0);
    parser_->body_limit(limit);  // bounds a chunked body
    if (api_ && !parser_->is_done() && beast::iequals(req[http::field::expect], "100-continue")) {
      // curl waits a second for this before sending a body over 1 KiB.
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      return http::async_write(
          stream_, *cont, [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
            if (ec) return self->close();
            self->read_body();
          });
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_connection::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    // ssl::error::stream_truncated: the client closed TCP without TLS's
    // close_notify. Between requests that cuts nothing (each request has its
    // own length), and many clients do it.
    if (ec == http::error::end_of_stream || ec == ssl::error::stream_truncated) return close();
    if (ec == beast::error::timeout) {
      log::debug(*http_log(), "request timed out", {{"peer", peer()}});
      return close();
    }
    if (ec == http::error::header_limit)
      return reply_error(http::status::request_header_fields_too_large);
    if (ec == http::error::body_limit) {
      if (api_) return send_api(body_too_large(opts_->max_message_bytes), 11, false, {});
      if (is_api_path(path_of(parser_->get()))) return send_api(body_not_taken(), 11, false, {});
      return reply_error(http::status::payload_too_large);
    }
    if (ec) {
      log::debug(*http_log(), "bad request", {{"peer", peer()}, {"error", ec.message()}});
      return reply_error(http::status::bad_request);
    }
    auto req = parser_->release();
    if (opts_->on_websocket && path_of(req) == opts_->ws_path) return upgrade(std::move(req));
    if (api_) return publish(std::move(req));
    if (admin_) return admin(std::move(req));
    if (opts_->metrics && path_of(req) == metrics_path) return scrape(req);
    // The API answers in JSON even where no route of it is (or is turned on).
    if (is_api_path(path_of(req)))
      return send_api(api_not_found(), req.version(), req.keep_alive(), path_of(req));
    if (auto answer = route_site(
            site_request_of(req),
            {web::client_script(), web::site_files(), opts_->site_pages, opts_->site_json},
            opts_->api_token, loopback_))
      return serve_site(req, *answer);
    respond(req);
  }

  static site_request site_request_of(const http::request<http::string_body>& req) {
    auto field = [&req](http::field f) {
      auto v = req[f];
      return std::string_view{v.data(), v.size()};
    };
    return {.method = {req.method_string().data(), req.method_string().size()},
            .path = path_of(req),
            .if_none_match = field(http::field::if_none_match),
            .authorization = field(http::field::authorization),
            .cookie = field(http::field::cookie),
            .accept_encoding = field(http::field::accept_encoding)};
  }

  // The browser files (net/site_routes.hpp, docs/browser.md).
  void serve_site(const http::request<http::string_body>& req, const site_answer& answer) {
    http::response<http::string_body> res{static_cast<http::status>(answer.status), req.version()};
    res.keep_alive(req.keep_alive());
    res.set(http::field::server, "wsvisor");
    res.set(http::field::cache_control, site_cache_control);
    res.set("X-Content-Type-Options", "nosniff");
    if (!answer.content_type.empty()) res.set(http::field::content_type, answer.content_type);
    if (!answer.etag.empty()) res.set(http::field::etag, answer.etag);
    if (!answer.allow.empty()) res.set(http::field::allow, answer.allow);
    if (answer.challenge) res.set(http::field::www_authenticate, "Bearer");
    if (answer.gzip) res.set(http::field::content_encoding, "gzip");
    if (answer.vary) res.set(http::field::vary, "Accept-Encoding");
    if (answer.page) {
      res.set("Content-Security-Policy", page_security_policy);
      res.set("Referrer-Policy", "no-referrer");
    }
    // A 304 has no body (RFC 9110 §15.4.5); HEAD gets GET's length, no body.
    if (answer.status != 304) {
      res.body() = answer.body;
      prepare(req, res);
    }
    send_logged(req, std::move(res));
  }

  // The length of the body GET would send; none for HEAD.
  static void prepare(const http::request<http::string_body>& req,
                      http::response<http::string_body>& res) {
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();
  }

  void send_logged(const http::request<http::string_body>& req,
                   http::response<http::string_body>&& res) {
    log::debug(*http_log(), "request",
               {{"peer", peer()},
                {"method", std::string{req.method_string()}},
                {"target", std::string{req.target()}},
                {"status", res.result_int()}});
    send(std::move(res));
  }

  void publish(http::request<http::string_body>&& req) {
    auto version = req.version();
    auto keep_alive = req.keep_alive();
    auto refusal =
        check_publish_access(req.method() == http::verb::post, req[http::field::authorization],
                             opts_->api_token, loopback_);
    if (refusal) return send_api(*refusal, version, keep_alive, {});
    auto parsed = parse_publish(req.body(), req[http::field::content_type]);
    if (auto* bad = std::get_if<api_answer>(&parsed))
      return send_api(*bad, version, keep_alive, {});
    auto& request = std::get<publish_request>(parsed);
    auto deliver = answer_later<publish_outcome>(
        version, keep_alive, "publish " + request.channel,
        [](const publish_outcome& outcome) { return answer_publish(outcome); });
    opts_->on_publish(std::move(request), make_publish_reply(std::move(deliver)));
  }

  void scrape(const http::request<http::string_body>& req) {
    bool read_only = req.method() == http::verb::get || req.method() == http::verb::head;
    if (!read_only)
      return send_api(api_method_not_allowed("GET, HEAD"), req.version(), req.keep_alive(),
                      std::string{req.method_string()} + " /metrics");
    auto refusal = check_api_access(req[http::field::authorization], opts_->api_token, loopback_);
    if (refusal) return send_api(*refusal, req.version(), req.keep_alive(), "GET /metrics");
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.keep_alive(req.keep_alive());
    res.set(http::field::server, "wsvisor");
    res.set(http::field::cache_control, "no-store");
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = opts_->metrics();
    prepare(req, res);
    send(std::move(res));
  }

  void admin(http::request<http::string_body>&& req) {
    auto version = req.version();
    auto keep_alive = req.keep_alive();
    auto what = std::string{req.method_string()} + " " + std::string{req.target()};
    auto routed = route_admin({req.method_string().data(), req.method_string().size()},
                              {req.target().data(), req.target().size()},
                              req[http::field::authorization], opts_->api_token, loopback_);
    if (auto* answer = std::get_if<api_answer>(&routed))
      return send_api(*answer, version, keep_alive, what);
    auto deliver = answer_later<admin_outcome>(
        version, keep_alive, std::move(what),
        [](const admin_outcome& outcome) { return answer_admin(outcome); });
    opts_->on_admin(std::move(std::get<admin_request>(routed)),
                    make_admin_reply(std::move(deliver)));
  }

  // The callback that sends the answer to an API request that actors answer
  // later. Until the answer comes, a wait on the io_context holds this
  // connection, so that it ends with the io_context if no answer comes
  // first. The callback may outlive the io_context (held by an actor): it
  // holds no strong reference and no executor, whose destruction would then
  // touch freed memory, and reaches the io_context only through the gate.
  template <class Outcome, class ToAnswer>
  std::function<void(Outcome)> answer_later(unsigned version, bool keep_alive, std::string what,
                                            ToAnswer to_answer) {
    answer_wait_.expires_at(asio::steady_timer::time_point::max());
    answer_wait_.async_wait([self = shared_from_this()](beast::error_code) {});
    return [weak = weak_from_this(), gate = opts_->gate, ioc = &ioc_, version, keep_alive,
            what = std::move(what), to_answer](Outcome outcome) {
      gate->post(*ioc, [weak, version, keep_alive, what, to_answer, outcome = std::move(outcome)] {
        auto self = weak.lock();
        if (!self) return;
        asio::dispatch(self->stream_.get_executor(),
                       [self, version, keep_alive, what, answer = to_answer(outcome)] {
                         self->answer_wait_.cancel();
                         self->send_api(answer, version, keep_alive, what);
                       });
      });
    };
  }

  // `what` names the request in the log: "publish CHANNEL", "GET /api/...".
  void send_api(const api_answer& answer, unsigned version, bool keep_alive,
                std::string_view what) {
    http::response<http::string_body> res{static_cast<http::status>(answer.status), version};
    res.keep_alive(keep_alive);
    res.set(http::field::server, "wsvisor");
    res.set(http::field::cache_control, "no-store");
    res.set(http::field::content_type, "application/json");
    if (answer.challenge) res.set(http::field::www_authenticate, "Bearer");
    if (!answer.allow.empty()) res.set(http::field::allow, answer.allow);
    res.body() = answer.body;
    res.prepare_payload();
    log::debug(*http_log(), "api request",
               {{"peer", peer()}, {"request", what}, {"status", answer.status}});
    send(std::move(res));
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
      return reply_error(
          http::status::upgrade_required, "this is a WebSocket endpoint\n",
          {{http::field::upgrade, "websocket"}, {http::field::sec_websocket_version, "13"}});
    }
    auto choice = choose_subprotocol(req);
    if (!choice.acceptable) {
      return reply_error(http::status::bad_request, "unsupported subprotocol; this server speaks " +
                                                        std::string{ws_subprotocol} + "\n");
    }
    if (buffer_.size() != 0) {
      return reply_error(http::status::bad_request, "data sent before the upgrade completed\n");
    }
    // Over capacity: 503 before the upgrade, not the close code 4429 that
    // protocol.md also lists. A refusal then costs no WebSocket handshake
    // and no actor, and every HTTP client understands it.
    if (auto origin = req[http::field::origin];
        req.count(http::field::origin) > 0 &&
        !origin_allowed(opts_->allowed_origins, {origin.data(), origin.size()})) {
      log::info(*http_log(), "websocket refused: origin not allowed",
                {{"peer", peer()}, {"origin", std::string{origin}}});
      return reply_error(http::status::forbidden, "origin not allowed\n");
    }
    switch (slots_->try_acquire(remote_ip(lowest().socket()))) {
      case ws_slots::refusal::none:
        break;
      case ws_slots::refusal::total:
        log::debug(*http_log(), "websocket refused: at max_connections",
                   {{"peer", peer()}, {"max_connections", opts_->max_connections}});
        return reply_error(http::status::service_unavailable, "too many connections\n",
                           {{http::field::retry_after, retry_after_seconds}});
      case ws_slots::refusal::per_ip:
        log::info(*http_log(), "websocket refused: at limits.connections_per_ip",
                  {{"peer", peer()}, {"connections_per_ip", opts_->max_connections_per_ip}});
        return reply_error(http::status::too_many_requests,
                           "too many connections from your address\n",
                           {{http::field::retry_after, retry_after_seconds}});
    }
    // The HTTP phase's deadline ends here; the WebSocket sets its own.
    lowest().expires_never();
    ws_session<Stream>::start(std::move(stream_), std::move(req), std::move(choice.selected), opts_,
                              slots_);
  }

  void respond(const http::request<http::string_body>& req) {
    auto target = path_of(req);
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::server, "wsvisor");
    res.set(http::field::cache_control, "no-store");
    // /readyz is served only where the node gives a readiness state.
    bool known =
        target == "/healthz" || target == "/version" || (target == "/readyz" && opts_->ready);
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
    } else if (target == "/readyz") {
      auto report = opts_->ready->check();
      res.result(report.ready() ? http::status::ok : http::status::service_unavailable);
      res.set(http::field::content_type, "application/json");
      res.body() = to_json(report);
    } else {
      res.result(http::status::ok);
      res.set(http::field::content_type, "application/json");
      res.body() = opts_->version_json;
    }
    prepare(req, res);
    send_logged(req, std::move(res));
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
    lowest().expires_after(opts_->request_timeout);
    http::async_write(stream_, *sp,
                      [self = shared_from_this(), sp](beast::error_code ec, std::size_t) {
                        if (ec || !sp->keep_alive()) return self->close();
                        self->read();
                      });
  }

  void close() {
    if (!lowest().socket().is_open()) return;  // the deadline closed it
    if constexpr (tls) {
      // close_notify first, so that the client can tell our end from an
      // attack's truncation. OpenSSL then waits for the client's: bounded.
      lowest().expires_after(opts_->request_timeout);
      stream_.async_shutdown(
          [self = shared_from_this()](beast::error_code) { self->lowest().close(); });
    } else {
      beast::error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      lowest().close();
    }
  }

  std::string peer() const {
    beast::error_code ec;
    auto ep = lowest().socket().remote_endpoint(ec);
    if (ec) return "?";
    return ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  asio::io_context& ioc_;
  Stream stream_;
  asio::steady_timer answer_wait_;  // pending while on_publish has not answered
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<const http_options> opts_;
  std::shared_ptr<ws_slots> slots_;
  const bool loopback_;  // is_loopback_listen(opts_->listen)
  bool api_ = false;     // the request being read is for the API's publish
  bool admin_ = false;   // the request being read is for the admin API
};

}  // namespace

}  // namespace wsvisor::net
