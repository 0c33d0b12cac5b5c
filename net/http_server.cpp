#include "net/http_server.hpp"

#include "config/checks.hpp"

#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>

#include "log/log.hpp"
#include "net/http_connection.hpp"
#include "net/io_pool.hpp"
#include "net/site_routes.hpp"
#include "net/tls_context.hpp"
#include "net/ws_upgrade.hpp"

namespace wsvisor::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

// How long the listener stops accepting after an accept failed (out of
// descriptors, say): short enough that nobody notices once they are back,
// long enough that a persistent failure costs no CPU (and, with the failures
// held back, one log line per [log] repeat_interval).
constexpr std::chrono::milliseconds accept_pause{100};
constexpr std::string_view accept_failed = "accept failed; pausing";

std::shared_ptr<spdlog::logger> http_log() {
  static auto logger = log::get("http");
  return logger;
}

}  // namespace

struct http_server::impl : std::enable_shared_from_this<http_server::impl> {
  impl(asio::io_context& ioc, io_pool* pool, http_options opts)
      : ioc_(ioc),
        pool_(pool),
        opts_(std::make_shared<const http_options>(std::move(opts))),
        slots_(std::make_shared<ws_slots>(opts_->max_connections, opts_->max_connections_per_ip)),
        loopback_(is_loopback_listen(opts_->listen)),
        acceptor_(asio::make_strand(ioc)) {}

  // The context of the next connection. A pool's contexts have one thread
  // each, so their plain executor serialises the connection's handlers; a
  // lone io_context may have several threads, hence the strand.
  asio::io_context& next_context() { return pool_ ? pool_->next() : ioc_; }

  void accept() {
    auto& ctx = next_context();
    auto executor = pool_ ? asio::any_io_executor{ctx.get_executor()}
                          : asio::any_io_executor{asio::make_strand(ctx)};
    acceptor_.async_accept(executor, [self = shared_from_this(), &ctx](beast::error_code ec,
                                                                       tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
      if (ec) {
        // Out of descriptors (EMFILE, ENFILE) or memory:
        // the connection stays in the backlog, and an
        // accept retried at once fails at once (Asio
        // tries it before waiting for readiness): a
        // retry loop spinning a CPU and logging every
        // failure. Pause, then keep accepting rather
        // than go deaf; meanwhile sockets that end
        // (handshake_timeout bounds them) give
        // descriptors back.
        // Ten a second while it lasts: one line
        // per [log] repeat_interval, the rest counted.
        self->last_failure_ = ec;
        if (auto held = log::admit(self->failures_))
          log::warn(*http_log(), accept_failed,
                    {{"error", ec.message()}, {"pause_ms", accept_pause.count()}}, *held);
        self->pause_.expires_after(accept_pause);
        self->pause_.async_wait([self](beast::error_code waited) {
          if (!waited && self->acceptor_.is_open()) self->accept();
        });
        return;
      }
      // Small frames must leave at once: with Nagle on,
      // a frame written right after another (the `ack`
      // then the `message` of a publish) waits for the
      // peer's delayed ACK, 40 ms on Linux. Measured
      // in docs/benchmarks.md.
      self->say_held_back();
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      serve_http(ctx, std::move(socket), self->opts_, self->slots_, self->loopback_, self->tls_);
      self->accept();
    });
  }

  /// Accepting works again (or the listener stops): failures held back are
  /// counted in one line.
  void say_held_back() {
    if (auto held = failures_.flush())
      log::warn(*http_log(), accept_failed,
                {{"error", last_failure_.message()}, {"pause_ms", accept_pause.count()}}, *held);
  }

  asio::io_context& ioc_;  // the acceptor's
  io_pool* pool_;          // null: every connection on ioc_
  std::shared_ptr<const http_options> opts_;
  std::shared_ptr<ws_slots> slots_;
  bool loopback_;                            // the API without a token answers only then
  std::shared_ptr<asio::ssl::context> tls_;  // set by start() when opts_->tls is enabled
  tcp::acceptor acceptor_;
  asio::steady_timer pause_{acceptor_.get_executor()};  // after a failed accept
  tcp::endpoint bound_;
  // Failed accepts, on the acceptor's strand like everything above.
  log::throttle failures_;
  beast::error_code last_failure_;
};

namespace {

http_options with_site_json(http_options opts) {
  opts.site_json = site_json_of(opts.ws_path);
  return opts;
}

}  // namespace

http_server::http_server(asio::io_context& ioc, http_options opts)
    : impl_(std::make_shared<impl>(ioc, nullptr, with_site_json(std::move(opts)))) {}

http_server::http_server(io_pool& pool, http_options opts)
    : impl_(std::make_shared<impl>(pool.context(0), &pool, with_site_json(std::move(opts)))) {}

http_server::~http_server() { stop(); }

std::string http_server::start() {
  if (impl_->opts_->tls.enabled()) {
    // Loaded before binding: a bad certificate must not leave a port open
    // that only fails handshakes.
    std::string error;
    impl_->tls_ = make_server_tls_context(impl_->opts_->tls, error);
    if (!impl_->tls_) return error;
  }
  const auto& address = impl_->opts_->listen;
  auto parsed = parse_host_port(address);
  if (!parsed) return "cannot listen on " + address + ": not host:port";
  beast::error_code ec;
  tcp::resolver resolver{impl_->ioc_};
  auto results =
      resolver.resolve(parsed->host, std::to_string(parsed->port), tcp::resolver::passive, ec);
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
    self->pause_.cancel();
    self->say_held_back();
  });
}

std::uint16_t http_server::local_port() const { return impl_->bound_.port(); }

std::uint64_t http_server::open_websockets() const { return impl_->slots_->open(); }

void http_server::set_max_connections_per_ip(std::uint64_t max) {
  impl_->slots_->set_max_per_ip(max);
}

std::string http_server::local_address() const {
  auto addr = impl_->bound_.address();
  auto host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return host + ":" + std::to_string(impl_->bound_.port());
}

}  // namespace wsvisor::net
