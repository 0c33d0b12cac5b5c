#include "client/ws_link.hpp"

#include <deque>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <caf/send.hpp>

#include "client/errors.hpp"
#include "client/messages.hpp"

namespace wsvisor::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr const char* subprotocol = "wsvisor.v1";

class ws_link_impl final : public ws_link, public std::enable_shared_from_this<ws_link_impl> {
 public:
  ws_link_impl(asio::io_context& ioc, ws_link_params p)
      : p_(std::move(p)),
        strand_(asio::make_strand(ioc)),
        resolver_(strand_),
        timer_(strand_),
        ws_(strand_) {}

  void start() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->resolve(); });
  }

  void send(std::string text) override {
    asio::post(strand_, [self = shared_from_this(), text = std::move(text)]() mutable {
      self->enqueue(std::move(text));
    });
  }

  void close() override {
    asio::post(strand_, [self = shared_from_this()] { self->begin_close(); });
  }

  void abort() override {
    asio::post(strand_, [self = shared_from_this()] {
      self->done_ = true;
      self->shut();
    });
  }

 private:
  void resolve() {
    // One deadline covers resolve, connect, upgrade: what a caller cares
    // about is how long an attempt may take, not how it splits.
    timer_.expires_after(p_.connect_timeout);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->open_ || self->done_) return;
      self->fail(client_errc::connect_failed,
                 "timed out after " + std::to_string(self->p_.connect_timeout.count()) + " ms");
    });
    resolver_.async_resolve(
        p_.url.host, p_.url.port,
        beast::bind_front_handler(&ws_link_impl::on_resolve, shared_from_this()));
  }

  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (done_) return;
    if (ec)
      return fail(client_errc::connect_failed, "resolve " + p_.url.host + ": " + ec.message());
    beast::get_lowest_layer(ws_).async_connect(
        results, beast::bind_front_handler(&ws_link_impl::on_connect, shared_from_this()));
  }

  void on_connect(beast::error_code ec, const tcp::endpoint&) {
    if (done_) return;
    if (ec) return fail(client_errc::connect_failed, "connect: " + ec.message());
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay{true}, ec);
    // Liveness is the client actor's business (heartbeat_ms + grace on any
    // frame); Beast's own timers stay off so that there is one definition.
    websocket::stream_base::timeout t{};
    t.handshake_timeout = websocket::stream_base::none();
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(http::field::sec_websocket_protocol, subprotocol);
      req.set(http::field::user_agent, "wsvisor-client");
    }));
    ws_.read_message_max(p_.max_frame_bytes);
    ws_.async_handshake(res_, p_.url.host_header(), p_.url.target,
                        beast::bind_front_handler(&ws_link_impl::on_handshake, shared_from_this()));
  }

  void on_handshake(beast::error_code ec) {
    if (done_) return;
    if (ec) {
      auto detail = ec.message();
      if (res_.result_int() != 0) detail += " (HTTP " + std::to_string(res_.result_int()) + ")";
      return fail(client_errc::handshake_failed, detail);
    }
    // A server that ignores the subprotocol is not a wsvisor.v1 server (or a
    // proxy mangled the upgrade): fail loudly instead of speaking past it.
    if (res_[http::field::sec_websocket_protocol] != subprotocol)
      return fail(client_errc::handshake_failed, "the server did not select wsvisor.v1");
    open_ = true;
    timer_.cancel();
    caf::anon_send(p_.client, cl_open_atom::value, p_.id);
    read();
    if (!queue_.empty())
      write_next();
    else if (closing_)
      finish_close();
  }

  void read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&ws_link_impl::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (done_) return;
    if (ec == websocket::error::closed) {
      if (closing_) return fail(client_errc::closed_by_client, "");
      const auto& r = ws_.reason();
      auto detail = "close " + std::to_string(r.code);
      if (!r.reason.empty()) detail += " " + std::string{r.reason.c_str()};
      return fail(client_errc::closed_by_server, detail);
    }
    if (ec) return fail(client_errc::connection_lost, "read: " + ec.message());
    // wsvisor.v1 is text only; a binary frame from the server is ignored
    // rather than fatal (the client must tolerate what it does not know).
    if (ws_.got_text())
      caf::anon_send(p_.client, cl_frame_atom::value, p_.id,
                     beast::buffers_to_string(buffer_.data()));
    buffer_.consume(buffer_.size());
    read();
  }

  void enqueue(std::string text) {
    if (done_ || closing_) return;
    queued_bytes_ += text.size();
    if (queued_bytes_ > p_.max_queued_bytes)
      return fail(client_errc::write_overflow, std::to_string(queued_bytes_) + " bytes unwritten");
    queue_.push_back(std::move(text));
    if (open_ && !writing_) write_next();
  }

  void write_next() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(queue_.front()),
                    beast::bind_front_handler(&ws_link_impl::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (done_) return;
    if (ec) return fail(client_errc::connection_lost, "write: " + ec.message());
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
    if (!queue_.empty())
      write_next();
    else if (closing_)
      finish_close();
  }

  void begin_close() {
    if (done_ || closing_) return;
    closing_ = true;
    if (!open_) return fail(client_errc::closed_by_client, "before the upgrade");
    if (!writing_ && queue_.empty()) finish_close();
  }

  void finish_close() {
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {
      self->fail(client_errc::closed_by_client, "");
    });
  }

  void fail(client_errc code, std::string detail) {
    if (done_) return;
    done_ = true;
    shut();
    caf::anon_send(p_.link, cl_closed_atom::value, static_cast<std::uint8_t>(code),
                   std::move(detail));
  }

  // Pending operations complete with operation_aborted and find done_ set.
  void shut() {
    timer_.cancel();
    resolver_.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  ws_link_params p_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  websocket::stream<beast::tcp_stream> ws_;
  websocket::response_type res_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;  // front: the frame being written
  std::size_t queued_bytes_ = 0;
  bool open_ = false;     // the upgrade succeeded
  bool writing_ = false;  // one write in flight
  bool closing_ = false;  // close() called: no new frames, close after the queue
  bool done_ = false;     // reported or aborted: every handler returns at once
};

}  // namespace

std::shared_ptr<ws_link> open_ws_link(asio::io_context& ioc, ws_link_params params) {
  auto link = std::make_shared<ws_link_impl>(ioc, std::move(params));
  link->start();
  return link;
}

}  // namespace wsvisor::detail
