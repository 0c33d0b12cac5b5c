#pragma once

/// The C++ client of wsvisor.v1 (../shared/protocol.md, docs/client.md).
///
/// A `client` keeps one logical session with a wsvisor server across any
/// number of WebSocket connections: it says `hello` once, and after every drop
/// reconnects with the backoff of `client_options::reconnect` and `resume`s,
/// so that each server message reaches `on_message` exactly once and in order
/// while the session lives. When the server cannot resume the session, the
/// client starts a new one, reports `reset` with the reason, subscribes its
/// channels again and resends its unacknowledged publishes there.
///
/// Inside, a client actor owns the session state and a wsvisor supervisor
/// (actors/supervision/supervisor.hpp) owns the link: one actor per connection attempt,
/// respawned after the policy's delay whenever it dies. Sockets run on one
/// Asio thread that the client owns. Beast stays out of this header.
///
/// Threading: every member function may be called from any thread, including
/// from inside the callbacks, and never blocks, except `wait_for` and the
/// destructor. Callbacks run one at a time and in order, on a CAF worker
/// thread (inside the client actor): keep them short, never block in them,
/// and never destroy the client from one.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "config/config.hpp"

namespace wsvisor {

namespace detail {
struct client_shared;
class client_io;
}  // namespace detail

struct client_options {
  std::string url;                   // ws://host[:port]/path or wss://...
  std::string ca_file;               // wss://: PEM file of CAs trusted besides the system's
                                     // (a private CA, a test's self-signed certificate)
  policy reconnect;                  // backoff, reset_after, intensity and give-up of reconnects
  std::uint32_t ack_every = 16;      // ack after this many messages ...
  duration ack_interval{100};        // ... or this long after the first unacked one
  duration heartbeat_grace{5000};    // silence beyond welcome.heartbeat_ms that kills a link
  duration connect_timeout{10'000};  // connect + upgrade + welcome, per attempt
  duration close_timeout{2000};      // close(): how long bye and the close handshake may take
  std::optional<std::string> auth;   // sent in hello
  std::uint64_t seed = 0;            // backoff jitter seed; 0 = random
  std::size_t max_pending_publishes = 10'000;  // unacknowledged publishes held; beyond: full
  std::size_t max_queued_bytes = 16u << 20;    // unwritten bytes per connection; beyond: drop it
  std::size_t max_frame_bytes = 16u << 20;     // larger inbound frames drop the connection
};

enum class client_state_kind : std::uint8_t {
  connecting,    // a link is connecting to `url` (attempt: links since the last welcome)
  connected,     // a new session is live (first hello)
  resumed,       // the session was resumed on a new connection; nothing was lost
  reset,         // a resume failed: a new session is live, `reason` says why
  disconnected,  // the connection ended (`why`); a reconnect follows unless final
  given_up,      // final: the reconnect policy gave up (`why`); nothing more happens
  closed,        // final: after close()
};

/// Why a resume failed (protocol.md "Resume").
enum class reset_reason : std::uint8_t {
  none,
  unknown,   // no such session or a wrong token (the server does not tell them apart)
  expired,   // the resume window ran out
  overflow,  // messages the client lacked were evicted from the replay buffer
};

std::string to_string(client_state_kind x);
std::string to_string(reset_reason x);

struct client_state_change {
  client_state_kind kind = client_state_kind::connecting;
  std::string session;                       // connected, resumed, reset: the live session
  reset_reason reason = reset_reason::none;  // reset (an unrecognised reason reads as unknown)
  std::string why;            // disconnected, given_up: the end's cause; reset: the server's reason
  std::string url;            // connecting: where
  std::uint32_t attempt = 0;  // connecting: 0 for the first attempt after a live connection
};

struct client_message {
  std::string channel;
  std::uint64_t seq = 0;  // 1, 2, 3, ... per session; starts again at 1 after a reset
  std::string data;       // the JSON value, serialised
  // Data a MessagePack client published that has no JSON equivalent (bytes,
  // say; `data_msgpack` in docs/protocol.md): its MessagePack encoding, and
  // `data` is empty. Empty for every other message.
  std::string data_msgpack;
};

/// A change of a member of a channel this client joined with presence
/// (docs/protocol.md, "Presence"): numbered in the session's seq with the
/// messages, delivered exactly once and in order like them.
struct client_presence_event {
  std::string channel;
  std::uint64_t seq = 0;
  std::string member;   // the member's opaque id (not its session id)
  std::string subject;  // its JWT `sub`; empty when the server sent null
  std::string state;    // online, away or gone
};

/// A member of a channel, as a presence query lists it.
struct client_member {
  std::string member;
  std::string subject;  // empty when null
  std::string state;    // online or away
};

/// The answer to ask_presence.
struct client_members {
  std::string channel;
  std::vector<client_member> members;
};

struct client_callbacks {
  std::function<void(const client_message&)> on_message;          // optional
  std::function<void(const client_state_change&)> on_state;       // optional
  std::function<void(const client_presence_event&)> on_presence;  // optional
  std::function<void(const client_members&)> on_members;          // optional
};

/// Counters and the current view of the session. A snapshot; `wait_for`
/// awaits a condition on it. `state`, `messages` and `last_seq` change after
/// the callback that reports them has returned, so a caller that sees them
/// also sees every callback behind them completed.
struct client_stats {
  client_state_kind state = client_state_kind::connecting;  // the last one reported
  bool live = false;                  // a welcome arrived on the current connection
  std::string session;                // empty before the first welcome
  std::string url;                    // where the client connects (changes after goaway{url})
  std::uint64_t last_seq = 0;         // highest seq delivered in the current session
  std::uint64_t last_acked = 0;       // highest seq acknowledged to the server
  std::uint64_t messages = 0;         // delivered to on_message, all sessions
  std::uint64_t presence_events = 0;  // delivered to on_presence, all sessions
  std::uint64_t duplicates = 0;       // messages dropped because their seq was already delivered
  std::uint64_t published = 0;        // publishes accepted by publish()
  std::uint64_t publishes_acked = 0;
  std::uint64_t publishes_refused = 0;  // answered `upstream_down`: dropped, not resent
  std::size_t pending_publishes = 0;    // accepted, not yet acknowledged
  std::uint64_t resent = 0;             // publish frames sent again after a reconnect
  std::uint64_t connects = 0;           // link incarnations (connection attempts)
  std::uint64_t sessions = 0;           // connected + reset
  std::uint64_t resumes = 0;
  std::uint64_t resets = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t acks_sent = 0;
  std::uint64_t pongs_sent = 0;
  std::uint64_t server_errors = 0;  // error frames received
  std::string last_error;           // code of the last one
  bool finished = false;            // given_up or closed was reported
};

/// What publish() did with a publish.
enum class publish_result : std::uint8_t {
  queued,   // accepted: sent now or on the next connection, resent until acknowledged
  full,     // max_pending_publishes are unacknowledged: not queued, try again later
  invalid,  // bad channel name or `json_data` is not one JSON value: not queued
  closed,   // close() was called or the client gave up: not queued
};

class client {
 public:
  /// Starts connecting at once. Throws std::invalid_argument when `opts.url`
  /// is malformed or `opts.ca_file` cannot be loaded (the message names it).
  /// `sys` must outlive the client and have been configured with
  /// add_client_types (client/errors.hpp).
  client(caf::actor_system& sys, client_options opts, client_callbacks callbacks = {});

  /// close(), then waits up to 2 × close_timeout for the end; no callback
  /// runs after it returns.
  ~client();

  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Subscribes now, or on the next connection, and again after every
  /// reset. False for an invalid channel name or a closed client.
  /// `presence`: as a member of the channel; its members' changes arrive at
  /// on_presence (a subscription made without presence is made again with
  /// it; a refusal, `too_many_members`, shows in stats().last_error).
  bool subscribe(std::string channel, bool presence = false);

  /// Asks who is a member of `channel` (subscribed): the answer arrives at
  /// on_members, on this connection or, while none is live, on the next one
  /// once its subscriptions are sent. An error answer (`not_subscribed`)
  /// shows in stats(). False for an invalid channel name or a closed client.
  bool ask_presence(std::string channel);

  /// Stops wanting `channel`. Messages on it may arrive until the server
  /// has confirmed, and are delivered (they carry seqs the session needs).
  bool unsubscribe(std::string channel);

  /// Publishes `json_data` (one JSON value, as text) to `channel`, exactly
  /// once per session: it is resent after reconnects until the server acks
  /// it. At most max_pending_publishes are held; beyond that publish answers
  /// `full` and keeps nothing (the caller retries; stats().pending_publishes
  /// and wait_for show when there is room again).
  publish_result publish(std::string channel, std::string json_data);

  /// Sends `bye` if connected (the session ends without a resume window) and
  /// stops. Returns at once; `closed` is reported when done. Idempotent.
  void close();

  client_stats stats() const;

  /// Blocks until `pred(stats())` holds or `timeout` passes; returns whether
  /// it held. `pred` runs under the stats lock: keep it trivial. Never call
  /// this from a callback (the stats cannot change while a callback runs).
  bool wait_for(const std::function<bool(const client_stats&)>& pred, duration timeout) const;

 private:
  std::shared_ptr<detail::client_shared> shared_;
  std::shared_ptr<detail::client_io> io_;
  std::unique_ptr<caf::actor> actor_;  // the client actor (a pointer keeps caf/actor.hpp out)
  duration close_timeout_;
};

}  // namespace wsvisor
