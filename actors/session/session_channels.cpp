// A session's channels: what it answers to subscribe and unsubscribe, and
// its presence memberships (docs/protocol.md, "Presence"): joining, its
// connection's coming and going, the members query, and which presence
// events are for it. Part of session_state
// (actors/session/session_state.hpp); the broker keeps the subscribers and
// the members (actors/session/broker.cpp, broker_presence.cpp).

#include "actors/session/session_state.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/errors.hpp"

namespace wsvisor {

void session_state::on_subscribe(const std::string& channel, bool presence) {
  if (!from_current()) return;
  if (presence) presence_asked_.insert(channel);
  if (auto decided = decide_subscribe(channel, 0)) {
    if (!decided->empty()) reply(std::move(*decided));
    return;
  }
  answers_.reserve_undecided(channel);
}

void session_state::on_unsubscribe(const std::string& channel) {
  if (!from_current()) return;
  presence_asked_.erase(channel);
  presence_.erase(channel);
  if (channels_.erase(channel) > 0) {
    self_->send(broker_, broker_unsubscribe_atom::value, channel,
                caf::actor_cast<caf::actor>(self_));
    forward_sub(channel, false);
  }
  auto ticket = expect_answer(0);
  after_replicated(
      changed(), [this, ticket, channel] { answer(ticket, proto::encode_unsubscribed(channel)); });
}

std::optional<std::string> session_state::decide_subscribe(const std::string& channel,
                                                           std::uint64_t ticket) {
  if (channels_.count(channel) > 0) {
    if (subscribes_at_broker_.count(channel) > 0) return std::nullopt;
    if (presence_asked_.count(channel) > 0 && presence_.count(channel) == 0) {
      if (ticket == 0) ticket = expect_answer(0);
      join_presence(channel, ticket, false, 0);
      return std::string{};
    }
    presence_asked_.erase(channel);
    return proto::encode_subscribed(channel);
  }
  if (!channel_allowed(identity_, channel)) {
    presence_asked_.erase(channel);
    return proto::encode_error(proto::error_code::forbidden,
                               "subscribe: channel " + channel + " is not allowed by your token");
  }
  if (max_subscriptions_ != 0 && channels_.size() >= max_subscriptions_) {
    if (!subscribes_at_broker_.empty()) return std::nullopt;
    presence_asked_.erase(channel);
    return proto::encode_error(proto::error_code::too_many_subscriptions,
                               "subscribe: this session holds its limit of " +
                                   std::to_string(max_subscriptions_) + " subscriptions");
  }
  channels_.insert(channel);
  subscribes_at_broker_.insert(channel);
  forward_sub(channel, true);
  // The replica's node subscribes while ours does.
  auto change = changed();
  replicate();
  // Answered once the broker (and, on a cluster node, every peer) has
  // the subscription: `subscribed` means publishes from now on arrive.
  if (ticket == 0) ticket = expect_answer(0);
  auto* self = self_;
  self->request(broker_, caf::infinite, broker_subscribe_atom::value, channel,
                caf::actor_cast<caf::actor>(self))
      .then(
          [self, ticket, channel, change](caf::ok_atom) {
            auto& st = self->state;
            st.subscribes_at_broker_.erase(st.subscribes_at_broker_.find(channel));
            if (st.presence_asked_.count(channel) > 0)
              return st.join_presence(channel, ticket, true, change);
            // `subscribed` once the replica's node receives the channel too.
            st.after_replicated(change, [self, ticket, channel] {
              self->state.answer(ticket, proto::encode_subscribed(channel));
            });
          },
          [self, ticket, channel](caf::error& err) {
            // The node's channel limit is the only refusal; anything
            // else means the broker is gone.
            if (err != errc::too_many_channels) return self->quit(std::move(err));
            auto& st = self->state;
            st.log_refusal(channel, context_of(err));
            st.subscribes_at_broker_.erase(st.subscribes_at_broker_.find(channel));
            st.channels_.erase(channel);
            st.presence_asked_.erase(channel);
            st.forward_sub(channel, false);
            st.answer(ticket, proto::encode_error(proto::error_code::too_many_channels,
                                                  "subscribe: this node holds its limit of " +
                                                      context_of(err) + " channels"));
          });
  return std::string{};
}

bool session_state::wants(const std::string& channel, const std::string& body) const {
  if (!proto::is_presence_body(body)) return true;
  if (presence_.count(channel) == 0) return false;
  auto f = proto::read_presence_body(body);
  return f && f->member != member_;
}

void session_state::join_presence(const std::string& channel, std::uint64_t ticket, bool fresh,
                                  std::uint64_t change) {
  presence_asked_.erase(channel);
  auto* self = self_;
  self->request(broker_, caf::infinite, presence_join_atom::value, channel, member_,
                proto::presence_subject_json(identity_.subject), conn_ != nullptr)
      .then(
          [self, ticket, channel, change](caf::ok_atom) {
            auto& st = self->state;
            // Unsubscribed meanwhile: the broker ended the membership with
            // the subscription (it came after the join).
            if (st.channels_.count(channel) == 0)
              return st.answer(ticket, proto::encode_subscribed(channel));
            st.presence_.insert(channel);
            st.after_replicated(change, [self, ticket, channel] {
              self->state.answer(ticket, proto::encode_subscribed(channel));
            });
          },
          [self, ticket, channel, fresh](caf::error& err) {
            if (err != errc::too_many_members) return self->quit(std::move(err));
            auto& st = self->state;
            if (fresh && st.channels_.erase(channel) > 0) {
              self->send(st.broker_, broker_unsubscribe_atom::value, channel,
                         caf::actor_cast<caf::actor>(self));
              st.forward_sub(channel, false);
            }
            st.answer(ticket,
                      proto::encode_error(proto::error_code::too_many_members,
                                          "subscribe: channel " + channel + " holds its limit of " +
                                              context_of(err) + " presence members"));
          });
}

void session_state::say_presence(bool online) {
  if (!presence_.empty()) self_->send(broker_, presence_state_atom::value, online);
}

void session_state::on_presence_query(const std::string& channel) {
  if (!from_current()) return;
  if (channels_.count(channel) == 0) {
    reply(proto::encode_error(proto::error_code::not_subscribed,
                              "presence: this session is not subscribed to " + channel));
    return;
  }
  auto ticket = expect_answer(0);
  auto* self = self_;
  self->request(broker_, caf::infinite, presence_query_atom::value, channel)
      .then(
          [self, ticket, channel](const std::string& members) {
            self->state.answer(ticket, proto::encode_presence_members(channel, members));
          },
          [self](caf::error& err) { self->quit(std::move(err)); });
}

}  // namespace wsvisor
