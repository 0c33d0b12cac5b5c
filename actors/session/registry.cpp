#include "actors/session/registry.hpp"

#include <spdlog/logger.h>

#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_response_promise.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actors/errors.hpp"
#include "actors/ids.hpp"
#include "actors/messages.hpp"
#include "actors/session/broker.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "actors/session/parked_session.hpp"
#include "actors/session/registry_state.hpp"
#include "log/log.hpp"

namespace wsvisor {
namespace {

using detail::registry_actor;
using detail::resume_request;

auto on_exit(registry_actor* self, caf::exit_msg& msg) {
  auto& st = self->state;
  if (st.linked_.erase(msg.source) > 0) return;  // a session ended: its down_msg handles it
  if (msg.source == st.broker_.address()) {
    log::error(*st.log_, "broker ended, the session registry ends with it",
               {{"reason", describe(self->home_system(), msg.reason)}});
    self->quit(std::move(msg.reason));
    return;
  }
  // A parent's exit signal. A normal one never stops an actor in CAF; keep that.
  if (msg.reason) self->quit(std::move(msg.reason));
}

auto on_down(registry_actor* self, caf::down_msg& msg) {
  auto& st = self->state;
  auto it = st.ids_.find(msg.source);
  if (it == st.ids_.end()) return;
  auto id = std::move(it->second);
  st.ids_.erase(it);
  auto* slot = st.find(id);
  // A session that parked ended after handing its record over: its entry
  // is the record's now (or the actor's spawned for it since).
  if (slot == nullptr || slot->actor.address() != msg.source) return;
  if (msg.reason == errc::session_expired) st.remember_expired(id, slot->token);
  st.forget(id);
}

caf::result<caf::actor> on_hello(registry_actor* self, caf::actor& conn, transport_ptr& transport,
                                 client_identity& who) {
  auto rp = self->make_response_promise();
  self->state.create(rp, std::move(conn), std::move(transport), {}, std::move(who));
  return rp;
}

caf::result<caf::actor> on_resume(registry_actor* self, caf::actor& conn, transport_ptr& transport,
                                  std::string& id, std::string& token, std::uint64_t last_seq,
                                  client_identity& who) {
  // Every answer names the session once its welcome is on the transport:
  // a resumed one has written it before saying ok, a new one is asked
  // (welcomed_atom) and answers the connection directly.
  auto rp = self->make_response_promise();
  self->state.resume(resume_request{rp, std::move(conn), std::move(transport), std::move(id),
                                    std::move(token), last_seq, std::move(who)});
  return rp;
}

caf::result<caf::actor> on_cluster_lookup(registry_actor* self, std::string& id,
                                          std::string& token) {
  auto rp = self->make_response_promise();
  self->state.lookup(rp, std::move(id), std::move(token));
  return rp;
}

caf::result<caf::actor> on_adopt_session(registry_actor* self, session_handover& h) {
  auto& st = self->state;
  if (st.sessions_.count(h.id) > 0) return make_error(errc::duplicate_child, h.id);
  // Before the promise: making it takes the sender out of the message.
  auto predecessor = caf::actor_cast<caf::actor>(self->current_sender());
  auto rp = self->make_response_promise();
  rp.delegate(st.adopt(std::move(h), std::move(predecessor)), welcomed_atom::value);
  return rp;
}

caf::result<std::uint64_t, std::uint64_t> on_drain(registry_actor* self, duration bound) {
  auto& st = self->state;
  auto rp = self->make_response_promise<std::uint64_t, std::uint64_t>();
  auto cluster = self->home_system().registry().get<caf::actor>(cluster_name);
  if (!cluster || st.sessions_.empty()) {
    rp.deliver(std::uint64_t{0}, static_cast<std::uint64_t>(st.sessions_.size()));
    return rp;
  }
  self->request(cluster, bound, handover_targets_atom::value)
      .then(
          [self, rp, bound](std::vector<caf::actor>& clusters,
                            std::vector<std::string>& urls) mutable {
            self->state.start_drain(rp, std::move(clusters), std::move(urls), bound);
          },
          [self, rp](caf::error&) mutable {
            rp.deliver(std::uint64_t{0}, static_cast<std::uint64_t>(self->state.sessions_.size()));
          });
  return rp;
}

auto on_drain_bound_passed(registry_actor* self, std::uint64_t generation) {
  // The drain's bound passed.
  auto& st = self->state;
  if (st.drain_ && st.drain_->generation == generation) st.finish_drain(true);
}

auto on_registry_settings(registry_actor* self, registry_settings& settings) {
  auto& o = self->state.opts_;
  o.session = settings.session;
  o.max_sessions = settings.max_sessions;
  o.max_subscriptions = settings.max_subscriptions;
  o.max_channels = settings.max_channels;
  o.max_members = settings.max_members;
  self->send(self->state.broker_, broker_limit_atom::value, settings.max_channels,
             settings.max_members, settings.session.resume_window);
  return caf::ok_atom::value;
}

caf::result<session_info> on_admin_info(registry_actor* self, std::string& id) {
  auto rp = self->make_response_promise();
  self->state.info(rp, std::move(id));
  return rp;
}

caf::result<caf::ok_atom> on_admin_end(registry_actor* self, std::string& id) {
  auto rp = self->make_response_promise();
  self->state.end(rp, std::move(id));
  return rp;
}

caf::result<caf::ok_atom> on_admin_cut(registry_actor* self, std::string& id) {
  auto rp = self->make_response_promise();
  self->state.cut(rp, std::move(id));
  return rp;
}

// The predecessor of an adopted session gave the handover up: the session
// decides (only an adoption from this sender, not yet done, ends).
void on_handoff_abort(registry_actor* self, const std::string& id) {
  if (auto* slot = self->state.find(id); slot != nullptr && slot->actor)
    self->delegate(slot->actor, handoff_abort_atom::value);
}

// A gap for the parked sessions on `channel` is a delivery without a body:
// it takes a seq, lost.
void on_channel_gap(registry_actor* self, const std::string& channel) {
  self->state.on_delivery(channel, nullptr, 0, 0, 0);
}

caf::message on_admin_list(registry_actor* self, const std::string& after, std::uint64_t limit) {
  auto [ids, sessions, more] = self->state.page(after, limit);
  return caf::make_message(std::move(ids), std::move(sessions), more);
}

caf::behavior registry_behavior(registry_actor* self, registry_options opts, caf::actor broker) {
  auto& st = self->state;
  st.opts_ = std::move(opts);
  st.broker_ = std::move(broker);
  self->link_to(st.broker_);
  self->set_exit_handler([self](caf::exit_msg& msg) { return on_exit(self, msg); });
  self->set_down_handler([self](caf::down_msg& msg) { return on_down(self, msg); });

  return {
      [self](hello_atom, caf::actor& conn, transport_ptr& transport, client_identity& who) {
        return on_hello(self, conn, transport, who);
      },
      [self](resume_atom, caf::actor& conn, transport_ptr& transport, std::string& id,
             std::string& token, std::uint64_t last_seq, client_identity& who) {
        return on_resume(self, conn, transport, id, token, last_seq, who);
      },
      [self](cluster_lookup_atom, std::string& id, std::string& token) {
        return on_cluster_lookup(self, id, token);
      },
      [self](adopt_session_atom, session_handover& h) { return on_adopt_session(self, h); },
      [self](handoff_abort_atom, const std::string& id) { on_handoff_abort(self, id); },
      // -- parking (actors/session/registry_state.hpp) --
      [self](parked_moved_atom, const std::string& id, std::vector<std::string>& channels) {
        self->state.on_notice(id, std::move(channels));
      },
      [self](parked_atom, const std::string& id, parked_session& rec) {
        self->state.on_record(id, std::move(rec));
      },
      [self](deliver_atom, const std::string& channel, const shared_body& body,
             std::uint64_t origin, std::uint64_t counter, std::int64_t accepted) {
        self->state.on_delivery(channel, body, origin, counter, accepted);
      },
      [self](channel_gap_atom, const std::string& channel) { on_channel_gap(self, channel); },
      [self](parked_expire_atom, std::uint64_t generation) {
        if (generation == self->state.expiry_generation_) self->state.expire_due();
      },
      [self](parked_count_atom) { return static_cast<std::uint64_t>(self->state.lot_.queued()); },
      // -- drain --
      [self](drain_atom, duration bound) { return on_drain(self, bound); },
      [self](drain_bound_atom, std::uint64_t generation) {
        return on_drain_bound_passed(self, generation);
      },
      [self](registry_settings_atom, registry_settings& settings) {
        return on_registry_settings(self, settings);
      },
      [self](registry_stats_atom) {
        return static_cast<std::uint64_t>(self->state.sessions_.size());
      },
      // -- admin API --
      [self](admin_list_atom, const std::string& after, std::uint64_t limit) {
        return on_admin_list(self, after, limit);
      },
      [self](admin_info_atom, std::string& id) { return on_admin_info(self, id); },
      [self](admin_end_atom, std::string& id) { return on_admin_end(self, id); },
      [self](admin_cut_atom, std::string& id) { return on_admin_cut(self, id); },
  };
}

}  // namespace

caf::actor spawn_registry(caf::actor_system& sys, registry_options opts) {
  // Both are spawned and named here rather than in the registry's first
  // activation, so that a connection created right after this call finds
  // them. The registry links to its broker before it handles any message.
  auto broker =
      spawn_broker(sys, opts.node.empty() ? 0 : new_origin(), opts.max_channels, opts.metrics);
  // First in its mailbox: no one else knows the broker yet.
  caf::anon_send(broker, broker_limit_atom::value, opts.max_channels, opts.max_members,
                 opts.session.resume_window);
  auto registry = sys.spawn(registry_behavior, std::move(opts), broker);
  sys.registry().put(session_registry_name, registry);
  sys.registry().put(broker_name, broker);
  log::info(*log::get("registry"), "session registry started");
  return registry;
}

}  // namespace wsvisor
