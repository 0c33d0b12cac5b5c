#pragma once

/// One logical session (docs/protocol.md): it outlives the WebSocket
/// connections that carry it.
///
/// The session owns the seq counter (1, 2, 3, … across connections), the
/// replay buffer, its subscriptions (kept across resumes) and the highest
/// accepted cseq (exactly-once publishes). It writes its outbound frames
/// straight to the transport of the connection it is attached to, and acts
/// only on frames that connection forwards: frames, timers and the down_msg of
/// any earlier connection are ignored.
///
/// Lifecycle: attached to the connection it was spawned with. When that
/// connection ends (down_msg) it detaches. A session with a registry then
/// *parks* as soon as it is idle (no answer, subscription, adoption or
/// handover pending): the broker moves its channels to the registry
/// (park_atom), the session sends the registry its state as a record
/// (actors/session/parked_session.hpp) and ends normally; the registry spawns it again
/// (`restoring`) on resume, on a lookup from another node or for a handover.
/// A session that cannot park yet arms the resume window, a deadline checked
/// by one pending delayed message at most (a detach while one is pending
/// moves the deadline), keeps buffering and parks once idle. A resume attaches
/// a new connection (an attached one is told to close with 4409). It ends
/// - with `errc::session_expired` when the resume window runs out (while it
///   is an actor; a parked record expires in the registry);
/// - normally on `bye`, after closing the transport with 1000;
/// - normally once parked;
/// - with its parent (the registry links to it).
///
/// Message interface (atoms in actors/messages.hpp):
/// - from its current connection: (subscribe_atom, channel), (unsubscribe_atom,
///   channel), (local_publish_atom, channel, body, cseq) or, from a connection on another
///   node, (publish_atom, channel, bytes, cseq), (client_ack_atom, seq), (bye_atom);
/// - from the registry: (welcomed_atom) -> caf::actor, this session: answered
///   after the first welcome was written; (attach_atom, caf::actor connection, transport_ptr,
///   token, last_seq) -> ok_atom | errc::resume_unknown | errc::resume_overflow. On ok the welcome
///   and the replay have been written to the new transport;
/// - from the broker: (deliver_atom, channel, body);
/// - from itself: (expire_atom): at most one pending; the resume window is a
///   deadline it checks (a later detach moves it).
/// - parking: (broker_park_atom, ...) -> ok_atom to the broker, then (parked_atom, id,
///   parked_session) to the registry. While it waits for the broker, a resume,
///   remote_attach, handover or session_end is refused with errc::session_parked (the
///   registry asks the record's next actor instead).
/// - restoring (spawned with `restoring`): (restore_atom, parked_session,
///   token) from the registry first; deliveries before it are held and
///   appended after the record, anything else waits in the mailbox. Then
///   (park_atom) from the registry, behind what it unparked the session for:
///   park again unless a connection attached since the restore.
/// - from the registry, for the admin API: (session_info_atom) -> session_info; (session_end_atom)
/// ->
///   ok_atom: ends at once, an attached client closed with 4410; (session_cut_atom)
///   -> ok_atom | errc::not_attached: its connection is closed with 4411 and
///   the session detaches as after any lost connection.
/// - during a drain, from the registry: (handover_atom, target_cluster, url,
///   retry_ms) -> ok_atom: the session is re-created on the target
///   (adopt_session_atom), forwards what it gets meanwhile (handoff_delivery_atom) and its
///   client's subscription changes (handoff_subscription_atom, confirmed), waits
///   for a broker barrier (local_barrier_atom) so nothing published before the
///   successor's subscriptions took effect is missing, says
///   handoff_done_atom, sends its client `goaway` with `url` and ends.

#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "actors/transport.hpp"
#include "config/config.hpp"
#include "metrics/node_metrics.hpp"

namespace wsvisor {

struct session_args {
  std::string id;
  std::string token;
  session_config config;  // resume window, replay bounds, heartbeat (announced in welcome)
  caf::actor broker;
  caf::actor connection;    // attached at start
  transport_ptr transport;  // the connection's transport
  /// Why this session was started instead of a resume: "unknown", "expired",
  /// "overflow", or empty for a hello. Sent in the welcome.
  std::string reason;
  /// Set for a session taken over from a draining node (adopt_session_atom): it
  /// starts detached with this state, resubscribes its channels here, and
  /// takes the predecessor's later deliveries (handoff_delivery_atom) until told
  /// handoff_done_atom or the predecessor ends. `connection` and
  /// `transport` are null then.
  std::optional<session_handover> adopted;
  caf::actor predecessor;        // the handed-over session (adopted only)
  duration peer_timeout{5'000};  // bound on requests to another node
  client_identity identity;      // [auth]: who; which channels (an adopted one: the handover's)
  std::uint64_t max_subscriptions = 0;  // limits.subscriptions_per_session; 0 = no limit
  node_metrics_ptr metrics;             // the node's (docs/metrics.md); null: none
  /// The registry that spawned it: a detached, idle session parks there
  /// (becomes a record and ends). Null: it stays an actor until it expires.
  caf::actor registry;
  /// Spawned for a parked record (the registry's unpark): no connection, no
  /// welcome; it holds deliveries until the record comes (restore_atom).
  bool restoring = false;
};

/// Spawns a session attached to `args.connection`; it sends the welcome first
/// thing. The caller (the registry) links and monitors it.
caf::actor spawn_session(caf::actor_system& sys, session_args args);

}  // namespace wsvisor
