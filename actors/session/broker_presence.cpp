// The broker's presence (docs/protocol.md, "Presence";
// actors/session/broker_state.hpp): who is a member of which channel, and
// the presence events, which travel on the channel as messages do (each
// session numbers, buffers and replays them; only members receive them,
// actors/session/session_handover.cpp append).

#include "actors/session/broker_state.hpp"

#include <string>
#include <utility>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/message.hpp>

#include "actors/errors.hpp"
#include "log/log.hpp"

namespace wsvisor::detail {
namespace {

// How long a broker waits for a peer's members (ask_presence_rows); a
// peer slower than this is lost soon anyway (peer_timeout).
constexpr auto peer_ask_timeout = std::chrono::seconds{5};

using proto::presence_state;

/// The gauge of this node's memberships, by `n`.
void count_members(broker_state& st, std::int64_t n) {
  if (st.metrics && n != 0) st.metrics->presence_members.add(n);
}

/// A change of this node's member: noted, then published on the channel
/// like any message (to local subscribers and to peers that want it).
void emit(broker_actor* self, const std::string& channel, const std::string& member,
          const std::string& subject_json, presence_state state) {
  auto& st = self->state;
  // publish_here stamps it with the next counter. One that changes nothing
  // here (a session adopted from a lost node: away there, away here) still
  // goes to the peers, whose rows move to this node.
  bool changed = st.presence.apply(channel, member, subject_json, state, st.origin, st.counter + 1);
  publish_here(self, channel, proto::encode_presence_body(channel, member, subject_json, state),
               changed);
}

/// A change this node saw of a peer's member (the peer was lost): to local
/// subscribers only; every node tells its own.
void tell_locally(broker_actor* self, const presence_table::change& c, presence_state state) {
  auto& st = self->state;
  auto it = st.channels.find(c.channel);
  if (it == st.channels.end()) return;
  auto body = proto::encode_presence_body(c.channel, c.member, c.subject_json, state);
  auto msg = caf::make_message(deliver_atom::value, c.channel, body, st.origin, ++st.counter,
                               steady_clock_ns());
  for (auto& [addr, who] : it->second) self->send(who, msg);
}

void leave_all(broker_actor* self, const std::string& member) {
  auto& st = self->state;
  auto it = st.members.find(member);
  if (it == st.members.end()) return;
  auto m = std::move(it->second);
  st.members.erase(it);
  if (m.holder) st.member_by_holder.erase(m.holder);
  for (auto& channel : m.channels)
    emit(self, channel, member, m.subject_json, presence_state::gone);
  count_members(st, -static_cast<std::int64_t>(m.channels.size()));
}

}  // namespace

caf::result<caf::ok_atom> on_presence_join(broker_actor* self, const std::string& channel,
                                           const std::string& member,
                                           const std::string& subject_json, bool online) {
  auto& st = self->state;
  auto holder = self->current_sender() ? self->current_sender()->address() : caf::actor_addr{};
  if (st.max_members != 0 && !st.presence.has(channel, member) &&
      st.presence.members(channel) >= st.max_members)
    return make_error(errc::too_many_members, std::to_string(st.max_members));
  auto& m = st.members[member];
  if (m.holder != holder) {
    if (m.holder) st.member_by_holder.erase(m.holder);
    m.holder = holder;
    st.member_by_holder[holder] = member;
  }
  m.subject_json = subject_json;
  m.online = online;
  if (m.channels.insert(channel).second) count_members(st, 1);
  emit(self, channel, member, subject_json, online ? presence_state::online : presence_state::away);
  return caf::ok_atom::value;
}

void on_presence_state(broker_actor* self, bool online) {
  auto& st = self->state;
  if (!self->current_sender()) return;
  auto h = st.member_by_holder.find(self->current_sender()->address());
  if (h == st.member_by_holder.end()) return;
  auto& m = st.members.at(h->second);
  if (m.online == online) return;
  m.online = online;
  for (auto& channel : m.channels)
    emit(self, channel, h->second, m.subject_json,
         online ? presence_state::online : presence_state::away);
}

void presence_leave(broker_actor* self, const std::string& channel, const caf::actor_addr& holder) {
  auto& st = self->state;
  auto h = st.member_by_holder.find(holder);
  if (h == st.member_by_holder.end()) return;
  auto member = h->second;
  auto& m = st.members.at(member);
  if (m.channels.erase(channel) == 0) return;
  emit(self, channel, member, m.subject_json, presence_state::gone);
  count_members(st, -1);
  if (m.channels.empty()) {
    st.members.erase(member);
    st.member_by_holder.erase(holder);
  }
}

void presence_handed(broker_actor* self) {
  auto& st = self->state;
  if (!self->current_sender()) return;
  auto h = st.member_by_holder.find(self->current_sender()->address());
  if (h == st.member_by_holder.end()) return;
  auto it = st.members.find(h->second);
  count_members(st, -static_cast<std::int64_t>(it->second.channels.size()));
  st.members.erase(it);
  st.member_by_holder.erase(h);
}

void presence_holder_down(broker_actor* self, const caf::actor_addr& holder) {
  auto& st = self->state;
  auto h = st.member_by_holder.find(holder);
  if (h == st.member_by_holder.end()) return;
  leave_all(self, std::string{h->second});
}

void presence_parked(broker_actor* self, const caf::actor_addr& holder) {
  auto& st = self->state;
  auto h = st.member_by_holder.find(holder);
  if (h == st.member_by_holder.end()) return;
  auto member = h->second;
  st.member_by_holder.erase(h);
  auto& m = st.members.at(member);
  m.holder = {};
  // A session parks once detached, after it said so (away).
  if (m.online) {
    m.online = false;
    for (auto& channel : m.channels)
      emit(self, channel, member, m.subject_json, presence_state::away);
  }
}

void presence_unparked(broker_actor* self, const caf::actor& session, const std::string& member) {
  auto& st = self->state;
  if (member.empty()) return;
  auto it = st.members.find(member);
  if (it == st.members.end()) return;
  if (!session) return leave_all(self, member);
  if (it->second.holder) st.member_by_holder.erase(it->second.holder);
  it->second.holder = session.address();
  st.member_by_holder[session.address()] = member;
}

caf::result<std::string> presence_members(broker_actor* self, const std::string& channel) {
  auto& st = self->state;
  auto it = st.presence_asked.find(channel);
  if (it == st.presence_asked.end()) return st.presence.members_json(channel);
  auto rp = self->make_response_promise<std::string>();
  it->second.queries.push_back(rp);
  return rp;
}

bool presence_from_peer(broker_actor* self, const std::string& body, std::uint64_t origin,
                        std::uint64_t counter) {
  auto f = proto::read_presence_body(body);
  if (!f) return false;
  return self->state.presence.apply(std::string{f->channel}, f->member, f->subject_json, f->state,
                                    origin, counter);
}

caf::message presence_rows(broker_actor* self, const std::string& channel) {
  auto& st = self->state;
  std::vector<std::string> bodies;
  for (auto& body : st.presence.rows_from(channel, st.origin)) bodies.push_back(*body);
  return caf::make_message(st.origin, st.counter, std::move(bodies));
}

void ask_presence_rows(broker_actor* self, const std::string& channel) {
  auto& st = self->state;
  auto it = st.remote.find(channel);
  if (it == st.remote.end() || it->second.empty()) return;
  st.presence_asked[channel].due += it->second.size();
  // Queries on the channel wait until every peer answered (or failed to).
  auto answered = [self, channel] {
    auto& asked = self->state.presence_asked;
    auto a = asked.find(channel);
    if (a == asked.end() || --a->second.due > 0) return;
    auto queries = std::move(a->second.queries);
    asked.erase(a);
    auto members = self->state.presence.members_json(channel);
    for (auto& rp : queries) rp.deliver(members);
  };
  for (auto& peer : it->second)
    self->request(peer, peer_ask_timeout, presence_rows_atom::value, channel)
        .then(
            [self, channel, answered, peer = peer.address()](
                std::uint64_t origin, std::uint64_t taken_at,
                const std::vector<std::string>& bodies) {
              self->state.peer_origins[peer].insert(origin);
              self->state.presence.merge(channel, origin, taken_at, bodies);
              answered();
            },
            [channel, answered](caf::error& err) {
              log::warn(*log::get("broker"), "a peer did not say who is present",
                        {{"channel", channel}, {"error", caf::to_string(err)}});
              answered();
            });
}

void presence_peer_lost(broker_actor* self, const caf::actor& peer) {
  auto& st = self->state;
  auto it = st.peer_origins.find(peer.address());
  if (it == st.peer_origins.end()) return;
  auto origins = std::move(it->second);
  st.peer_origins.erase(it);
  for (auto origin : origins) {
    for (auto& c : st.presence.away_from(origin)) tell_locally(self, c, presence_state::away);
    self->delayed_send(self, st.presence_window, presence_expire_atom::value, origin);
  }
}

void presence_expire(broker_actor* self, std::uint64_t origin) {
  // Rows a node adopting the sessions changed since carry its origin now.
  for (auto& c : self->state.presence.drop_from(origin))
    tell_locally(self, c, presence_state::gone);
}

}  // namespace wsvisor::detail
