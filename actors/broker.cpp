#include "actors/broker.hpp"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

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
};

using broker_actor = caf::stateful_actor<broker_state>;

void remove(broker_state& st, const std::string& channel, const caf::actor_addr& who) {
  auto it = st.channels.find(channel);
  if (it == st.channels.end()) return;
  it->second.erase(who);
  if (it->second.empty()) st.channels.erase(it);
}

caf::behavior broker_behavior(broker_actor* self, int /*unused*/) {
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
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
      [self](publish_atom, const std::string& channel, const shared_body& body) {
        auto it = self->state.channels.find(channel);
        if (it == self->state.channels.end()) return;
        // One message for all: CAF messages are reference-counted and
        // immutable while shared, so each send only bumps a count.
        auto msg = caf::make_message(deliver_atom::value, channel, body);
        for (auto& [addr, who] : it->second) self->send(who, msg);
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
