#include "actors/session/broker.hpp"
#include "actors/session/broker_state.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "actors/session/peer_resend.hpp"
#include "log/log.hpp"

namespace wsvisor {
namespace {

using namespace detail;

void remove(broker_actor* self, const std::string& channel, const caf::actor_addr& who) {
  auto& st = self->state;
  auto it = st.channels.find(channel);
  if (it == st.channels.end()) return;
  it->second.erase(who);
  if (!it->second.empty()) return;
  st.channels.erase(it);
  if (st.pending.count(channel) == 0)
    if (auto cluster = cluster_of(self))
      // Asked, so that the one shape of local_interest_atom is always a
      // request; the answer needs nothing.
      self->request(cluster, caf::infinite, local_interest_atom::value, channel, false)
          .then([](caf::ok_atom) {}, [](caf::error&) {});
}

void add(broker_actor* self, const std::string& channel, const caf::actor& who) {
  auto& st = self->state;
  auto [it, first] = st.by_subscriber.try_emplace(who.address());
  if (first) self->monitor(who);
  it->second.insert(channel);
  st.channels[channel].emplace(who.address(), who);
}

/// Takes `who` off `channel` (no effect if it is not on it).
void unsubscribe(broker_actor* self, const std::string& channel, const caf::actor& who) {
  auto& st = self->state;
  auto it = st.by_subscriber.find(who.address());
  if (it == st.by_subscriber.end() || it->second.erase(channel) == 0) return;
  remove(self, channel, who.address());
  presence_leave(self, channel, who.address());
  if (it->second.empty()) {
    // A down_msg already queued may still arrive (CAF issue 1301); the
    // down handler ignores subscribers it does not know.
    self->demonitor(who);
    st.by_subscriber.erase(it);
  }
}

/// Subscribers of `channel` as sessions count them: a registry standing in
/// for parked sessions counts as those sessions.
std::uint64_t subscriber_count(const broker_state& st, const std::string& channel) {
  auto it = st.channels.find(channel);
  if (it == st.channels.end()) return 0;
  auto n = static_cast<std::uint64_t>(it->second.size());
  if (auto p = st.parked.find(channel); p != st.parked.end()) n = n - 1 + p->second;
  for (auto& who : st.stand_ins)
    if (it->second.count(who) > 0) --n;
  return n;
}

using subscribers = std::unordered_map<caf::actor_addr, caf::actor>;

void fan_out(broker_actor* self, const subscribers& to, const std::string& channel,
             const shared_body& body, std::uint64_t origin, std::uint64_t counter) {
  // One message for all: CAF messages are reference-counted and immutable
  // while shared, so each send only bumps a count. Taken now: the publish's
  // delivery latency starts here (docs/metrics.md).
  auto msg =
      caf::make_message(deliver_atom::value, channel, body, origin, counter, steady_clock_ns());
  for (auto& [addr, who] : to) self->send(who, msg);
}

}  // namespace

void detail::publish_here(broker_actor* self, const std::string& channel, const shared_body& body,
                          bool to_local) {
  auto& st = self->state;
  auto counter = ++st.counter;
  if (auto it = st.channels.find(channel); to_local && it != st.channels.end())
    fan_out(self, it->second, channel, body, st.origin, counter);
  if (st.origin != 0 && st.resend.wanted(channel)) st.resend.keep(counter, channel, body);
  auto it = st.remote.find(channel);
  if (it == st.remote.end()) return;
  for (auto& peer : it->second) send_to_peer(self, peer, channel, *body, counter);
}

namespace {

void own(broker_actor* self, const std::string& channel, const caf::actor& owner) {
  if (!owner) return;
  auto& st = self->state;
  bool known = false;
  for (auto& [name, who] : st.owners) known = known || who == owner;
  if (!known) self->monitor(owner);
  auto& slot = st.owners[channel];
  if (slot == owner) return;
  slot = owner;
  log::info(*log::get("broker"), "channel owned by an upstream", {{"channel", channel}});
}

/// The admin API's page: up to `limit` channels named above `after` that
/// have local subscribers, an interested peer or an owner, by name.
caf::message channel_page(const broker_state& st, const std::string& after, std::uint64_t limit) {
  std::set<std::string> names;
  auto consider = [&](const std::string& name) {
    if (name <= after) return;
    names.insert(name);
    // One beyond the limit tells whether more follow.
    if (names.size() > limit + 1) names.erase(std::prev(names.end()));
  };
  for (auto& [name, subs] : st.channels) consider(name);
  for (auto& [name, peers] : st.remote) consider(name);
  for (auto& [name, owner] : st.owners) consider(name);
  bool more = names.size() > limit;
  std::vector<channel_info> page;
  for (auto& name : names) {
    if (page.size() == limit) break;
    channel_info info{.name = name};
    info.subscribers = subscriber_count(st, name);
    if (auto it = st.remote.find(name); it != st.remote.end()) info.peers = it->second.size();
    info.owned = st.owners.count(name) > 0;
    page.push_back(std::move(info));
  }
  return caf::make_message(std::move(page), more);
}

auto on_down(broker_actor* self, caf::down_msg& msg) {
  auto& st = self->state;
  st.stand_ins.erase(msg.source);
  for (auto it = st.owners.begin(); it != st.owners.end();) {
    if (it->second.address() == msg.source)
      it = st.owners.erase(it);
    else
      ++it;
  }
  auto it = st.by_subscriber.find(msg.source);
  if (it == st.by_subscriber.end()) return;
  for (auto& channel : it->second) remove(self, channel, msg.source);
  presence_holder_down(self, msg.source);
  log::debug(*log::get("broker"), "subscriber gone",
             {{"channels", it->second.size()}, {"remaining_channels", st.channels.size()}});
  st.by_subscriber.erase(it);
}

caf::result<caf::ok_atom> on_subscribe(broker_actor* self, const std::string& channel,
                                       const caf::actor& who) {
  if (!who) return caf::ok_atom::value;
  auto& st = self->state;
  if (auto it = st.pending.find(channel); it != st.pending.end()) {
    auto rp = self->make_response_promise<caf::ok_atom>();
    it->second.push_back({who, rp});
    return rp;
  }
  if (st.max_channels != 0 && st.channels.count(channel) == 0 &&
      st.channels.size() + st.pending.size() >= st.max_channels) {
    // Logged by the session, which holds back a client's repeats: one
    // line here per refusal would let a client flood the log.
    return make_error(errc::too_many_channels, std::to_string(st.max_channels));
  }
  auto cluster = st.channels.count(channel) > 0 ? caf::actor{} : cluster_of(self);
  if (!cluster) {
    add(self, channel, who);
    return caf::ok_atom::value;
  }
  // This node's first subscriber: the peers learn of it before the
  // client hears `subscribed`, so that publishes made anywhere after
  // that reach it.
  auto rp = self->make_response_promise<caf::ok_atom>();
  st.pending[channel].push_back({who, rp});
  auto join = [self, channel] {
    auto& st = self->state;
    auto waiting = std::move(st.pending[channel]);
    st.pending.erase(channel);
    for (auto& w : waiting) {
      add(self, channel, w.who);
      w.rp.deliver(caf::ok_atom::value);
    }
    // This node receives the channel from now on: who is present on the
    // other nodes is asked once, changes follow as they are published.
    ask_presence_rows(self, channel);
  };
  self->request(cluster, caf::infinite, local_interest_atom::value, channel, true)
      .then([join](caf::ok_atom) { join(); },
            [join, channel](caf::error&) {
              // The cluster actor ended meanwhile; its successor learns
              // nothing of this channel until a later first subscriber.
              log::warn(*log::get("broker"), "cluster did not confirm interest",
                        {{"channel", channel}});
              join();
            });
  return rp;
}

auto on_unsubscribe(broker_actor* self, const std::string& channel, const caf::actor& who) {
  if (!who) return;
  auto& st = self->state;
  if (auto p = st.pending.find(channel); p != st.pending.end()) {
    auto& waiting = p->second;
    for (auto w = waiting.begin(); w != waiting.end(); ++w)
      if (w->who == who) {
        w->rp.deliver(caf::ok_atom::value);
        waiting.erase(w);
        break;
      }
  }
  unsubscribe(self, channel, who);
}

auto on_park(broker_actor* self, const caf::actor& registry, const std::string& id,
             const std::vector<std::string>& channels) {
  auto& st = self->state;
  auto session = caf::actor_cast<caf::actor>(self->current_sender());
  // The registry joins first, so that no channel looks empty on the
  // way (its cluster interest stays as it was).
  for (auto& channel : channels)
    if (st.parked[channel]++ == 0) add(self, channel, registry);
  if (auto it = st.by_subscriber.find(session.address()); it != st.by_subscriber.end()) {
    for (auto& channel : it->second) remove(self, channel, it->first);
    st.by_subscriber.erase(it);
    // Its end must not undo the move: it is no subscriber any more.
    self->demonitor(session);
  }
  presence_parked(self, session.address());
  // The notice goes before the answer: the registry holds what follows
  // for the record the session sends once it has the answer.
  self->send(registry, parked_moved_atom::value, id, channels);
  return caf::ok_atom::value;
}

auto on_unpark(broker_actor* self, const caf::actor& session,
               const std::vector<std::string>& channels, const std::string& member) {
  auto& st = self->state;
  auto registry = caf::actor_cast<caf::actor>(self->current_sender());
  for (auto& channel : channels) {
    // The session joins first: the channel never looks empty on the way.
    if (session) add(self, channel, session);
    auto it = st.parked.find(channel);
    if (it == st.parked.end()) continue;
    if (--it->second > 0) continue;
    st.parked.erase(it);
    unsubscribe(self, channel, registry);
  }
  presence_unparked(self, session, member);
  return caf::ok_atom::value;
}

caf::result<std::uint64_t, std::string> on_publish(broker_actor* self, const std::string& channel,
                                                   const shared_body& body) {
  if (auto owner = self->state.owners.find(channel); owner != self->state.owners.end()) {
    auto rp = self->make_response_promise();
    rp.delegate(owner->second, owner_publish_atom::value, channel, body);
    return rp;
  }
  // Answered before the fan-out: a publisher subscribed to its own
  // channel gets its `ack` before its copy of the message, as it did
  // when sessions acked without asking. Such a publisher counts on its
  // copy following the answer (session_state::own_copy_follows).
  auto rp = self->make_response_promise<std::uint64_t, std::string>();
  rp.deliver(subscriber_count(self->state, channel), std::string{});
  publish_here(self, channel, body);
  return rp;
}

auto on_disown_channel(broker_actor* self, const std::string& channel, const caf::actor& owner) {
  auto& st = self->state;
  auto it = st.owners.find(channel);
  if (it == st.owners.end() || it->second != owner) return;
  st.owners.erase(it);
  log::info(*log::get("broker"), "channel no longer owned", {{"channel", channel}});
}

// A broker that replaces a crashed one learns the owned channels from the
// upstreams actor, if there is one (one that starts later registers itself),
// and on a cluster node which peers want which channels.
void start(broker_actor* self, std::uint64_t origin, std::uint64_t max_channels,
           node_metrics_ptr metrics) {
  self->state.max_channels = max_channels;
  self->state.metrics = std::move(metrics);
  self->state.origin = origin;
  if (auto ups = self->home_system().registry().get(upstreams_name)) {
    self->request(caf::actor_cast<caf::actor>(ups), caf::infinite, owned_channels_atom::value)
        .then(
            [self, owner = caf::actor_cast<caf::actor>(ups)](std::vector<std::string>& channels) {
              for (auto& channel : channels) own(self, channel, owner);
            },
            [](caf::error&) {});
  }
  if (auto cluster = cluster_of(self)) self->send(cluster, broker_joined_atom::value);
}

// A publish made on a peer: to this node's subscribers only.
void on_peer_publish(broker_actor* self, const std::string& channel, const shared_body& body,
                     std::uint64_t origin, std::uint64_t counter) {
  // A presence change that changes nothing here (a session adopted by the
  // node that says so, away before and after) is not passed on.
  if (proto::is_presence_body(*body) && !presence_from_peer(self, *body, origin, counter)) return;
  auto it = self->state.channels.find(channel);
  if (it != self->state.channels.end()) fan_out(self, it->second, channel, body, origin, counter);
}

caf::behavior broker_behavior(broker_actor* self, std::uint64_t origin, std::uint64_t max_channels,
                              node_metrics_ptr metrics) {
  start(self, origin, max_channels, std::move(metrics));
  self->set_down_handler([self](caf::down_msg& msg) { return on_down(self, msg); });
  return {
      [self](broker_subscribe_atom, const std::string& channel, const caf::actor& who) {
        return on_subscribe(self, channel, who);
      },
      [self](broker_unsubscribe_atom, const std::string& channel, const caf::actor& who) {
        return on_unsubscribe(self, channel, who);
      },
      [self](broker_park_atom, const caf::actor& registry, const std::string& id,
             const std::vector<std::string>& channels) {
        return on_park(self, registry, id, channels);
      },
      [self](unpark_atom, const caf::actor& session, const std::vector<std::string>& channels,
             const std::string& member) { return on_unpark(self, session, channels, member); },
      [self](presence_join_atom, const std::string& channel, const std::string& member,
             const std::string& subject_json,
             bool online) { return on_presence_join(self, channel, member, subject_json, online); },
      [self](presence_state_atom, bool online) { on_presence_state(self, online); },
      [self](presence_handed_atom) { presence_handed(self); },
      [self](presence_query_atom, const std::string& channel) {
        return presence_members(self, channel);
      },
      [self](presence_rows_atom, const std::string& channel) {
        return presence_rows(self, channel);
      },
      [self](peer_origin_atom, const caf::actor& peer, std::uint64_t origin) {
        self->state.peer_origins[peer.address()].insert(origin);
      },
      [self](presence_expire_atom, std::uint64_t origin) { presence_expire(self, origin); },
      [self](broker_publish_atom, const std::string& channel, const shared_body& body) {
        return on_publish(self, channel, body);
      },
      [self](fanout_atom, const std::string& channel, const shared_body& body) {
        publish_here(self, channel, body);
      },
      [self](peer_publish_atom, const std::string& channel, const shared_body& body,
             std::uint64_t origin,
             std::uint64_t counter) { on_peer_publish(self, channel, body, origin, counter); },
      [self](local_barrier_atom) { return on_cluster_barrier(self); },
      [self](flush_peers_atom) { flush_peers(self, true); },
      [self](cluster_barrier_atom, std::uint64_t token, const caf::actor& origin) {
        echo_barrier(self, token, origin);
      },
      [self](peer_interest_atom, const caf::actor& peer, const std::string& channel, bool on) {
        return on_peer_interest(self, peer, channel, on);
      },
      [self](peer_gone_atom, const caf::actor& peer, const std::string& name, bool lost) {
        return on_peer_gone(self, peer, name, lost);
      },
      [self](peer_rejoined_atom, const caf::actor& peer, const std::string& name,
             const received_marks& received, const std::vector<std::string>& interest) {
        on_peer_rejoined(self, peer, name, received, interest);
      },
      [self](cluster_gap_atom, const std::vector<std::string>& channels) {
        on_cluster_gap(self, channels);
      },
      [self](own_channel_atom, const std::string& channel, const caf::actor& owner) {
        own(self, channel, owner);
      },
      [self](disown_channel_atom, const std::string& channel, const caf::actor& owner) {
        return on_disown_channel(self, channel, owner);
      },
      [self](broker_limit_atom, std::uint64_t limit) { self->state.max_channels = limit; },
      [self](broker_limit_atom, std::uint64_t channels, std::uint64_t members, duration window) {
        self->state.max_channels = channels;
        self->state.max_members = members;
        self->state.presence_window = window;
      },
      [self](stand_in_atom) {
        self->state.stand_ins.insert(caf::actor_cast<caf::actor_addr>(self->current_sender()));
      },
      [self](broker_stats_atom) { return static_cast<std::uint64_t>(self->state.channels.size()); },
      [self](channel_subscribers_atom, const std::string& channel) {
        return subscriber_count(self->state, channel);
      },
      [self](admin_channels_atom, const std::string& after, std::uint64_t limit) {
        return channel_page(self->state, after, limit);
      },
  };
}

}  // namespace

caf::actor spawn_broker(caf::actor_system& sys, std::uint64_t origin, std::uint64_t max_channels,
                        node_metrics_ptr metrics) {
  return sys.spawn(broker_behavior, origin, max_channels, std::move(metrics));
}

}  // namespace wsvisor
