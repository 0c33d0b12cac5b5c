#pragma once

/// One load-generator client: a Beast WebSocket over TCP driven by C++20
/// coroutines on one io_context (one thread), speaking one of the three
/// dialects of wire.hpp. It knows just enough of each protocol to start or
/// resume a session, join a channel, publish, and hand back what it receives;
/// heartbeats and acks are answered inside `next()`.

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "tools/bench/wire.hpp"

namespace wsbench {

template <class T>
using task = boost::asio::awaitable<T>;

/// Where the generator connects, and how: one server, or the nodes of a
/// cluster on one host.
struct target {
  dialect kind = dialect::wsvisor;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::vector<std::uint16_t> ports;  // a cluster's nodes (ports[0] == port); empty: `port` alone
  std::string path;                  // empty: the dialect's default for the workload
  int source_ips = 8;                // loopback only: spread clients over 127.0.0.1..N
  std::uint64_t ack_every = 64;      // wsvisor: ack after this many messages
  bool deflate = false;              // offer permessage-deflate (Beast compresses and inflates)
  bool msgpack = false;              // wsvisor: speak wsvisor.v1.msgpack (binary MessagePack)

  /// How many servers: the cluster's nodes, or 1.
  std::uint32_t nodes() const {
    return ports.empty() ? 1 : static_cast<std::uint32_t>(ports.size());
  }
  /// The port of node `node` (taken modulo the number of nodes).
  std::uint16_t port_of(std::uint32_t node) const {
    return ports.empty() ? port : ports[node % ports.size()];
  }
};

class client {
 public:
  struct event {
    enum kind { delivered, welcome, subscribed, acked, closed, other } type = other;
    std::string payload;           // delivered
    bool resumed = false;          // welcome: the session was resumed (Socket.IO: recovered)
    std::string reason;            // welcome (not resumed) or the error that closed
    std::uint16_t close_code = 0;  // closed: the server's close code; 0 when it sent none
  };

  /// Client `index` of the run, connecting to node `node` of `t` (the only
  /// one unless `t` is a cluster), on every connection.
  client(boost::asio::io_context& ioc, const target& t, std::uint32_t index, std::uint32_t node);
  ~client();

  /// TCP connect and WebSocket upgrade on `path` (a fresh stream each call).
  task<bool> connect(const std::string& path);
  /// Starts a session (wsvisor `hello`, Socket.IO `40`), or resumes the last
  /// one when `resume` (wsvisor `resume`, Socket.IO `40{pid,offset}`).
  /// Nothing for raw peers. The welcome's `resumed` lands in `resumed()`.
  task<bool> establish(bool resume);
  /// wsvisor: subscribe and wait for `subscribed`. Nothing for the others.
  task<bool> join(const std::string& channel);
  /// The next event; pings are answered, acks sent, non-events skipped.
  task<event> next();

  /// Sends what this dialect sends to have `payload` published on `channel`
  /// (wsvisor publish with the next cseq; Socket.IO `event`; raw: the payload).
  void publish(const std::string& channel, const std::string& payload,
               const char* sio_event = "publish");
  /// Queues a text frame; frames go out in order, one write at a time.
  void send(std::string frame);
  /// wsvisor `bye` then wait for the close; Socket.IO `41`; then cut.
  task<void> leave();
  /// Drops the TCP connection at once (RST, no close handshake).
  void cut();
  /// Connects to node `node` of the cluster from the next connect() on (a
  /// failover: the client's node is gone). The session state is kept.
  void move_to(std::uint32_t node) { port_ = target_.port_of(node); }

  /// Bytes the kernel has received on the current connection (TCP_INFO),
  /// headers and handshake included: what the server sent; 0 if closed.
  std::uint64_t bytes_received() const;
  /// The current connection negotiated permessage-deflate.
  bool compressed() const { return compressed_; }

  bool resumed() const { return resumed_; }
  /// wsvisor: why the last welcome did not resume (`unknown`, `overflow`, ...).
  const std::string& welcome_reason() const { return welcome_reason_; }
  /// wsvisor: the session of the last welcome (Socket.IO: its sid).
  const std::string& session() const { return target_.kind == dialect::socketio ? sid_ : session_; }
  std::uint32_t index() const { return index_; }
  std::uint16_t port() const { return port_; }
  /// wsvisor: `message` seqs that were not last + 1 (gaps or repeats).
  std::uint64_t seq_errors() const { return seq_errors_; }
  std::uint64_t errors() const { return errors_; }
  const std::string& last_error() const { return last_error_; }
  /// The close code of the server's close frame on the current connection
  /// (wsvisor 4503: resume later); 0 when it sent none or is still open.
  std::uint16_t last_close_code() const { return last_close_code_; }

 private:
  using stream = boost::beast::websocket::stream<boost::asio::ip::tcp::socket>;
  void write_next();
  task<event> read_event();  // next() without the pending deliveries
  event closed_event(const stream& ws, boost::system::error_code ec);  // notes the close code
  event on_wsv(std::string_view text);
  event on_sio(std::string_view text);

  boost::asio::io_context& ioc_;
  const target& target_;
  std::uint32_t index_;
  std::uint16_t port_;  // of the node this client connects to
  std::shared_ptr<stream> ws_;
  std::uint64_t generation_ = 0;  // bumped per connection: stale writes are ignored
  boost::beast::flat_buffer buffer_;
  std::deque<std::string> out_;
  std::deque<std::string> pending_;  // deliveries read before the session was established
  bool writing_ = false;
  bool compressed_ = false;

  // Session state, kept across connections.
  std::string session_, token_;  // wsvisor
  std::uint64_t last_seq_ = 0, acked_ = 0, cseq_ = 0;
  std::string sid_, pid_, offset_;  // Socket.IO
  bool resumed_ = false;
  std::string welcome_reason_;
  std::uint64_t seq_errors_ = 0, errors_ = 0;
  std::string last_error_;
  std::uint16_t last_close_code_ = 0;
};

}  // namespace wsbench
