#pragma once

/// The interface of the `upstreams` actor and its links
/// (actors/upstream/upstreams.hpp, actors/upstream/upstream_link.hpp). The
/// broker's side of an owned channel (owner_publish_atom, owned_channels_atom) is in
/// actors/session/messages.hpp.
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

#include "actors/messages.hpp"
#include "config/config.hpp"

namespace wsvisor {

/// Registers the types below (and the session server's and core's) on `cfg`.
void add_upstream_message_types(caf::actor_system_config& cfg);

// -- upstream links (actors/upstream/upstreams.hpp) -----------------------------------
//
// The `upstreams` actor owns every upstream's channel, buffer and state, and
// supervises the link actors (actors/upstream/upstream_link.hpp), one per upstream,
// each living exactly as long as its socket.

/// (upstream_open_atom, std::string name, caf::actor link, std::string subprotocol): link ->
/// upstreams, the link's socket is open; buffered forwards may go.
using upstream_open_atom = caf::atom_constant<caf::atom("u_open")>;

/// (upstream_send_atom, std::uint64_t id, std::string text): upstreams -> link, one forward.
using upstream_send_atom = caf::atom_constant<caf::atom("u_send")>;

/// (upstream_written_atom, std::string name, std::uint64_t id): the socket -> upstreams, the
/// forward `id` (and every one before it) is written; it leaves the buffer.
using upstream_written_atom = caf::atom_constant<caf::atom("u_written")>;

/// (upstream_text_atom, std::string text): the socket -> its link actor, one text frame.
using upstream_text_atom = caf::atom_constant<caf::atom("u_text")>;

/// (upstream_socket_open_atom, std::string subprotocol): the socket -> its link actor, upgraded.
using upstream_socket_open_atom = caf::atom_constant<caf::atom("u_sockopen")>;

/// (upstream_closed_atom, std::string how): the socket -> its link actor, it ended (describe()).
using upstream_closed_atom = caf::atom_constant<caf::atom("u_closed")>;

/// (upstream_close_timeout_atom): a link's graceful close took too long; it quits anyway.
using upstream_close_timeout_atom = caf::atom_constant<caf::atom("u_close_t")>;

/// (add_upstream_atom, upstream_config) -> ok_atom | errc::{invalid_upstream, duplicate_child}:
/// start one more upstream link; the others are not touched.
using add_upstream_atom = caf::atom_constant<caf::atom("u_add")>;

/// (remove_upstream_atom, std::string name) -> ok_atom once its link is stopped |
/// errc::unknown_child. Its channel is no longer owned; its buffer is dropped (logged).
using remove_upstream_atom = caf::atom_constant<caf::atom("u_remove")>;

/// (update_upstream_atom, upstream_config) -> ok_atom | error: replace the upstream of that
/// name (its link restarts with the new config; its buffer is kept).
using update_upstream_atom = caf::atom_constant<caf::atom("u_update")>;

/// (upstream_status_atom) -> std::vector<upstream_status>: every upstream's state, in config order.
using upstream_status_atom = caf::atom_constant<caf::atom("u_status")>;

/// One upstream as reported by upstream_status_atom and on `sys.upstream.NAME`.
struct upstream_status {
  std::string name;
  std::string channel;
  std::string url;
  std::string state;           // connecting | up | down | given_up | stopped
  std::string reason;          // down, given_up, stopped: why the link ended
  std::uint64_t buffered = 0;  // forwards held (waiting, or written but not confirmed)
  std::uint64_t dropped = 0;   // forwards dropped because the buffer was full (total)
  std::uint32_t restarts = 0;  // links started after the first one
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upstream_status& x) {
  return f(caf::meta::type_name("upstream_status"), x.name, x.channel, x.url, x.state, x.reason,
           x.buffered, x.dropped, x.restarts);
}

}  // namespace wsvisor

// Runtime changes of upstreams come from this node's own configuration.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::upstream_config)
