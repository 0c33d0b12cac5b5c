#pragma once

/// Internal to the supervisor (actors/supervision/supervisor.cpp): the state of one
/// supervisor actor and the child lifecycle it drives. Everything here runs on
/// the supervisor's own thread of execution; nothing is shared.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/supervision/backoff.hpp"
#include "actors/supervision/messages.hpp"
#include "actors/supervision/supervisor.hpp"
#include "log/throttle.hpp"

namespace wsvisor::detail {

class supervisor_state;
using supervisor_actor = caf::stateful_actor<supervisor_state>;

/// How far the bounded wait for a stopping child has got.
enum class stop_phase : std::uint8_t { none, asked, killed };

/// One supervised child: its spec and everything between its incarnations.
struct child_entry {
  child_entry(child_spec s, const policy& p, std::uint64_t seed);

  child_spec spec;
  policy pol;
  backoff delays;
  restart_intensity intensity;
  caf::actor actor;  // current incarnation, if any
  child_state state = child_state::stopped;
  /// Stamp of the one timer that may act on this child (restart, stop wait or
  /// failed start); bumped from the supervisor-wide counter whenever that timer
  /// is armed, consumed or superseded. Supervisor-wide, so a child removed and
  /// added again under the same name never matches an old timer.
  std::uint64_t generation = 0;
  stop_phase stopping = stop_phase::none;
  /// Non-empty while this child waits for a group restart (one_for_all,
  /// rest_for_one) led by the named sibling, whose timer restarts both.
  std::string group_leader;
  std::chrono::steady_clock::time_point started_at{};
  std::optional<std::chrono::system_clock::time_point> restart_at;
  std::uint32_t restarts = 0;
  std::string last_exit_reason;
  /// A child that keeps failing (a link to a peer that is down) would log an
  /// exit, a restart and a start per retry: one retry's lines are logged per
  /// `[log] repeat_interval`, the others counted (log/throttle.hpp).
  log::throttle retries;
  bool quiet = false;       // the lines of the retry under way are held back
  std::string held_reason;  // why the last retry held back began
};

/// Stops children one after another (each with the bounded wait), then runs
/// `done`. Several jobs may wait on the same child.
struct stop_job {
  std::uint64_t id;
  std::vector<std::string> queue;  // front: the child being waited for
  std::function<void()> done;
};

class supervisor_state {
 public:
  explicit supervisor_state(supervisor_actor* self);
  /// Runs when the actor terminates, however it terminates: children still
  /// alive then (only after a kill or a crash of the supervisor) are sent
  /// user_shutdown so that none outlives it.
  ~supervisor_state();

  supervisor_state(const supervisor_state&) = delete;
  supervisor_state& operator=(const supervisor_state&) = delete;

  std::string name = "supervisor";  // CAF's actor name (State::name)

  // -- set-up and requests (supervisor.cpp) --
  void init(supervisor_options opts);
  caf::error add(child_spec spec);
  /// New policy values: children whose policy changed use them from their
  /// next restart on (backoff and intensity start over); strategy is kept.
  void set_policies(policy_map policies);
  caf::error remove(const std::string& child, std::function<void()> done);
  supervision_tree tree() const;
  caf::expected<caf::actor> child(const std::string& child) const;
  void shutdown(caf::error reason, caf::response_promise rp);

  // -- lifecycle (supervisor_state.cpp) --
  void on_down(const caf::down_msg& msg);
  void on_respawn(const std::string& child, std::uint64_t generation);
  void on_stop_timeout(const std::string& child, std::uint64_t generation);
  void on_start_failed(const std::string& child, std::uint64_t generation, const std::string& why);

 private:
  child_entry* find(const std::string& child);
  const child_entry* find(const std::string& child) const;
  child_entry* find(const caf::actor_addr& incarnation);
  std::uint64_t next_generation() { return ++generation_counter_; }
  caf::error validate(const child_spec& spec) const;

  /// Spawns an incarnation; returns why it failed, or nothing.
  std::optional<std::string> spawn(child_entry& c, bool restart);
  /// spawn(), and on failure report it to ourselves so that the failure is
  /// handled like an exit, outside whatever loop is starting children.
  void start(child_entry& c, bool restart);
  void on_failure(const std::string& child, const caf::error& reason,
                  const caf::actor_addr& incarnation = {});
  std::vector<std::string> siblings_to_restart(const child_entry& failed) const;
  void schedule_respawn(child_entry& c, duration delay, std::uint32_t attempt,
                        const std::string& why);
  void release_group(const std::string& leader);
  void give_up(child_entry& c, const std::string& why);
  /// Logs the count of `c`'s retries held back, if any: when the series of
  /// retries ends (given up, stopped, removed) or the supervisor does.
  void say_held_back(child_entry& c);

  void run_stop_job(std::vector<std::string> queue, std::function<void()> done);
  void advance_job(std::uint64_t id);
  void begin_stop(child_entry& c);
  void finish_stop(child_entry& c);
  void finish_shutdown();

  void emit(supervisor_event_kind kind, const child_entry& c, std::string reason = {},
            std::uint32_t attempt = 0, duration delay = duration::zero(),
            std::uint64_t generation = 0, caf::actor_addr actor = {});
  std::string describe(const caf::error& err) const;

  supervisor_actor* self_;
  supervisor_options opts_;
  std::shared_ptr<spdlog::logger> log_;
  std::mt19937_64 seeder_;             // seeds each child's backoff
  std::vector<child_entry> children_;  // start order
  std::vector<stop_job> jobs_;
  std::uint64_t generation_counter_ = 0;
  std::uint64_t job_counter_ = 0;
  bool shutting_down_ = false;
  caf::error quit_reason_;
  std::vector<caf::response_promise> shutdown_waiters_;
};

}  // namespace wsvisor::detail
