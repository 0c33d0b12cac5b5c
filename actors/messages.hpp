#pragma once

/// Every atom and message type of wsvisor's actors, in one place, grouped by
/// the actor that handles them (style.md). Add a new actor's interface as a
/// new section below and its registrations to `add_message_types`.
///
/// Atoms are at most 10 characters from [0-9A-Za-z_]: CAF 0.17 maps other
/// characters onto the same codes, and two atoms that collide are
/// indistinguishable. Types that may cross the network have an `inspect`
/// overload and are registered by `add_message_types`; a type that must stay
/// in-process is marked with CAF_ALLOW_UNSAFE_MESSAGE_TYPE and says so.

#include <chrono>
#include <cstdint>
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
#include "config/config.hpp"

namespace wsvisor {

/// Registers every type below that needs registering, and the `errc` error
/// category, on `cfg`. Call once per actor_system_config, on every node,
/// before constructing the actor_system.
void add_message_types(caf::actor_system_config& cfg);

// -- supervisor (actors/supervisor.hpp) ---------------------------------------
//
// Requests (each gets a reply or an error):

/// (add_child_atom, child_spec) -> ok_atom | error: start and supervise one more child.
using add_child_atom = caf::atom_constant<caf::atom("add_child")>;

/// (remove_child_atom, std::string name) -> ok_atom | error: stop the child, then forget it.
using remove_child_atom = caf::atom_constant<caf::atom("rm_child")>;

/// (get_tree_atom) -> supervision_tree: a snapshot of the supervisor and its children.
using get_tree_atom = caf::atom_constant<caf::atom("get_tree")>;

/// (get_child_atom, std::string name) -> caf::actor | error: the child's running incarnation.
using get_child_atom = caf::atom_constant<caf::atom("get_child")>;

/// (shutdown_atom) -> ok_atom when all children stopped (reverse order); then it quits normally.
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;

// Timers and notes a supervisor sends itself (generation-stamped; stale ones are ignored):

/// (respawn_atom, std::string name, std::uint64_t generation): a restart delay has elapsed.
using respawn_atom = caf::atom_constant<caf::atom("respawn")>;

/// (stop_timeout_atom, std::string name, std::uint64_t generation): a stop wait has elapsed.
using stop_timeout_atom = caf::atom_constant<caf::atom("stop_tmo")>;

/// (start_failed_atom, std::string name, std::uint64_t generation, std::string why): spawn failed.
using start_failed_atom = caf::atom_constant<caf::atom("start_fail")>;

/// What a supervisor reports about one child.
enum class child_state : std::uint8_t {
  running,     // an incarnation is alive
  restarting,  // between incarnations: a restart is scheduled or its group is being stopped
  stopped,     // not running and not coming back on its own (exited normally, temporary, removed)
  given_up,    // exceeded its restart intensity under on_give_up = stop
};

std::string to_string(child_state x);

/// One child in a `supervision_tree`.
struct child_info {
  std::string name;
  child_state state = child_state::stopped;
  std::optional<std::chrono::system_clock::time_point> restart_at;  // set while a restart is armed
  std::uint32_t restarts = 0;    // incarnations started after the first one
  std::string last_exit_reason;  // rendered; empty before the first exit
  std::string policy;            // key of the supervisor's policies
  restart_kind restart = restart_kind::permanent;
  caf::actor_addr actor;  // the running incarnation; invalid otherwise
};

// CAF 0.17 cannot inspect std::optional, so `restart_at` travels as a flag
// and a time point that a load callback folds back into the optional.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  bool has_restart_at = x.restart_at.has_value();
  auto restart_at = x.restart_at.value_or(std::chrono::system_clock::time_point{});
  auto restart_kind_code = static_cast<std::uint8_t>(x.restart);
  auto fold = caf::meta::load_callback([&]() -> caf::error {
    x.restart_at = has_restart_at ? std::optional{restart_at} : std::nullopt;
    x.restart = static_cast<restart_kind>(restart_kind_code);
    return caf::none;
  });
  return f(caf::meta::type_name("child_info"), x.name, x.state, has_restart_at, restart_at,
           x.restarts, x.last_exit_reason, x.policy, restart_kind_code, x.actor, fold);
}

/// A supervisor and its children in start order (reply to get_tree_atom).
/// A nested supervisor appears as one child; ask it for its own tree.
struct supervision_tree {
  std::string name;
  std::vector<child_info> children;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervision_tree& x) {
  return f(caf::meta::type_name("supervision_tree"), x.name, x.children);
}

/// Kinds of `supervisor_event`.
enum class supervisor_event_kind : std::uint8_t {
  started,            // a child's first incarnation is running (at spawn or add_child)
  exited,             // an incarnation ended on its own (not asked to stop)
  restart_scheduled,  // a restart timer is armed: attempt, delay, reason, generation are set
  restarted,          // a new incarnation is running
  given_up,           // restart intensity exceeded: the child stays down
  stopped,            // an incarnation the supervisor asked to stop has ended, or the child
                      // ended for good (transient after a normal exit, temporary)
};

std::string to_string(supervisor_event_kind x);

/// Sent to `supervisor_options::observer` as things happen, in order.
struct supervisor_event {
  supervisor_event_kind kind = supervisor_event_kind::started;
  std::string supervisor;  // supervisor_options::name
  std::string child;
  std::uint32_t attempt = 0;     // restart_scheduled: consecutive restarts since the last reset
  duration delay{0};             // restart_scheduled: the backoff delay
  std::string reason;            // exited, restart_scheduled, given_up, stopped: rendered
  std::uint64_t generation = 0;  // restart_scheduled: the timer's generation stamp
  caf::actor_addr actor;         // started, restarted, exited, stopped: the incarnation
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_event& x) {
  return f(caf::meta::type_name("supervisor_event"), x.kind, x.supervisor, x.child, x.attempt,
           x.delay, x.reason, x.generation, x.actor);
}

/// Declared in actors/supervisor.hpp. Holds a std::function, so it can only be
/// sent within one process.
struct child_spec;

}  // namespace wsvisor

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::child_spec)
