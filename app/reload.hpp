#pragma once

/// Reloading the configuration of a running node (SIGHUP; docs/configuration.md,
/// "Reloading"). The node loads and validates the file exactly as at start;
/// a valid one is compared with the running config by `plan_reload`, which
/// says which changed keys apply live and which need a restart. The live part
/// (`apply_live`) then reaches each owner by message (`apply_to_actors`) or,
/// for the I/O side, through an immutable `snapshot` replaced whole.
///
/// `plan_reload` and `apply_live` are pure and thread-safe.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "config/config.hpp"

namespace wsvisor {

/// What a reload changes, found by comparing two valid configs.
struct reload_plan {
  /// Changed keys applied now ("log.level", "limits.sessions", "policies.fast"),
  /// upstreams as "upstream.NAME". In config order.
  std::vector<std::string> live;
  /// Changed keys that are not applied: they need a restart ("server.listen").
  std::vector<std::string> restart;
  bool log = false;                      // [log] changed
  bool session = false;                  // [session] changed
  bool limits = false;                   // a live [limits] key changed
  bool policies = false;                 // a policy's values changed, or one was added or removed
  std::vector<upstream_config> added;    // in the new config's order
  std::vector<std::string> removed;      // names
  std::vector<upstream_config> changed;  // the new config of each
  bool empty() const { return live.empty() && restart.empty(); }
};

/// Compares the running config with a freshly loaded valid one.
reload_plan plan_reload(const config& running, const config& next);

/// `running` with what `plan_reload(running, next)` calls live taken from
/// `next`; every key that needs a restart keeps its running value, so that a
/// later reload reports it again.
config apply_live(const config& running, const config& next);

/// Sends the live part of a reload to the actors that own it, each by
/// message: the policies to the root supervisor and to the upstreams actor,
/// then the upstream changes (removals, then changes, then additions, each
/// awaited, so that a channel freed by one can be taken by the next), the
/// session settings and limits to the session registry. Returns at once;
/// outcomes are logged on `logger`.
void apply_to_actors(caf::actor_system& sys, const caf::actor& root, const reload_plan& plan,
                     const config& applied, std::shared_ptr<spdlog::logger> logger);

/// One line for the log: the changed keys, comma-separated ("-" for none).
std::string join_keys(const std::vector<std::string>& keys);

/// A value replaced whole, read from any thread: readers keep the version
/// they got for as long as they hold it. Thread-safe.
template <class T>
class snapshot {
 public:
  explicit snapshot(T value) : value_(std::make_shared<const T>(std::move(value))) {}

  std::shared_ptr<const T> get() const {
    std::lock_guard guard{mtx_};
    return value_;
  }

  void set(T value) {
    auto next = std::make_shared<const T>(std::move(value));
    std::lock_guard guard{mtx_};
    value_ = std::move(next);
  }

 private:
  mutable std::mutex mtx_;
  std::shared_ptr<const T> value_;
};

}  // namespace wsvisor
