#pragma once

/// An upstream link: the actor that holds one outbound WebSocket to one
/// `[[upstream]]` and lives exactly as long as that socket. The upstreams
/// actor's supervisor spawns it and, when it ends, spawns a new one after the
/// policy's delay; everything that must survive a reconnect (the buffer of
/// forwards, the state) lives in the upstreams actor (actors/upstream/upstreams.hpp).
///
/// At spawn it dials. Then:
/// - upgraded: tells the upstreams actor (upstream_open_atom, name, itself,
///   subprotocol), which starts sending it forwards;
/// - each text frame received: published on the upstream's channel through
///   the broker (fanout_atom), `data` being the frame when it is one JSON
///   value and the frame as a string otherwise (proto::upstream_data);
/// - (upstream_send_atom, id, text): written to the socket; when the write
///   completes the socket tells the upstreams actor (upstream_written_atom, name, id);
/// - the socket ends (close, error, connect or heartbeat timeout, refused or
///   unresolvable host, HTTP error instead of an upgrade): the link quits with
///   errc::upstream_failed, its context saying how (describe(outbound_result)).
/// An exit signal user_shutdown closes the socket with 1000 first (bounded by
/// `close_timeout`); any other exit reason, or the actor's end, aborts it.

#include <cstdint>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/outbound.hpp"
#include "config/config.hpp"
#include "metrics/node_metrics.hpp"

namespace wsvisor {

struct upstream_link_args {
  upstream_config config;
  caf::actor upstreams;                   // receives upstream_open_atom and upstream_written_atom
  outbound_dialer dial;                   // opens the socket
  std::uint64_t max_frame_bytes = 65536;  // larger frames from the upstream end the link
  duration close_timeout{1000};           // bound on the closing handshake at shutdown
  node_metrics_ptr metrics;               // counts frames received; null: none
};

/// Builds the socket options of an upstream from its config.
outbound_options upstream_socket_options(const upstream_config& u, std::uint64_t max_frame_bytes);

caf::actor spawn_upstream_link(caf::actor_system& sys, upstream_link_args args);

}  // namespace wsvisor
