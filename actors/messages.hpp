#pragma once

/// The messages and names every actor domain shares (docs/architecture.md,
/// "Layout"): what a socket tells its connection actor, what a session tells
/// its connection wherever either lives (actors/transport.hpp,
/// actors/remote_transport.hpp), the names in CAF's actor registry and the
/// shared message body. Each domain declares its own interface beside its
/// actors: actors/supervision/messages.hpp, actors/session/messages.hpp (and
/// session/cluster_seam.hpp), actors/upstream/messages.hpp,
/// actors/cluster/messages.hpp.
///
/// Atoms are at most 10 characters from [0-9A-Za-z_]: CAF 0.17 maps other
/// characters onto the same codes, and two atoms that collide are
/// indistinguishable. Types that may cross the network have an `inspect`
/// overload and are registered by the add_*_message_types function of the
/// header that declares them; a type that must stay in-process is marked
/// with CAF_ALLOW_UNSAFE_MESSAGE_TYPE and says so.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/errors.hpp"

namespace wsvisor {

/// Registers the `errc` error category on `cfg` (every domain's
/// add_*_message_types calls it). Call once per actor_system_config, before
/// constructing the actor_system.
void add_core_message_types(caf::actor_system_config& cfg);

/// One encoded payload shared by every recipient (never copied per recipient).
using shared_body = std::shared_ptr<const std::string>;

// -- connection (actors/session/connection.hpp) <- its socket (net/ws_session) -------
//
// The socket side tells the connection actor what arrived; the actor answers
// through its `transport` (actors/transport.hpp). The actor's life is the
// socket's: it quits when told the socket closed, and the socket is closed
// when the actor quits.

/// (ws_text_atom, std::string payload): one complete text frame arrived.
using ws_text_atom = caf::atom_constant<caf::atom("ws_text")>;

/// (ws_binary_atom, std::string payload): one complete binary frame arrived
/// (a wsvisor.v1.msgpack frame; on wsvisor.v1 answered with an error).
using ws_binary_atom = caf::atom_constant<caf::atom("ws_binary")>;

/// (ws_closed_atom, std::uint16_t code, std::string why): the socket is gone (close
/// frame received, reset, timeout, slow reader). `code` is the close code
/// received or sent, 1006 when there was none.
using ws_closed_atom = caf::atom_constant<caf::atom("ws_closed")>;

// -- connection (actors/session/connection.hpp) <- its session, <- itself -----------

/// (drop_connection_atom, std::uint16_t code, std::string reason): close the socket with `code`
/// and quit (4409 when the session was resumed on another connection).
using drop_connection_atom = caf::atom_constant<caf::atom("c_drop")>;

// -- connection <-> a session on another node ---------------------------------

/// (connection_write_atom, std::string frame): a remote session -> its connection: write this
/// frame.
using connection_write_atom = caf::atom_constant<caf::atom("c_out")>;

/// (connection_credit_atom, std::uint64_t bytes): connection -> its remote session: that many bytes
/// of connection_write_atom frames have left the connection's queue (flow control).
using connection_credit_atom = caf::atom_constant<caf::atom("c_credit")>;

// -- names in CAF's actor registry (sys.registry()) --------------------------

/// The running session registry; connections look it up on every hello/resume,
/// so a restarted registry is found. Put and erased by the registry itself.
inline constexpr caf::atom_value session_registry_name = caf::atom("wsv_reg");

/// The broker of the running session registry. Put and erased by the registry.
inline constexpr caf::atom_value broker_name = caf::atom("wsv_broker");

/// The running `upstreams` actor. Put and erased by it.
inline constexpr caf::atom_value upstreams_name = caf::atom("wsv_ups");

/// The running cluster actor (cluster nodes only). Put and erased by it.
inline constexpr caf::atom_value cluster_name = caf::atom("wsv_clu");

/// The node's replica store (cluster nodes with `[cluster] replicas = 1`). Put and erased by it.
inline constexpr caf::atom_value replica_store_name = caf::atom("wsv_repl");

/// The node's admin responder (app/admin.hpp), which answers a peer's cluster_admin_atom with this
/// node's own admin answer. Put by the node.
inline constexpr caf::atom_value admin_name = caf::atom("wsv_admin");

}  // namespace wsvisor

// A shared body lives in this process's memory: sessions and the broker of one
// node pass the pointer, never the bytes. Cluster fan-out sends strings.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::shared_body)
