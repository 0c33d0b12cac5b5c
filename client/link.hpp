#pragma once

/// The link actor: one incarnation per connection attempt, the child of the
/// client's supervisor. Internal to the client.
///
/// Life: on start it announces itself to the client actor with
/// (client_link_up_atom, self); the client answers (client_connect_atom, url,
/// delay_ms); the link then opens a ws_link on the client's I/O thread. It
/// dies with its socket, and its exit reason (a client_errc error) says why,
/// so the supervisor respawns a new link after the policy's delay.
///
/// It traps exit messages: user_shutdown (an ordered shutdown of the
/// supervisor, after close()) closes gracefully, writing what is queued (the
/// `bye`) and the close handshake, bounded by close_timeout; any other
/// reason (the client giving up on this connection) ends it at once with
/// that reason. (client_send_atom, text) writes a frame.

#include <cstdint>
#include <memory>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "config/config.hpp"

namespace wsvisor::detail {

class client_io;

struct link_options {
  caf::actor client;                 // the client actor
  std::shared_ptr<client_io> io;     // runs the socket
  duration connect_timeout{10'000};  // per attempt: connect and upgrade
  duration close_timeout{2000};      // graceful close bound
  std::string ca_file;               // wss://: extra trusted CAs (PEM); empty: the system's only
  std::size_t max_queued_bytes = 16u << 20;
  std::size_t max_frame_bytes = 16u << 20;
};

/// Spawns one link incarnation. Safe to call from the supervisor's factory.
caf::actor spawn_link(caf::actor_system& sys, link_options opts);

}  // namespace wsvisor::detail
