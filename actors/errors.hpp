#pragma once

/// Error codes of wsvisor's actors as a CAF 0.17 error category: an error is
/// {code, category atom "wsvisor", optional context message}. Actors reply or
/// exit with these; `actor_system::render` prints them as
/// "wsvisor: supervisor_gave_up (context)" once `add_error_category` (called
/// by every `add_*_message_types`) has run on the system's config. CAF's free
/// `caf::to_string(const caf::error&)` cannot be taught a category in 0.17 and
/// prints "error(1, 'wsvisor', ...)"; use `sys.render(err)` or `describe`.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace wsvisor {

/// The category atom of every `errc` error.
inline constexpr caf::atom_value error_category = caf::atom("wsvisor");

/// Codes start at 1: CAF reserves 0 for "no error".
enum class errc : std::uint8_t {
  supervisor_gave_up = 1,  // a child exceeded its restart intensity; context: the child's name
  duplicate_child,         // add_child: a child of that name exists
  unknown_policy,          // a child spec names a policy the supervisor was not given
  unknown_child,           // no child of that name
  invalid_child_spec,      // empty name or no factory
  child_start_failed,      // the factory threw or returned an invalid handle; context: why
  shutting_down,           // the supervisor is stopping and takes no new children
  child_not_running,       // get_child: the child exists but has no incarnation now
  session_expired,         // a session's resume window ran out: its exit reason
  resume_unknown,          // resume refused: wrong token, or last_seq above the session's seq
  resume_overflow,         // resume refused: a message the client lacks was evicted
  upstream_down,           // a publish on the channel of an upstream link that is given up
  upstream_failed,         // an upstream link's socket ended; context: how (outbound_result)
  invalid_upstream,        // add/update of an upstream: bad config; context: which field
  peer_failed,             // a cluster peer link ended; context: how (connect failed, peer lost)
  duplicate_node,          // a cluster join from a node with this node's own name
  server_full,             // no new session: limits.sessions reached; context: the limit
  auth_required,           // no new session without a verified identity ([auth] is on)
  too_many_channels,       // broker: a new channel over limits.channels; context: the limit
  unknown_session,         // admin API: no session of that id on this node; context: the id
  not_attached,            // admin API: disconnect of a detached session; context: the id
  session_parked,          // the session is (being) parked: ask its registry again; context: the id
  session_unreachable,     // a resume's session on another node did not answer; context: the id
  session_moved,           // a replica's store no longer holds this copy: another node adopted it
  too_many_members,        // broker: a presence member over limits.presence_members; context: it
};

// make_error must be declared right after the enum, before anything compares
// an errc with ==: CAF's has_make_error<errc> trait is instantiated once, and
// an instantiation that could not see make_error yet silently disables
// `caf::error e = errc::x` and `err == errc::x` for the whole program.

/// The error for `code`, without context.
caf::error make_error(errc code);

/// The error for `code` with a context string (shown by `render`).
caf::error make_error(errc code, std::string context);

/// The enumerator's name, e.g. "supervisor_gave_up".
std::string to_string(errc code);

/// Lets `sys.render(err)` print wsvisor errors by name.
void add_error_category(caf::actor_system_config& cfg);

/// The context string of an error made by make_error(code, context); empty
/// when it has none.
std::string context_of(const caf::error& err);

/// A readable one-line description of any error, via the system's renderers:
/// "normal" for no error (CAF's exit_reason::normal), otherwise what
/// `sys.render(err)` prints.
std::string describe(const caf::actor_system& sys, const caf::error& err);

}  // namespace wsvisor
