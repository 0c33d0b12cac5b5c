#pragma once

/// Typed configuration of a wsvisor node. Every field has a built-in default,
/// so `config{}` runs a useful single node on 127.0.0.1:8080. Values are
/// validated by the loaders in config/loader.hpp; code that receives a
/// `config` may rely on every invariant listed in docs/configuration.md.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace wsvisor {

/// Every duration in the config is held in milliseconds (the finest unit the
/// config accepts).
using duration = std::chrono::milliseconds;

/// Erlang's restart types: permanent children always restart, transient ones
/// only after an abnormal exit, temporary ones never.
enum class restart_kind { permanent, transient, temporary };

/// Which siblings restart with a failed child.
enum class strategy_kind { one_for_one, one_for_all, rest_for_one };

/// Jitter applied to exponential backoff (AWS "Exponential Backoff And Jitter").
enum class jitter_kind { none, full, equal, decorrelated };

/// What a supervisor does once a child exceeds its restart intensity.
enum class give_up_action { escalate, stop };

enum class log_format { text, json };
/// What runs the actors. `io`: the I/O threads themselves (net/io_scheduler.hpp),
/// so that a frame is handled without a thread hand-off. Or CAF's own
/// scheduler on threads of its own: work stealing (idle workers poll before
/// they sleep) or work sharing (one queue; idle workers sleep at once).
/// `automatic` picks sharing when the process may run on one CPU only, where
/// a polling worker can only take time from the I/O thread, else stealing.
enum class actor_scheduler { io, automatic, stealing, sharing };
enum class log_level { trace, debug, info, warn, error, critical, off };
/// The oldest TLS version the server accepts (`[server.tls] min_version`).
enum class tls_version { v1_2, v1_3 };

/// `[server.tls]`: with `cert` and `key` set, the listener speaks TLS only
/// (wss:// and https:// on the same port); both empty: plain ws://.
struct tls_config {
  std::string cert;  // PEM certificate chain (leaf first)
  std::string key;   // PEM private key of the leaf
  tls_version min_version = tls_version::v1_2;
  bool enabled() const { return !cert.empty(); }
  bool operator==(const tls_config&) const = default;
};

/// `[server.compression]`: permessage-deflate (RFC 7692), off unless enabled.
/// Offered by a client and enabled here, it is negotiated; then the server
/// compresses each message of at least `threshold` bytes it sends, and
/// inflates what the client compressed (docs/configuration.md).
struct compression_config {
  bool enabled = false;
  std::uint32_t level = 1;         // zlib level 1..9: 1 is fastest
  std::uint32_t window_bits = 15;  // the server's LZ77 window, 9..15 (2^bits bytes)
  bool context_takeover = true;    // false: every message compressed on its own (both ways)
  std::uint64_t threshold = 256;   // messages smaller than this go uncompressed
  bool operator==(const compression_config&) const = default;
};

struct server_config {
  std::string listen = "127.0.0.1:8080";      // loopback: exposing the service is a choice
  std::string path = "/ws";                   // WebSocket upgrade target
  std::uint64_t max_message_bytes = 65536;    // larger frames close with 1009
  std::uint64_t max_connections = 10000;      // beyond this, new clients are refused
  std::uint64_t send_queue_bytes = 1u << 20;  // outbound bytes queued per client; a client this
                                              // far behind stopped reading and is dropped
  duration handshake_timeout{10'000};         // to send a request, upgrade and say hello
  std::uint32_t io_threads = 0;               // event loops, one thread each; 0 = one per
                                              // CPU this process may use (its affinity)
  std::uint32_t actor_threads = 0;            // CAF's workers (stealing, sharing, auto only);
                                              // 0 = one per core
  actor_scheduler scheduler = actor_scheduler::io;  // key: actor_scheduler
  std::vector<std::string> allowed_origins;         // Origin allow-list for browsers; empty = any
  tls_config tls;                                   // [server.tls]
  compression_config compression;                   // [server.compression]
  duration drain_timeout{20'000};  // SIGTERM/SIGINT: bound on the drain (handovers,
                                   // clients leaving) before the node stops anyway
  bool operator==(const server_config&) const = default;
};

struct session_config {
  duration resume_window{30'000};                // how long a detached session waits
  std::uint64_t replay_buffer = 1024;            // unacknowledged messages kept per session
  std::uint64_t replay_buffer_bytes = 4u << 20;  // and their total payload bytes
  duration heartbeat_interval{25'000};           // server ping period
  duration heartbeat_timeout{35'000};            // silence after which a connection is dead
  bool operator==(const session_config&) const = default;
};

struct log_config {
  log_level level = log_level::info;     // info says what happened without flooding
  log_format format = log_format::text;  // json: one object per line for shippers
  duration repeat_interval{10'000};      // a client's or a link's repeated event: one line
                                         // per interval, with a count of the rest; 0 = all
  bool operator==(const log_config&) const = default;
};

/// A named supervision policy (`[policies.NAME]`).
struct policy {
  restart_kind restart = restart_kind::permanent;        // default restart type of children
  strategy_kind strategy = strategy_kind::one_for_one;   // used when a supervisor runs under it
  duration backoff_min{200};                             // first restart delay
  duration backoff_max{30'000};                          // cap on the delay
  double backoff_multiplier = 2.0;                       // growth per consecutive restart
  jitter_kind jitter = jitter_kind::full;                // spreads reconnect storms
  duration reset_after{30'000};                          // up this long: back to backoff_min
  std::uint32_t max_restarts = 20;                       // within restart_window; 0 = unlimited
  duration restart_window{60'000};                       // intensity window
  give_up_action on_give_up = give_up_action::escalate;  // a crash loop is not hidden
  bool operator==(const policy&) const = default;
};

/// The policies every node has; `[policies.NAME]` tables override or add.
std::map<std::string, policy> builtin_policies();

struct upstream_config {
  std::string name;                            // unique; names the supervised child
  std::string url;                             // ws:// or wss://
  std::string channel;                         // the channel this upstream owns
  std::string policy = "upstream";             // a key of `policies`
  std::uint64_t buffer = 1024;                 // forwards kept while the link is down
  std::vector<std::string> subprotocols;       // offered in Sec-WebSocket-Protocol; empty: omitted
  std::map<std::string, std::string> headers;  // extra handshake headers (auth, tenant); the
                                               // handshake's own headers are refused
  duration connect_timeout{10'000};            // resolve + connect + TLS + upgrade: a dead host
                                               // fails fast and the policy's backoff takes over
  duration heartbeat_timeout{30'000};          // silence that ends the link; a ping goes out at
                                               // half of it; 0 = off (the upstream pings us)
  std::string ca_file;                         // wss://: PEM of extra trusted CAs (a private CA);
                                               // empty = the system trust store
  bool required = false;                       // GET /readyz answers 503 while it is not up
  bool compression = false;                    // offer permessage-deflate to the upstream
  bool operator==(const upstream_config&) const = default;
};

/// The HTTP API (docs/api.md).
struct api_config {
  std::string token;  // bearer token of POST /api/publish; empty = none,
                      // served only on a loopback server.listen
  bool operator==(const api_config&) const = default;
};

/// `[limits]`: what one client, one address or a crowd may take (docs/security.md).
/// A count of 0 means no limit.
struct limits_config {
  std::uint64_t connections_per_ip = 1000;   // open WebSockets from one remote address
  std::uint64_t messages_per_second = 1000;  // per connection: token bucket refill rate
  std::uint64_t message_burst = 2000;        // per connection: token bucket size
  std::uint64_t rate_limit_strikes = 10;     // rate_limited answers in hand (one back per
                                             // second) before the connection closes 1008
  std::uint64_t subscriptions_per_session = 1000;
  std::uint64_t sessions = 100000;             // per node, detached ones included
  std::uint64_t channels = 100000;             // per node: channels with a local subscriber
  std::uint64_t presence_members = 1000;       // per channel: presence members, cluster-wide
  std::uint64_t handshakes_per_second = 2000;  // hello + resume admitted per second (node)
  std::uint64_t handshake_burst = 2000;        // admitted at once before the rate applies
  bool operator==(const limits_config&) const = default;
};

/// `[auth]`: HS256 JSON Web Tokens in `hello.auth`. Enabled when one secret
/// source is set; exactly one may be.
struct auth_config {
  std::string secret;              // the HMAC key itself
  std::string secret_file;         // or a file holding it (one trailing newline dropped)
  std::string secret_env;          // or an environment variable holding it
  std::string audience;            // required `aud` when not empty
  std::uint32_t max_failures = 3;  // bad tokens on one connection before close 1008
  bool enabled() const { return !secret.empty() || !secret_file.empty() || !secret_env.empty(); }
  bool operator==(const auth_config&) const = default;
};

/// The HMAC key `auth` names: from `secret`, the file or the environment.
/// Empty with `error` set when it cannot be read or is shorter than 32 bytes
/// (RFC 7518 §3.2: an HS256 key has at least 256 bits). The loader checks
/// this at start-up; the node reads the key again when it starts.
std::string read_auth_secret(const auth_config& auth, std::string& error);

struct cluster_config {
  bool enabled = false;                   // a single node needs no middleman
  std::string node;                       // unique node name; empty: the host name
  std::string listen = "127.0.0.1:7070";  // middleman address
  std::vector<std::string> peers;         // host:port of other nodes' middleman
  std::string public_url;                 // this node's ws:// URL for clients
  duration heartbeat_interval{1'000};     // CAF middleman.heartbeat-interval
  duration peer_timeout{5'000};           // CAF middleman.connection-timeout
  std::string policy = "cluster";         // supervision policy of peer links
  std::uint32_t ready_min_peers = 0;      // GET /readyz answers 503 while fewer peers are up
  std::uint32_t replicas = 1;             // 1: each session keeps a replica on a live peer; 0: none
  bool operator==(const cluster_config&) const = default;
};

/// The browser files (docs/browser.md).
struct web_config {
  bool pages = true;  // the demo page and the dashboard; /client.js stays
  bool operator==(const web_config&) const = default;
};

struct config {
  server_config server;
  api_config api;
  session_config session;
  limits_config limits;
  auth_config auth;
  log_config log;
  std::map<std::string, policy> policies = builtin_policies();
  std::vector<upstream_config> upstreams;
  cluster_config cluster;
  web_config web;
  bool operator==(const config&) const = default;
};

}  // namespace wsvisor
