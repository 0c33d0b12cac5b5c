#include "actors/readiness.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace wsvisor {

void readiness::set_draining() {
  std::lock_guard guard{mtx_};
  draining_ = true;
}

void readiness::set_min_peers(std::uint32_t n) {
  std::lock_guard guard{mtx_};
  min_peers_ = n;
}

void readiness::set_peers(std::uint32_t n) {
  std::lock_guard guard{mtx_};
  peers_ = n;
}

void readiness::set_upstream(const std::string& name, const std::string& state) {
  std::lock_guard guard{mtx_};
  if (state == "up")
    down_.erase(name);
  else
    down_[name] = state;
}

void readiness::forget_upstream(const std::string& name) {
  std::lock_guard guard{mtx_};
  down_.erase(name);
}

readiness::report readiness::check() const {
  std::lock_guard guard{mtx_};
  return report{.draining = draining_,
                .upstreams_down = {down_.begin(), down_.end()},
                .peers = peers_,
                .min_peers = min_peers_};
}

std::string to_json(const readiness::report& r) {
  boost::json::object obj;
  obj["ready"] = r.ready();
  if (!r.ready()) {
    obj["draining"] = r.draining;
    boost::json::array down;
    for (auto& [name, state] : r.upstreams_down)
      down.push_back(boost::json::object{{"upstream", name}, {"state", state}});
    obj["upstreams_down"] = std::move(down);
    if (r.min_peers > 0) {
      obj["peers"] = r.peers;
      obj["ready_min_peers"] = r.min_peers;
    }
  }
  return boost::json::serialize(obj) + "\n";
}

}  // namespace wsvisor
