#include "actors/cluster/cluster_state.hpp"

namespace wsvisor::detail {

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void cluster_state::echo(std::uint64_t token, bool timed_out) {
  auto it = barriers_.find(token);
  if (it == barriers_.end()) return;
  if (!timed_out && --it->second.left > 0) return;
  if (timed_out) log::warn(*log_, "barrier timed out", {{"missing_echoes", it->second.left}});
  it->second.rp.deliver(caf::ok_atom::value);
  barriers_.erase(it);
}

caf::actor cluster_state::broker() const {
  return self_->home_system().registry().get<caf::actor>(broker_name);
}

void cluster_state::count_peers() {
  if (opts_.metrics) opts_.metrics->cluster_peers.set(static_cast<std::int64_t>(members_.size()));
  if (opts_.ready) opts_.ready->set_peers(static_cast<std::uint32_t>(members_.size()));
}

void cluster_state::tell_broker(caf::message msg) {
  if (auto b = broker()) self_->send(b, std::move(msg));
}

void cluster_state::tell_replicas(caf::message msg) {
  if (auto store = self_->home_system().registry().get<caf::actor>(replica_store_name))
    self_->send(store, std::move(msg));
}

void cluster_state::say_held_back(const std::string& name, member& m) {
  if (auto held = m.unconfirmed.flush())
    log::warn(*log_, "peer did not confirm interest", {{"peer", name}}, *held);
}

received_marks cluster_state::received_marks_now() const {
  received_marks out;
  for (auto& [origin, counter] : received_) {
    out.origins.push_back(origin);
    out.counters.push_back(counter);
  }
  return out;
}

void cluster_state::add_member(const std::string& name, const caf::actor& actor,
                               const std::string& url, const std::string& address,
                               const std::vector<std::string>& interest,
                               const received_marks& received) {
  auto it = members_.find(name);
  if (it != members_.end() && it->second.actor != actor) {
    // The node restarted: its old incarnation's down_msg may still come, and
    // is then ignored because it names another actor.
    tell_broker(caf::make_message(peer_gone_atom::value, it->second.actor, name, false));
    tell_replicas(
        caf::make_message(replica_member_atom::value, name, it->second.actor, false, true));
    say_held_back(name, it->second);
    members_.erase(it);
    it = members_.end();
  }
  if (it == members_.end()) {
    self_->monitor(actor);
    it = members_.emplace(name, member{.actor = actor, .since_ms = unix_ms_now()}).first;
    departed_.erase(name);
    count_peers();
    if (opts_.metrics) opts_.metrics->cluster_peer_up.with({name}).set(1);
    log::info(*log_, "peer up", {{"peer", name}, {"url", url}, {"peers", members_.size()}});
    // Before its interest: what it missed while it was away goes first.
    tell_broker(caf::make_message(peer_rejoined_atom::value, actor, name, received, interest));
    tell_replicas(caf::make_message(replica_member_atom::value, name, actor, true, false));
  }
  auto& m = it->second;
  m.url = url;
  m.address = address;
  for (auto& channel : interest)
    if (m.interest.insert(channel).second)
      tell_broker(caf::make_message(peer_interest_atom::value, actor, channel, true));
}

void cluster_state::member_down(std::map<std::string, member>::iterator it,
                                const caf::error& reason) {
  const std::string& name = it->first;
  member& m = it->second;
  say_held_back(name, m);
  auto now = unix_ms_now();
  auto remaining = members_.size() - 1;
  if (m.leaving) {
    ++peers_left_;
    if (auto& metrics = opts_.metrics) {
      metrics->cluster_peers_left.inc();
      // A node that left on purpose is no alert: its series goes.
      metrics->cluster_peer_up.remove_if(
          [&name](const std::vector<std::string>& labels) { return labels.at(0) == name; });
    }
    log::info(*log_, "peer left",
              {{"peer", name}, {"peers", remaining}, {"peers_left", peers_left_}});
  } else {
    ++peers_lost_;
    if (auto& metrics = opts_.metrics) {
      metrics->cluster_peers_lost.inc();
      metrics->cluster_peer_up.with({name}).set(0);
    }
    log::warn(*log_, "peer down",
              {{"peer", name},
               {"reason", describe(self_->home_system(), reason)},
               {"peers", remaining},
               {"peers_lost", peers_lost_}});
  }
  if (departed_.size() >= max_departed && departed_.count(name) == 0) {
    auto oldest = std::min_element(departed_.begin(), departed_.end(), [](auto& a, auto& b) {
      return a.second.since_ms < b.second.since_ms;
    });
    departed_.erase(oldest);
  }
  departed_[name] = cluster_member_info{.node = name,
                                        .address = m.address,
                                        .public_url = m.url,
                                        .state = m.leaving ? "left" : "down",
                                        .since_ms = now,
                                        .last_seen_ms = now,
                                        .caf_node = caf::to_string(m.actor.node()),
                                        .actor = {}};
  tell_broker(caf::make_message(peer_gone_atom::value, m.actor, name, !m.leaving));
  tell_replicas(caf::make_message(replica_member_atom::value, name, m.actor, false, !m.leaving));
  members_.erase(it);
  count_peers();
}

std::vector<cluster_member_info> cluster_state::status() const {
  std::vector<cluster_member_info> out;
  std::set<std::string> addresses;  // reached: as announced, or as dialed
  for (auto& [address, name] : dialed_) addresses.insert(address);
  auto now = unix_ms_now();
  for (auto& [name, m] : members_) {
    out.push_back(cluster_member_info{.node = name,
                                      .address = m.address,
                                      .public_url = m.url,
                                      .state = "up",
                                      .since_ms = m.since_ms,
                                      .last_seen_ms = now,
                                      .caf_node = caf::to_string(m.actor.node()),
                                      .actor = m.actor.address()});
    addresses.insert(m.address);
  }
  for (auto& [name, info] : departed_) {
    out.push_back(info);
    addresses.insert(info.address);
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.node < b.node; });
  for (auto& address : opts_.peers)
    if (addresses.count(address) == 0)
      out.push_back(cluster_member_info{.address = address, .state = "connecting"});
  return out;
}

void cluster_state::announce(const std::string& channel, bool on, std::function<void()> done) {
  auto left = std::make_shared<std::size_t>(members_.size());
  if (*left == 0) {
    if (done) done();
    return;
  }
  auto finish = [left, done] {
    if (--*left == 0 && done) done();
  };
  for (auto& [name, m] : members_)
    self_
        ->request(m.actor, opts_.peer_timeout, cluster_interest_atom::value, opts_.node, channel,
                  on)
        .then([finish](caf::ok_atom) { finish(); },
              [this, finish, peer = name](caf::error& err) {
                // A member gone meanwhile was logged `peer down`.
                auto it = members_.find(peer);
                if (it != members_.end())
                  if (auto held = log::admit(it->second.unconfirmed))
                    log::warn(*log_, "peer did not confirm interest",
                              {{"peer", peer}, {"error", describe(self_->home_system(), err)}},
                              *held);
                finish();
              });
}

}  // namespace wsvisor::detail
