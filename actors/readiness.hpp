#pragma once

/// What `GET /readyz` reports (docs/operations.md, "Health and readiness"):
/// the node is ready while it is not draining, every upstream marked
/// `required` is up and (on a cluster node with `ready_min_peers`) enough
/// peers are up. The node sets `draining` when a drain begins; the upstreams
/// actor reports each required upstream's state as it changes, the cluster
/// actor how many peers are up.
/// Reading is a short lock and a copy, so the HTTP side can answer from any
/// thread without asking an actor.
///
/// Thread-safe.

#include <cstdint>
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
    std::uint32_t peers = 0;                                          // cluster peers up
    std::uint32_t min_peers = 0;  // [cluster] ready_min_peers; 0: peers do not count
    bool enough_peers() const { return peers >= min_peers; }
    bool ready() const { return !draining && upstreams_down.empty() && enough_peers(); }
  };

  void set_draining();

  /// The node is not ready while fewer than `n` cluster peers are up.
  void set_min_peers(std::uint32_t n);

  /// How many cluster peers are up now.
  void set_peers(std::uint32_t n);

  /// A required upstream's state ("up", "connecting", "down", ...): any
  /// state but "up" makes the node not ready.
  void set_upstream(const std::string& name, const std::string& state);

  /// The upstream no longer counts (removed, or no longer required).
  void forget_upstream(const std::string& name);

  report check() const;

 private:
  mutable std::mutex mtx_;
  bool draining_ = false;
  std::uint32_t peers_ = 0;
  std::uint32_t min_peers_ = 0;
  std::map<std::string, std::string> down_;  // required upstreams not up: name -> state
};

/// The body of a /readyz answer: `{"ready":true}` or
/// `{"ready":false,"draining":B,"upstreams_down":[{"upstream":N,"state":S},...]}`,
/// with `"peers":P,"ready_min_peers":M` added where M is not 0.
std::string to_json(const readiness::report& r);

}  // namespace wsvisor
