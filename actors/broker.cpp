#include "actors/broker.hpp"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/messages.hpp"
#include "log/log.hpp"

namespace wsvisor {
namespace {

struct broker_state {
  static inline const char* name = "broker";

  // channel -> its subscribers, keyed by address so that a down_msg (which
  // carries only the address) finds the entry.
  std::unordered_map<std::string, std::unordered_map<caf::actor_addr, caf::actor>> channels;
  // subscriber -> the channels it is on: the reverse index that makes removing
  // a dead subscriber cost its own subscriptions, not every channel.
  std::unordered_map<caf::actor_addr, std::unordered_set<std::string>> by_subscriber;
  // channel -> the actor that owns it (the upstreams actor): client publishes
  // on it go there instead of to the subscribers.
  std::unordered_map<std::string, caf::actor> owners;
};

using broker_actor = caf::stateful_actor<broker_state>;

void remove(broker_state& st, const std::string& channel, const caf::actor_addr& who) {
  auto it = st.channels.find(channel);
  if (it == st.channels.end()) return;
  it->second.erase(who);
  if (it->second.empty()) st.channels.erase(it);
}

using subscribers = std::unordered_map<caf::actor_addr, caf::actor>;

void fan_out(broker_actor* self, const subscribers& to, const std::string& channel,
             const shared_body& body) {
  // One message for all: CAF messages are reference-counted and immutable
  // while shared, so each send only bumps a count.
  auto msg = caf::make_message(deliver_atom::value, channel, body);
  for (auto& [addr, who] : to) self->send(who, msg);
}

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

caf::behavior broker_behavior(broker_actor* self, int /*unused*/) {
  // A broker that replaces a crashed one learns the owned channels from the
  // upstreams actor, if there is one; one that starts later registers itself.
  if (auto ups = self->home_system().registry().get(upstreams_name)) {
    self->request(caf::actor_cast<caf::actor>(ups), caf::infinite, up_owners_atom::value)
        .then(
            [self, owner = caf::actor_cast<caf::actor>(ups)](std::vector<std::string>& channels) {
              for (auto& channel : channels) own(self, channel, owner);
            },
            [](caf::error&) {});
  }
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    for (auto it = st.owners.begin(); it != st.owners.end();) {
      if (it->second.address() == msg.source)
        it = st.owners.erase(it);
      else
        ++it;
    }
    auto it = st.by_subscriber.find(msg.source);
    if (it == st.by_subscriber.end()) return;
    for (auto& channel : it->second) remove(st, channel, msg.source);
    log::debug(*log::get("broker"), "subscriber gone",
               {{"channels", it->second.size()}, {"remaining_channels", st.channels.size()}});
    st.by_subscriber.erase(it);
  });
  return {
      [self](subscribe_atom, const std::string& channel, const caf::actor& who) {
        if (!who) return;
        auto& st = self->state;
        auto [it, first] = st.by_subscriber.try_emplace(who.address());
        if (first) self->monitor(who);
        it->second.insert(channel);
        st.channels[channel].emplace(who.address(), who);
      },
      [self](unsubscribe_atom, const std::string& channel, const caf::actor& who) {
        if (!who) return;
        auto& st = self->state;
        auto it = st.by_subscriber.find(who.address());
        if (it == st.by_subscriber.end() || it->second.erase(channel) == 0) return;
        remove(st, channel, who.address());
        if (it->second.empty()) {
          // A down_msg already queued may still arrive (CAF issue 1301); the
          // down handler ignores subscribers it does not know.
          self->demonitor(who);
          st.by_subscriber.erase(it);
        }
      },
      [self](publish_atom, const std::string& channel,
             const shared_body& body) -> caf::result<std::uint64_t, std::string> {
        if (auto owner = self->state.owners.find(channel); owner != self->state.owners.end()) {
          auto rp = self->make_response_promise();
          rp.delegate(owner->second, up_forward_atom::value, channel, body);
          return rp;
        }
        // Answered before the fan-out: a publisher subscribed to its own
        // channel gets its `ack` before its copy of the message, as it did
        // when sessions acked without asking.
        auto it = self->state.channels.find(channel);
        auto found = it != self->state.channels.end();
        auto rp = self->make_response_promise<std::uint64_t, std::string>();
        rp.deliver(static_cast<std::uint64_t>(found ? it->second.size() : 0), std::string{});
        if (found) fan_out(self, it->second, channel, body);
        return rp;
      },
      [self](fanout_atom, const std::string& channel, const shared_body& body) {
        auto it = self->state.channels.find(channel);
        if (it != self->state.channels.end()) fan_out(self, it->second, channel, body);
      },
      [self](own_channel_atom, const std::string& channel, const caf::actor& owner) {
        own(self, channel, owner);
      },
      [self](disown_channel_atom, const std::string& channel, const caf::actor& owner) {
        auto& st = self->state;
        auto it = st.owners.find(channel);
        if (it == st.owners.end() || it->second != owner) return;
        st.owners.erase(it);
        log::info(*log::get("broker"), "channel no longer owned", {{"channel", channel}});
      },
      [self](broker_stats_atom) { return static_cast<std::uint64_t>(self->state.channels.size()); },
      [self](broker_stats_atom, const std::string& channel) {
        auto it = self->state.channels.find(channel);
        return static_cast<std::uint64_t>(it == self->state.channels.end() ? 0 : it->second.size());
      },
  };
}

}  // namespace

caf::actor spawn_broker(caf::actor_system& sys) {
  // Spawned with a dummy argument: CAF 0.17 dereferences a null tuple pointer
  // when a function actor is spawned without arguments (docs/supervision.md).
  return sys.spawn(broker_behavior, 0);
}

}  // namespace wsvisor
