// The broker's side facing the cluster (actors/session/broker_state.hpp):
// which peers want which channels, peers lost and back, gaps and barriers.

#include "actors/session/broker_state.hpp"

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/message.hpp>

#include "log/log.hpp"

namespace wsvisor::detail {

void send_to_peer(broker_actor* self, const caf::actor& peer, const std::string& channel,
                  const std::string& body, std::uint64_t counter) {
  auto& st = self->state;
  auto it =
      std::find_if(st.to_peers.begin(), st.to_peers.end(), [&](auto& p) { return p.peer == peer; });
  if (it == st.to_peers.end()) {
    st.to_peers.push_back({peer, cluster_publishes{.origin = st.origin}});
    it = std::prev(st.to_peers.end());
  }
  it->batch.channels.push_back(channel);
  it->batch.bodies.push_back(body);
  it->batch.counters.push_back(counter);
  if (st.flush_queued) return;
  st.flush_queued = true;
  self->send(self, flush_peers_atom::value);
}

void flush_peers(broker_actor* self, bool due) {
  if (due) self->state.flush_queued = false;
  for (auto& p : std::exchange(self->state.to_peers, {}))
    self->send(p.peer, cluster_publishes_atom::value, std::move(p.batch));
}

caf::result<caf::ok_atom> on_cluster_barrier(broker_actor* self) {
  flush_peers(self);
  auto cluster = cluster_of(self);
  if (!cluster) return caf::ok_atom::value;
  // Answered from here (not delegated) once the cluster answers: that
  // answer comes behind every peer publish the cluster handed us before.
  auto rp = self->make_response_promise<caf::ok_atom>();
  self->request(cluster, caf::infinite, local_barrier_atom::value)
      .then([rp](caf::ok_atom) mutable { rp.deliver(caf::ok_atom::value); },
            [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

void on_peer_interest(broker_actor* self, const caf::actor& peer, const std::string& channel,
                      bool on) {
  self->state.resend.interest(peer.address(), channel, on, self->state.counter);
  auto& peers = self->state.remote[channel];
  auto it = std::find(peers.begin(), peers.end(), peer);
  if (on && it == peers.end()) peers.push_back(peer);
  if (!on && it != peers.end()) peers.erase(it);
  if (peers.empty()) self->state.remote.erase(channel);
}

void on_peer_gone(broker_actor* self, const caf::actor& peer, const std::string& name, bool lost) {
  flush_peers(self);  // as if each had gone when it was made
  self->state.resend.gone(peer.address(), name, lost);
  if (lost)
    presence_peer_lost(self, peer);
  else
    self->state.peer_origins.erase(peer.address());
  auto& remote = self->state.remote;
  for (auto it = remote.begin(); it != remote.end();) {
    std::erase(it->second, peer);
    it = it->second.empty() ? remote.erase(it) : std::next(it);
  }
}

// A peer that was lost is a member again: what it missed is sent before
// anything live (its interest, which starts that, comes after this), each
// in the order published; where something it needed is gone, it is told
// first, so that no subscriber there takes what follows as complete.
void on_peer_rejoined(broker_actor* self, const caf::actor& peer, const std::string& name,
                      const received_marks& marks, const std::vector<std::string>& interest) {
  auto& st = self->state;
  if (st.origin == 0) return;
  flush_peers(self);
  std::uint64_t received = 0;
  for (std::size_t i = 0; i < marks.origins.size() && i < marks.counters.size(); ++i)
    if (marks.origins[i] == st.origin) received = marks.counters[i];
  auto c = st.resend.rejoined(peer.address(), name, received, interest);
  auto log = log::get("broker");
  if (!c.lost_channels.empty()) {
    log::warn(*log, "messages lost to a peer",
              {{"peer", name}, {"channels", c.lost_channels.size()}, {"received", received}});
    self->send(peer, cluster_gap_atom::value, c.lost_channels);
  }
  for (auto* e : c.resend)
    self->send(peer, cluster_publish_atom::value, e->channel, *e->body, st.origin, e->counter);
  if (st.metrics) st.metrics->cluster_resent.inc(c.resend.size());
  if (!c.resend.empty())
    log::info(*log, "resent to a returning peer",
              {{"peer", name}, {"messages", c.resend.size()}, {"received", received}});
}

// A peer lost publishes this node's subscribers wanted: each is told.
void on_cluster_gap(broker_actor* self, const std::vector<std::string>& channels) {
  for (auto& channel : channels) {
    auto it = self->state.channels.find(channel);
    if (it == self->state.channels.end()) continue;
    auto msg = caf::make_message(channel_gap_atom::value, channel);
    for (auto& [addr, who] : it->second) self->send(who, msg);
  }
}

// A peer's barrier (local_barrier_atom there): echoed behind every publish
// this broker sent that node before.
void echo_barrier(broker_actor* self, std::uint64_t token, const caf::actor& origin_cluster) {
  flush_peers(self);
  self->send(origin_cluster, cluster_echo_atom::value, token);
}

}  // namespace wsvisor::detail
