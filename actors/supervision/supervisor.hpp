#pragma once

/// One reusable supervisor actor (Erlang/OTP semantics on CAF 0.17).
///
/// A supervisor starts its children in order, monitors them (never links),
/// and on a child's exit decides by the child's restart kind whether to
/// restart it; the strategy decides which siblings restart with it; the
/// child's named policy gives the backoff delay, reset_after and restart
/// intensity. Restarts happen after the delay through a generation-stamped
/// delayed message. Exceeding the intensity gives the child up: `escalate`
/// stops the supervisor with `errc::supervisor_gave_up` (its parent decides),
/// `stop` leaves the child down. docs/supervision.md describes it in full.
///
/// Message interface (atoms and types in actors/messages.hpp):
/// - (add_child_atom, child_spec) -> ok_atom | errc::{invalid_child_spec,
///   duplicate_child, unknown_policy, child_start_failed, shutting_down}
/// - (remove_child_atom, name) -> ok_atom once stopped | errc::unknown_child
/// - (set_policies_atom, policy_map) -> ok_atom: new policy values (a reload)
/// - (get_tree_atom) -> supervision_tree
/// - (get_child_atom, name) -> caf::actor | errc::{unknown_child, child_not_running}
/// - (shutdown_atom) -> ok_atom once every child has stopped, in reverse start
///   order; the supervisor then quits with exit_reason::normal.
/// - exit_msg with a non-normal reason (e.g. anon_send_exit(sup,
///   exit_reason::user_shutdown)): the same ordered shutdown, then it quits
///   with that reason. exit_reason::kill cannot be trapped: the supervisor
///   dies at once and its destructor sends user_shutdown to children still
///   alive, so none is orphaned.
/// Stopping a child means exit_msg(user_shutdown), then exit_reason::kill if it
/// is not down within shutdown_timeout, then giving up on it (logged) after one
/// more shutdown_timeout.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/supervision/messages.hpp"
#include "config/config.hpp"

namespace wsvisor {

/// What a supervisor counts, for whoever measures the node (docs/metrics.md:
/// wsvisor_supervisor_restarts_total, wsvisor_supervisor_give_ups_total). The
/// supervisor knows nothing of the node's metrics;
/// actors/supervision/node_counters.hpp makes one from them. Called on the
/// supervisor's thread: must not block.
class supervisor_counters {
 public:
  virtual ~supervisor_counters() = default;
  virtual void restarted(const std::string& supervisor, const std::string& child,
                         const std::string& policy) = 0;
  virtual void given_up(const std::string& supervisor, const std::string& child,
                        const std::string& policy) = 0;
};

using supervisor_counters_ptr = std::shared_ptr<supervisor_counters>;

/// How to run one child.
struct child_spec {
  std::string name;  // unique within its supervisor
  /// Spawns one incarnation of the child; called on the supervisor's thread,
  /// so it must not block. Throwing or returning an invalid handle counts as a
  /// failed incarnation.
  std::function<caf::actor(caf::actor_system&)> factory;
  restart_kind restart = restart_kind::permanent;
  std::string policy;  // a key of supervisor_options::policies
  /// The child answers get_tree_atom with a supervision_tree of its own (a
  /// nested supervisor, or an actor that delegates to one): the admin API
  /// shows that tree under it.
  bool supervisor = false;
};

struct supervisor_options {
  std::string name;  // for logs, events and the tree
  strategy_kind strategy = strategy_kind::one_for_one;
  std::map<std::string, wsvisor::policy> policies;  // named policies children refer to
  std::vector<child_spec> children;                 // started in order at spawn
  caf::actor observer;                              // optional: receives supervisor_event
  std::uint64_t seed = 0;                           // 0 = random; tests pass a fixed one
  duration shutdown_timeout{5000};                  // bounded wait per child when stopping it
  supervisor_counters_ptr counters;  // counts restarts and give-ups; null: not counted
};

/// Spawns a supervisor and starts `opts.children` in order. A child whose
/// spec is invalid (see add_child_atom) makes the supervisor quit at once
/// with that error: a parent monitoring it sees the reason. A child whose
/// factory fails at spawn is treated like a child that exited at once.
caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_options opts);

}  // namespace wsvisor
