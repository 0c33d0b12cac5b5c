#pragma once

// ws_client, the class template behind open_ws_client, for its two
// instantiations: ws_client_plain.cpp (ws://, and open_ws_client) and
// ws_client_tls.cpp (wss://).
// One each, in their own translation units, because each takes minutes to
// compile and two compile side by side. Internal to net/.

#include "net/ws_client.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <type_traits>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "log/log.hpp"
#include "net/tls_context.hpp"
#include "net/ws_url.hpp"

namespace wsvisor::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

using strand_type = asio::strand<asio::io_context::executor_type>;
using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

std::shared_ptr<spdlog::logger> upstream_log() {
  static auto logger = log::get("upstream");
  return logger;
}

outbound_result ending(outbound_end kind, std::string detail) {
  return {.kind = kind, .detail = std::move(detail)};
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// A socket that never opens: reports one result (bad URL, unusable TLS
// setup), posted so that open_ws_client never runs an event itself.
class unopened_socket final : public outbound_socket,
                              public std::enable_shared_from_this<unopened_socket> {
 public:
  explicit unopened_socket(asio::io_context& ioc) : strand_(asio::make_strand(ioc)) {}

  void start(outbound_result result, outbound_events events) {
    asio::post(strand_, [self = shared_from_this(), result = std::move(result),
                         on_closed = std::move(events.on_closed)]() mutable {
      if (on_closed && !self->aborted_) on_closed(std::move(result));
    });
  }

  void send(std::string, std::uint64_t) override {}
  void close() override {}
  void abort() override { aborted_ = true; }

 private:
  strand_type strand_;
  std::atomic<bool> aborted_ = false;
};

template <class NextLayer>
class ws_client final : public outbound_socket,
                        public std::enable_shared_from_this<ws_client<NextLayer>> {
  static constexpr bool tls = std::is_same_v<NextLayer, tls_stream>;

 public:
  template <class... StreamArgs>
  ws_client(strand_type strand, ws_url url, outbound_options opts, outbound_events events,
            StreamArgs&&... stream_args)
      : url_(std::move(url)),
        opts_(std::move(opts)),
        events_(std::move(events)),
        strand_(std::move(strand)),
        resolver_(strand_),
        deadline_(strand_),
        ws_(strand_, std::forward<StreamArgs>(stream_args)...) {}

  void start() {
    asio::post(strand_, [self = this->shared_from_this()] { self->resolve(); });
  }

  void send(std::string text, std::uint64_t tag) override {
    asio::post(strand_, [self = this->shared_from_this(), text = std::move(text), tag]() mutable {
      self->enqueue(std::move(text), tag);
    });
  }

  void close() override {
    asio::post(strand_, [self = this->shared_from_this()] { self->begin_close(); });
  }

  void abort() override {
    // Set here, not on the strand, so that no event starts after abort()
    // returned, even one already queued on the strand.
    aborted_ = true;
    asio::post(strand_, [self = this->shared_from_this()] {
      self->done_ = true;
      self->events_ = {};
      self->shut();
    });
  }

 private:
  struct frame {
    std::string text;
    std::uint64_t tag;
  };

  void resolve() {
    if (done_) return;
    // One deadline for the whole attempt: what a caller cares about is how
    // long an attempt may take, not how it splits.
    deadline_.expires_after(opts_.connect_timeout);
    deadline_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->open_) return;
      self->fail(
          ending(outbound_end::connect_timeout,
                 "timed out after " + std::to_string(self->opts_.connect_timeout.count()) + " ms"));
    });
    resolver_.async_resolve(
        url_.host, url_.port,
        beast::bind_front_handler(&ws_client::on_resolve, this->shared_from_this()));
  }

  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (done_) return;
    if (ec)
      return fail(
          ending(outbound_end::resolve_failed, "resolve " + url_.host + ": " + ec.message()));
    beast::get_lowest_layer(ws_).async_connect(
        results, beast::bind_front_handler(&ws_client::on_connect, this->shared_from_this()));
  }

  void on_connect(beast::error_code ec, const tcp::endpoint&) {
    if (done_) return;
    if (ec) return fail(ending(outbound_end::connect_failed, "connect: " + ec.message()));
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay{true}, ec);
    if constexpr (tls) {
      auto& stream = ws_.next_layer();
      stream.set_verify_callback(ssl::host_name_verification(url_.host));
      // SNI names hosts only (RFC 6066 §3: no IP literals).
      beast::error_code not_ip;
      asio::ip::make_address(url_.host, not_ip);
      if (not_ip && SSL_set_tlsext_host_name(stream.native_handle(), url_.host.c_str()) != 1)
        return fail(ending(outbound_end::tls_failed, "cannot set SNI to " + url_.host));
      stream.async_handshake(
          ssl::stream_base::client,
          beast::bind_front_handler(&ws_client::on_tls, this->shared_from_this()));
    } else {
      upgrade();
    }
  }

  void on_tls(beast::error_code ec) {
    if (done_) return;
    if (ec) return fail(ending(outbound_end::tls_failed, "TLS handshake: " + ec.message()));
    upgrade();
  }

  void upgrade() {
    // Our deadline bounds the opening handshake; the idle timer must be set
    // before it, since Beast arms it when the stream opens.
    auto t = timeouts();
    t.handshake_timeout = websocket::stream_base::none();
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [protocols = join(opts_.subprotocols), agent = opts_.user_agent,
         headers = opts_.headers](websocket::request_type& req) {
          if (!protocols.empty()) req.set(http::field::sec_websocket_protocol, protocols);
          req.set(http::field::user_agent, agent);
          for (const auto& [name, value] : headers) req.set(name, value);
        }));
    ws_.read_message_max(opts_.max_frame_bytes);
    if (opts_.compression) {
      // Offered with Beast's defaults; if the server accepts, Beast
      // compresses what we send and inflates what it sends.
      websocket::permessage_deflate pmd;
      pmd.client_enable = true;
      ws_.set_option(pmd);
    }
    // Beast leaves the response alone when none arrived; 0 tells that apart
    // from a real status (the default is 200).
    res_.result(http::status::unknown);
    ws_.async_handshake(
        res_, url_.host_header(), url_.target,
        beast::bind_front_handler(&ws_client::on_upgrade, this->shared_from_this()));
  }

  void on_upgrade(beast::error_code ec) {
    if (done_) return;
    if (ec) {
      auto r = ending(outbound_end::handshake_failed, ec.message());
      r.http_status = res_.result_int();
      return fail(std::move(r));
    }
    std::string selected{res_[http::field::sec_websocket_protocol]};
    const auto& offered = opts_.subprotocols;
    if (!selected.empty() && std::find(offered.begin(), offered.end(), selected) == offered.end())
      return fail(ending(outbound_end::handshake_failed, "the server selected subprotocol " +
                                                             selected + ", which was not offered"));
    if (selected.empty() && opts_.require_subprotocol && !offered.empty())
      return fail(
          ending(outbound_end::handshake_failed,
                 "the server selected none of the offered subprotocols (" + join(offered) + ")"));
    open_ = true;
    deadline_.cancel();
    // From now on Beast's handshake timer bounds closing handshakes, which
    // otherwise wait for the peer's close frame or FIN without limit.
    ws_.set_option(timeouts());
    emit(events_.on_open, std::move(selected));
    read();
    if (!queue_.empty())
      write_next();
    else if (closing_)
      finish_close();
  }

  websocket::stream_base::timeout timeouts() const {
    websocket::stream_base::timeout t{};
    t.handshake_timeout = opts_.connect_timeout;
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    if (opts_.heartbeat_timeout.count() > 0) {
      t.idle_timeout = opts_.heartbeat_timeout;
      t.keep_alive_pings = true;
    }
    return t;
  }

  void read() {
    ws_.async_read(buffer_,
                   beast::bind_front_handler(&ws_client::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (done_) return;
    if (ec == websocket::error::closed) {
      if (close_started_) return fail(ending(outbound_end::closed, ""));
      const auto& reason = ws_.reason();
      outbound_result r = ending(outbound_end::closed_by_peer, std::string{reason.reason.c_str()});
      r.close_code = reason.code == websocket::close_code::none ? 1005 : reason.code;
      return fail(std::move(r));
    }
    if (ec == websocket::error::message_too_big)
      return fail(ending(outbound_end::connection_lost,
                         "frame larger than " + std::to_string(opts_.max_frame_bytes) + " bytes"));
    if (ec) return fail(stream_error(ec, "read"));
    if (ws_.got_text()) {
      emit(events_.on_text, beast::buffers_to_string(buffer_.data()));
    } else if (!binary_logged_) {
      // The peer speaks text; one line is enough to notice one that does not.
      binary_logged_ = true;
      log::warn(*upstream_log(), "binary frames ignored",
                {{"url", opts_.url}, {"bytes", buffer_.size()}});
    }
    buffer_.consume(buffer_.size());
    read();
  }

  // A failed read or write: Beast reports its idle timer as `timeout`.
  outbound_result stream_error(const beast::error_code& ec, const char* what) const {
    if (close_started_)
      return ending(outbound_end::closed, std::string{what} + ": " + ec.message());
    if (ec == beast::error::timeout && opts_.heartbeat_timeout.count() > 0)
      return ending(
          outbound_end::heartbeat_timeout,
          "nothing received for " + std::to_string(opts_.heartbeat_timeout.count()) + " ms");
    return ending(outbound_end::connection_lost, std::string{what} + ": " + ec.message());
  }

  void enqueue(std::string text, std::uint64_t tag) {
    if (done_ || closing_) return;
    queued_bytes_ += text.size();
    if (queued_bytes_ > opts_.max_queued_bytes)
      return fail(ending(outbound_end::write_overflow,
                         std::to_string(queued_bytes_) + " bytes unwritten (max " +
                             std::to_string(opts_.max_queued_bytes) + ")"));
    queue_.push_back({std::move(text), tag});
    if (open_ && !writing_) write_next();
  }

  void write_next() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(queue_.front().text),
                    beast::bind_front_handler(&ws_client::on_write, this->shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (done_) return;
    if (ec) return fail(stream_error(ec, "write"));
    auto tag = queue_.front().tag;
    queued_bytes_ -= queue_.front().text.size();
    queue_.pop_front();
    emit(events_.on_written, tag);
    if (done_) return;
    if (!queue_.empty())
      write_next();
    else if (closing_)
      finish_close();
  }

  void begin_close() {
    if (done_ || closing_) return;
    closing_ = true;
    if (!open_) return fail(ending(outbound_end::closed, "before the upgrade"));
    if (!writing_ && queue_.empty()) finish_close();
  }

  void finish_close() {
    close_started_ = true;
    ws_.async_close(websocket::close_code::normal,
                    [self = this->shared_from_this()](beast::error_code ec) {
                      if (self->done_) return;
                      self->fail(ending(outbound_end::closed, ec ? "close: " + ec.message() : ""));
                    });
  }

  template <class F, class... Args>
  void emit(const F& event, Args&&... args) {
    if (event && !aborted_) event(std::forward<Args>(args)...);
  }

  void fail(outbound_result result) {
    if (done_) return;
    done_ = true;
    shut();
    // Released here so that what the events captured does not live as long
    // as the handlers still pending on this socket.
    auto on_closed = std::move(events_.on_closed);
    events_ = {};
    emit(on_closed, std::move(result));
  }

  // Pending operations complete with an error and find done_ set.
  void shut() {
    deadline_.cancel();
    resolver_.cancel();
    beast::get_lowest_layer(ws_).close();
  }

  ws_url url_;
  outbound_options opts_;
  outbound_events events_;
  strand_type strand_;
  tcp::resolver resolver_;
  asio::steady_timer deadline_;  // connect_timeout, until the upgrade succeeded
  websocket::stream<NextLayer> ws_;
  websocket::response_type res_;
  beast::flat_buffer buffer_;
  std::deque<frame> queue_;  // front: the frame being written
  std::uint64_t queued_bytes_ = 0;
  std::atomic<bool> aborted_ = false;  // abort() called: no event runs any more
  bool open_ = false;                  // the upgrade succeeded
  bool writing_ = false;               // one write in flight
  bool closing_ = false;               // close() called: no new frames, close after the queue
  bool close_started_ = false;         // our close frame is on its way
  bool binary_logged_ = false;
  bool done_ = false;  // ended or aborted: every handler returns at once
};

}  // namespace

/// A wss:// link, the other half of open_ws_client (ws_client_plain.cpp),
/// in its own translation unit.
outbound_socket_ptr open_tls_ws_client(asio::io_context& ioc, ws_url url, outbound_options opts,
                                       outbound_events events, ssl::context& ctx);

}  // namespace wsvisor::net
