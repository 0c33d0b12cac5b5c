#pragma once

/// One connection actor per WebSocket. Its life is its socket's: net/ spawns
/// it with the socket's transport, feeds it (ws_text_atom / ws_binary_atom /
/// ws_closed_atom, actors/messages.hpp), and closes the socket when it quits
/// (with 1011 unless the actor closed the transport itself).
///
/// It parses client frames (protocol/codec.hpp; on wsvisor.v1.msgpack,
/// protocol/msgpack_codec.hpp: the frames it and its session send stay JSON,
/// which the transport encodes). Before a session exists it
/// accepts only hello/resume (anything else: error `no_session`) and asks the
/// session registry, found in CAF's actor registry under
/// `session_registry_name` at that moment, for a session. Frames that arrive
/// after hello/resume but before the session answers are kept (up to
/// `max_pending_frames`; beyond: error `rate_limited`) and forwarded in order
/// once attached. Then it forwards subscribe/unsubscribe/publish/ack/bye to
/// the session; the session writes its answers to the transport itself.
/// Parse errors and frames of the other kind (binary on wsvisor.v1, text on
/// wsvisor.v1.msgpack) are answered with `error`; the connection stays open.
///
/// Limits (docs/security.md): every text or binary frame takes a token from
/// the connection's bucket (limits.messages_per_second, message_burst); a
/// frame that finds it empty is dropped and answered with `error`
/// `rate_limited` (with the `cseq` of a dropped publish), and each such
/// answer takes a strike (limits.rate_limit_strikes, one back per second):
/// with none left the connection closes with 1008. A `hello` or `resume`
/// first passes the node's handshake gate (resume-storm admission): when it
/// refuses, the client gets `goaway{reason: "overload", retry_ms}` and close
/// 1001. With [auth] on, a `hello` must carry a valid JWT: a bad one is
/// answered `unauthorized` and, after auth.max_failures of them, close 1008.
/// The identity (subject, channel patterns) goes to the registry with the
/// hello; a `resume` carries one only if it has a valid `auth`, used if the
/// resume fails and a new session starts (without it the registry refuses
/// that new session: `unauthorized`, and the connection may send `hello`).
/// The registry's `server_full` (limits.sessions) is answered with `error`
/// `server_full` and close 4429.
///
/// Heartbeat: once attached it sends `ping` every heartbeat_interval; if no
/// text frame (pong included) arrives for heartbeat_timeout it closes.
///
/// Close codes it sends (transport::close), after which it quits normally:
/// - 4408: no hello/resume within handshake_timeout, or heartbeat_timeout of silence;
/// - 4409: its session was resumed on another connection (drop_connection_atom);
/// - 1008: rate limit strikes used up, or auth.max_failures bad tokens;
/// - 4429: limits.sessions reached (after `error` `server_full`);
/// - 1001: refused by the handshake gate (after `goaway` `overload`);
/// - 1013: no session registry is running, or it failed the request ("try again later");
/// - 1001: its session ended with exit_reason::user_shutdown (the node is stopping);
/// - 1001: the node is draining, after `goaway{reason: "shutdown", retry_ms}`
///   (see `connections_group`);
/// - 1011: its session ended abnormally otherwise.
/// After `bye` the session closes with 1000 and ends normally; the connection
/// then quits without closing again. On ws_closed it quits without closing.

#include <cstddef>
#include <memory>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/group.hpp>

#include "actors/session/admission.hpp"
#include "actors/session/jwt_auth.hpp"
#include "actors/transport.hpp"
#include "config/config.hpp"

namespace wsvisor {

struct connection_options {
  session_config session;               // heartbeat_interval, heartbeat_timeout
  duration handshake_timeout{10'000};   // server.handshake_timeout: time to say hello/resume
  std::size_t max_pending_frames = 64;  // frames kept between hello/resume and welcome
  // limits.messages_per_second (0: off), message_burst, rate_limit_strikes (0: never close)
  std::uint64_t messages_per_second = 0;
  std::uint64_t message_burst = 1;
  std::uint64_t rate_limit_strikes = 0;
  std::shared_ptr<handshake_gate> gate;      // the node's; null: every handshake admitted
  std::shared_ptr<const jwt_verifier> auth;  // null: [auth] off
  std::uint32_t max_auth_failures = 3;       // auth.max_failures
  /// The node's `connections_group`, looked up once before the first
  /// connection. Null: each connection looks it up itself, which is safe only
  /// while one thread spawns connections: when two threads create the group at
  /// once, CAF 0.17's local group module makes the loser wait, blocking, for a
  /// broker actor that the io scheduler would run on that very thread.
  caf::group connections;
};

/// The local CAF group (sys.groups().get_local) every connection joins, so
/// that a draining node reaches all of them with one message:
/// (drain_goaway_atom, std::uint32_t window_ms): send the client
/// `goaway{reason: "shutdown", retry_ms}` with retry_ms drawn uniformly from
/// [0, window_ms], close with 1001 and quit.
inline constexpr const char* connections_group = "wsvisor.connections";

/// Spawns the actor for one accepted WebSocket whose socket side is `transport`.
caf::actor spawn_connection(caf::actor_system& sys, transport_ptr transport,
                            connection_options opts);

}  // namespace wsvisor
