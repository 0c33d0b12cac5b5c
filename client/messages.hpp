#pragma once

/// The client's internal message interface: atoms exchanged between the
/// `client` facade, the client actor, its link actors and their sockets.
/// Nothing here crosses the network; every payload is a built-in type, so
/// nothing needs registering. Kept apart from actors/messages.hpp because the
/// client is a library of its own (style.md wants one place per library).
/// Atoms are at most 10 characters from [0-9A-Za-z_] and all start "cl_" (the C++ names
/// client_...).

#include <caf/atom.hpp>

namespace wsvisor::detail {

// -- client actor <- client facade (any thread) -------------------------------

/// (client_subscribe_atom, std::string channel, bool presence): the caller wants this channel
/// (as a member: presence).
using client_subscribe_atom = caf::atom_constant<caf::atom("cl_sub")>;

/// (client_ask_presence_atom, std::string channel): the caller asks who is a member.
using client_ask_presence_atom = caf::atom_constant<caf::atom("cl_askpres")>;

/// (client_unsubscribe_atom, std::string channel): the caller no longer wants it.
using client_unsubscribe_atom = caf::atom_constant<caf::atom("cl_unsub")>;

/// (client_publish_atom, std::string channel, std::string json_data): one publish,
/// already counted against max_pending_publishes by the facade.
using client_publish_atom = caf::atom_constant<caf::atom("cl_pub")>;

/// (client_close_atom): say bye and stop for good.
using client_close_atom = caf::atom_constant<caf::atom("cl_close")>;

// -- client actor <- link actor and its socket --------------------------------

/// (client_link_up_atom, caf::actor link): a new link incarnation asks where to connect.
using client_link_up_atom = caf::atom_constant<caf::atom("cl_link_up")>;

/// (client_open_atom, std::uint64_t link_id): the link's WebSocket is open.
using client_open_atom = caf::atom_constant<caf::atom("cl_open")>;

/// (client_frame_atom, std::uint64_t link_id, std::string text): one text frame arrived.
using client_frame_atom = caf::atom_constant<caf::atom("cl_frame")>;

// -- client actor timers (generation-stamped; stale ones are ignored) ---------

/// (client_ack_timeout_atom, std::uint64_t generation): ack_interval has passed.
using client_ack_timeout_atom = caf::atom_constant<caf::atom("cl_ack_tmo")>;

/// (client_silence_atom, std::uint64_t generation): time to check for silence.
using client_silence_atom = caf::atom_constant<caf::atom("cl_silence")>;

// -- link actor <- client actor -----------------------------------------------

/// (client_connect_atom, std::string url, std::uint64_t delay_ms): connect to
/// `url` after `delay_ms` (non-zero after a goaway).
using client_connect_atom = caf::atom_constant<caf::atom("cl_connect")>;

/// (client_send_atom, std::string text): write one text frame.
using client_send_atom = caf::atom_constant<caf::atom("cl_send")>;

// -- link actor <- itself and its socket --------------------------------------

/// (client_dial_atom, std::string url): a goaway delay has passed; connect now.
using client_dial_atom = caf::atom_constant<caf::atom("cl_dial")>;

/// (client_closed_atom, std::uint8_t client_errc, std::string detail): the socket is gone.
using client_closed_atom = caf::atom_constant<caf::atom("cl_closed")>;

/// (client_close_timeout_atom): a graceful close took too long; quit anyway.
using client_close_timeout_atom = caf::atom_constant<caf::atom("cl_close_t")>;

}  // namespace wsvisor::detail
