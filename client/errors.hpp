#pragma once

/// Why a client link (one WebSocket connection attempt) ended, as a CAF 0.17
/// error category: {code, category atom "wsclient", context string}. A link
/// actor exits with one of these; the client reports it to the caller as the
/// `why` of a `disconnected` state change, and the supervisor logs it.
///
/// `add_client_types(cfg)` registers everything the client needs on an
/// actor_system_config (wsvisor's message types and this category); call it
/// once per config before constructing the actor_system.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace wsvisor {

/// The category atom of every `client_errc` error.
inline constexpr caf::atom_value client_error_category = caf::atom("wsclient");

/// Codes start at 1: CAF reserves 0 for "no error".
enum class client_errc : std::uint8_t {
  connect_failed = 1,  // resolve or TCP connect failed or timed out; context: why
  handshake_failed,    // the WebSocket upgrade failed or did not select wsvisor.v1
  connection_lost,     // the socket failed without a close frame (reset, EOF, write error)
  closed_by_server,    // a close frame arrived; context: code and reason
  heartbeat_timeout,   // no frame for heartbeat_ms + grace, or no welcome in connect_timeout
  goaway,              // the server sent goaway; context: its reason
  protocol_violation,  // the server broke wsvisor.v1 (seq gap, unexpected welcome)
  server_error,        // an error frame that leaves the session out of step (bad_cseq, ...)
  write_overflow,      // the outbound queue passed its byte bound
  closed_by_client,    // close() ended the connection
};

// Declared right after the enum, before any comparison of a client_errc, for
// the same reason as in actors/errors.hpp (CAF's has_make_error trait).

/// The error for `code` with a context string.
caf::error make_error(client_errc code, std::string context = {});

/// The enumerator's name, e.g. "heartbeat_timeout".
std::string to_string(client_errc code);

/// Registers wsvisor's message types (`add_supervision_message_types`) and the
/// "wsclient" error category on `cfg`.
void add_client_types(caf::actor_system_config& cfg);

/// One line for any exit reason: "heartbeat_timeout: no frame for 1200 ms"
/// for client errors (whether or not the category is registered), otherwise
/// what `sys.render` prints ("normal" for no error).
std::string describe_link_exit(const caf::actor_system& sys, const caf::error& reason);

}  // namespace wsvisor
