#pragma once

/// What `GET /readyz` reports (docs/operations.md, "Health and readiness"):
/// the node is ready while it is not draining and every upstream marked
/// `required` is up. The node sets `draining` when a drain begins; the
/// upstreams actor reports each required upstream's state as it changes.
/// Reading is a short lock and a copy, so the HTTP side can answer from any
/// thread without asking an actor.
///
/// Thread-safe.

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace wsvisor {

class readiness {
 public:
  /// Why the node is not ready; empty when it is.
  struct report {
    bool draining = false;
    std::vector<std::pair<std::string, std::string>> upstreams_down;  // name, state; by name
    bool ready() const { return !draining && upstreams_down.empty(); }
  };

  void set_draining();

  /// A required upstream's state ("up", "connecting", "down", ...): any
  /// state but "up" makes the node not ready.
  void set_upstream(const std::string& name, const std::string& state);

  /// The upstream no longer counts (removed, or no longer required).
  void forget_upstream(const std::string& name);

  report check() const;

 private:
  mutable std::mutex mtx_;
  bool draining_ = false;
  std::map<std::string, std::string> down_;  // required upstreams not up: name -> state
};

/// The body of a /readyz answer: `{"ready":true}` or
/// `{"ready":false,"draining":B,"upstreams_down":[{"upstream":N,"state":S},...]}`.
std::string to_json(const readiness::report& r);

}  // namespace wsvisor
