#pragma once

/// The node's HTTP listener: accepts TCP connections on `server.listen` and
/// serves `GET /healthz` (200 "ok"), `GET /version` (build information as
/// JSON) and, given `ready`, `GET /readyz` (200 when ready, else 503;
/// the JSON body is `to_json(readiness::report)`); any other path is 404. A client must deliver
/// each request within `request_timeout` and may idle between keep-alive requests for at most the
/// same time: a slow or silent client cannot hold a socket forever. When an
/// accept fails (the process is out of descriptors, say) the listener pauses
/// for 100 ms before it accepts again, instead of spinning on the failure.
///
/// WebSockets share the port: an upgrade request for `ws_path` (query string
/// ignored) becomes a WebSocket whose connection actor `on_websocket` spawns
/// (net/ws_session.hpp describes what the actor receives). Refusals are plain
/// HTTP answers, given before any upgrade:
///   - an upgrade for another path: 404; a request for `ws_path` that is not
///     an upgrade: 426 Upgrade Required;
///   - subprotocols: `wsvisor.v1` is selected when offered (alone or in a
///     list); a client offering none is accepted without the header; a client
///     offering only others gets 400 naming `wsvisor.v1`;
///   - an `Origin` header not in `allowed_origins` (when that is not empty):
///     403; a request without `Origin` (not a browser) is not checked;
///   - `max_connections_per_ip` WebSockets open from the client's address:
///     429 with `Retry-After`;
///   - `max_connections` WebSockets open: 503 with `Retry-After`. protocol.md
///     lists close code 4429 for this; refusing before the upgrade costs no
///     WebSocket handshake and no actor, and any HTTP client understands it;
///   - bytes sent after the upgrade request but before our 101 (RFC 6455
///     §4.1 forbids it; Beast could not hand them on): 400.
/// Without `on_websocket`, `ws_path` is served like any unknown path (404).
///
/// TLS: with `tls` enabled the port speaks TLS only (https:// and wss://),
/// every route and check above unchanged behind it. `start` loads the
/// certificate chain and key and fails, naming the file, when they do not
/// load or match. A connection must finish its TLS handshake within
/// `handshake_timeout`; one that fails it (plain HTTP, a client that does
/// not trust the certificate or speaks an older TLS than
/// `tls.min_version`) is closed, logged at debug.
///
/// The admin API's routes go to `on_admin` under the same access rule.
/// `POST /api/publish` publishes one message through `on_publish`; the
/// answers are in docs/api.md. Without `on_publish` it is an unknown path
/// (404). Its body may be up to `max_message_bytes`; every other route takes
/// no body (413). With an empty `api_token` the API answers only when
/// `listen` is a loopback address (`is_loopback_listen`), else 403.
/// `GET /metrics` (docs/metrics.md) answers `metrics()` under the same rule.
///
/// Threading: all socket work runs on the `io_context` given to the
/// constructor, or, given an `io_pool`, each connection on one of the pool's
/// contexts in turn (the listener on the first); `start`, `stop` and `local_port` may be called
/// from any thread that does not race with each other (in practice: the owner's thread). Beast and
/// Asio stay out of this header so that it is cheap to include.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>

#include "actors/readiness.hpp"
#include "actors/transport.hpp"
#include "config/config.hpp"
#include "net/io_gate.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace wsvisor::net {

class io_pool;

/// POST /api/publish: the validated request.
struct publish_request {
  std::string channel;    // passes proto::valid_channel and does not start with "sys."
  std::string data_json;  // `data`, one serialised JSON value (may be "null")
  // A MessagePack body's `data` without a JSON equivalent, MessagePack-encoded
  // (then data_json is "null" and unused); empty: none.
  std::string data_msgpack;
};

/// What the actors answered to a publish_request.
struct publish_outcome {
  std::uint64_t sessions = 0;  // sessions the message reached (0 when the channel is an upstream's)
  std::string upstream;        // non-empty: the channel is owned by this upstream link; the data
                               // was sent or buffered for it
  std::string error;           // empty: published; else a code: "upstream_down" and "timeout"
                               // answer 503, any other 500
  std::string message;         // human-readable detail of the error
};

/// Answers a publish_request; callable from any thread, at most once (later
/// calls are ignored).
using publish_reply = std::function<void(publish_outcome)>;

/// The admin API (docs/api.md): one request, routed, allowed and checked.
struct admin_request {
  enum class kind : std::uint8_t {
    list_sessions,       // GET /api/sessions
    get_session,         // GET /api/sessions/ID
    end_session,         // DELETE /api/sessions/ID
    disconnect_session,  // POST /api/sessions/ID/disconnect
    supervision,         // GET /api/supervision
    channels,            // GET /api/channels
    cluster,             // GET /api/cluster
  };
  kind what = kind::list_sessions;
  std::string id;     // a session's id (get, end, disconnect)
  std::string after;  // list_sessions, channels: only what sorts above it; "" = from the start
  std::uint64_t limit = 100;   // list_sessions, channels: at most this many (1..1000)
  std::string state;           // list_sessions: "attached", "detached" or "" (both)
  bool cluster_scope = false;  // list_sessions, channels: ?scope=cluster, every live node's
};

/// What the node answered to an admin_request.
struct admin_outcome {
  unsigned status = 200;
  std::string body;     // 200: the JSON object to send
  std::string error;    // non-empty: an error code, answered with `status` and `message`
  std::string message;  // human-readable detail of the error
};

/// Answers an admin_request; callable from any thread, at most once.
using admin_reply = std::function<void(admin_outcome)>;

struct http_options {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 lets the OS choose
  duration request_timeout{10'000};       // deliver a request, or idle, at most this long
  std::uint64_t max_header_bytes = 8192;  // larger request headers get 431
  std::string version_json = "{}";        // body of GET /version
  tls_config tls;                         // enabled: TLS only on `listen` (wss://, https://)

  std::string ws_path = "/ws";                // target of the WebSocket upgrade; query ignored
  std::uint64_t max_message_bytes = 65536;    // inbound messages above this close with 1009
  std::uint64_t max_connections = 10000;      // open WebSockets; beyond, upgrades get 503
  std::uint64_t max_connections_per_ip = 0;   // from one address; beyond, 429; 0 = no limit
  std::vector<std::string> allowed_origins;   // an upgrade with another Origin gets 403; empty: any
  std::uint64_t send_queue_bytes = 1u << 20;  // outbound bytes queued per WebSocket; past it
                                              // the client stopped reading: reset
  duration handshake_timeout{10'000};         // TLS handshake; WebSocket opening and closing
                                              // handshakes
  compression_config compression;             // permessage-deflate for WebSockets (off by default)
  /// Spawns the connection actor of a new WebSocket (called on the socket's
  /// strand, after the 101). An invalid handle closes the socket with 1011.
  std::function<caf::actor(transport_ptr)> on_websocket;
  /// Guards posts from other threads to the io_context (connection actors'
  /// exit functors, publish replies; net/io_gate.hpp); the io_context's
  /// owner closes it before destroying it.
  std::shared_ptr<io_gate> gate = std::make_shared<io_gate>();

  /// POST /api/publish (docs/api.md). Called on the connection's strand with
  /// a validated request; must call `reply` exactly once, from any thread.
  /// The connection waits for it (no deadline here: the callee bounds its
  /// own wait and answers "timeout"); a `reply` destroyed unanswered answers
  /// 500. Empty: /api/publish is 404.
  std::function<void(publish_request, publish_reply)> on_publish;
  /// GET /metrics: the Prometheus text exposition, called on the connection's
  /// strand at each scrape; served under the API's access rule (`api_token`,
  /// or a loopback `listen`). Empty: /metrics is 404.
  std::function<std::string()> metrics;
  /// The admin API: /api/sessions, /api/sessions/ID, /api/sessions/ID/disconnect,
  /// /api/supervision, /api/channels (docs/api.md). Called on the connection's
  /// strand with a request that passed the method, access and query checks;
  /// must call `reply` once, from any thread, bounding its own wait (a reply
  /// destroyed unanswered answers 500). Empty: those paths are 404.
  std::function<void(admin_request, admin_reply)> on_admin;
  /// The bearer token the API requires (`Authorization: Bearer TOKEN`);
  /// empty: none, and the API is served only on a loopback `listen`.
  std::string api_token;
  /// GET /readyz reads it on each request (a short lock, no actor asked);
  /// null: /readyz is 404.
  std::shared_ptr<const readiness> ready;
  /// The demo page, the dashboard and their files ([web] pages); /client.js
  /// is served either way.
  bool site_pages = true;
  /// GET /site.json's body; made from ws_path by the server (site_json_of).
  std::string site_json;
};

class http_server {
 public:
  http_server(boost::asio::io_context& ioc, http_options opts);
  http_server(io_pool& pool, http_options opts);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Loads the TLS certificate and key (when `tls` is enabled), resolves,
  /// binds and starts accepting. Returns an empty string on success,
  /// otherwise a message naming the file or the address, and the cause.
  std::string start();

  /// Stops accepting new connections; connections already open finish their
  /// current request and close. Open WebSockets stay open: shutting them
  /// down (goaway, close 1001) is their actors' part of a staged shutdown.
  void stop();

  /// The bound port (useful after listening on port 0); 0 before `start`.
  std::uint16_t local_port() const;

  /// The bound address as `host:port`.
  std::string local_address() const;

  /// WebSockets open now (counted against `max_connections`); any thread.
  std::uint64_t open_websockets() const;

  /// A reload's limits.connections_per_ip, for upgrades from now on; any
  /// thread. Only between non-zero limits (ws_slots::set_max_per_ip).
  void set_max_connections_per_ip(std::uint64_t max);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

/// True when `listen` (`host:port`) only accepts connections from this host:
/// an address in 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) or the name
/// `localhost` (any case). Other names are not resolved and count as exposed.
bool is_loopback_listen(std::string_view listen);

}  // namespace wsvisor::net
