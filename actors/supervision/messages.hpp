#pragma once

/// The supervisor's interface (actors/supervision/supervisor.hpp): its
/// requests, the timers it sends itself, and what it reports. Depends on
/// nothing of the session server.
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

/// Registers the types below (and the core's) on `cfg`.
void add_supervision_message_types(caf::actor_system_config& cfg);

// -- supervisor (actors/supervision/supervisor.hpp) ---------------------------------------
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

/// (set_policies_atom, policy_map) -> ok_atom: a reload's policy values. Children whose
/// policy changed restart under the new values from their next restart on; children added
/// later are checked against the new names. Also understood by the upstreams actor, which
/// passes it on to its links' supervisor.
using set_policies_atom = caf::atom_constant<caf::atom("set_pols")>;

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
  caf::actor_addr actor;           // the running incarnation; invalid otherwise
  std::uint32_t max_restarts = 0;  // the policy's intensity: restarts within restart_window
  duration restart_window{0};      // (0 restarts: unlimited)
  bool supervisor = false;         // child_spec::supervisor: it answers get_tree_atom itself
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
           x.restarts, x.last_exit_reason, x.policy, restart_kind_code, x.actor, x.max_restarts,
           x.restart_window, x.supervisor, fold);
}

/// A supervisor and its children in start order (reply to get_tree_atom).
/// A nested supervisor appears as one child; ask it for its own tree.
struct supervision_tree {
  std::string name;
  strategy_kind strategy = strategy_kind::one_for_one;
  std::vector<child_info> children;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervision_tree& x) {
  auto strategy_code = static_cast<std::uint8_t>(x.strategy);
  auto fold = caf::meta::load_callback([&]() -> caf::error {
    x.strategy = static_cast<strategy_kind>(strategy_code);
    return caf::none;
  });
  return f(caf::meta::type_name("supervision_tree"), x.name, strategy_code, x.children, fold);
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

/// Named supervision policies, as in `config::policies`.
using policy_map = std::map<std::string, policy>;

/// Declared in actors/supervision/supervisor.hpp. Holds a std::function, so it can only be
/// sent within one process.
struct child_spec;

}  // namespace wsvisor

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::child_spec)
// A reload's policies come from this node's own configuration file.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wsvisor::policy_map)
