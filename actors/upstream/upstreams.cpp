#include "actors/upstream/upstreams.hpp"

#include <algorithm>
#include <deque>
#include <utility>

#include <spdlog/logger.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/messages.hpp"
#include "actors/supervision/messages.hpp"
#include "actors/supervision/node_counters.hpp"
#include "actors/supervision/supervisor.hpp"
#include "actors/upstream/messages.hpp"
#include "actors/upstream/upstream_link.hpp"
#include "actors/upstream/upstreams_state.hpp"
#include "config/checks.hpp"
#include "log/log.hpp"
#include "protocol/codec.hpp"

namespace wsvisor {
namespace {

using namespace detail;

auto on_exit(upstreams_actor* self, caf::exit_msg& msg) {
  auto& st = self->state;
  if (!msg.reason || st.stopping_) return;
  st.stopping_ = true;
  st.stop_reason_ = std::move(msg.reason);
  self->send_exit(st.sup_, caf::exit_reason::user_shutdown);
}

auto on_down(upstreams_actor* self, caf::down_msg& msg) {
  auto& st = self->state;
  if (msg.source != st.sup_.address()) return;
  st.sup_ = caf::actor{};
  if (st.stopping_) return self->quit(st.stop_reason_);
  // Escalation: a link gave up under on_give_up = escalate.
  std::uint64_t buffered = 0;
  for (auto& e : st.entries_) buffered += e.buffer.size();
  log::error(*st.log_, "upstream links' supervisor ended; upstreams end with it",
             {{"reason", describe(self->home_system(), msg.reason)},
              {"buffered_forwards_lost", buffered}});
  self->quit(std::move(msg.reason));
}

auto on_owned_channels(upstreams_actor* self) {
  std::vector<std::string> channels;
  for (auto& e : self->state.entries_)
    if (!e.removing) channels.push_back(e.cfg.channel);
  return channels;
}

auto on_set_policies(upstreams_actor* self, policy_map& policies) {
  // Upstreams added from now on are checked against the new names; the
  // links' supervisor restarts links under the new values.
  self->state.opts_.policies = policies;
  auto rp = self->make_response_promise();
  rp.delegate(self->state.sup_, set_policies_atom::value, std::move(policies));
  return rp;
}

auto on_get_tree(upstreams_actor* self) {
  auto rp = self->make_response_promise();
  rp.delegate(self->state.sup_, get_tree_atom::value);
  return rp;
}

caf::result<caf::ok_atom> on_add_upstream(upstreams_actor* self, upstream_config& u) {
  auto& st = self->state;
  if (auto why = st.check_new(u, {}); !why.empty()) return make_error(errc::invalid_upstream, why);
  auto rp = self->make_response_promise<caf::ok_atom>();
  st.entries_.push_back(upstream_entry{.cfg = u});
  st.track(st.entries_.back());
  st.own(u.channel);
  self->request(st.sup_, caf::infinite, add_child_atom::value, st.spec_for(u))
      .then(
          [self, rp, name = u.name](caf::ok_atom) mutable {
            log::info(*self->state.log_, "upstream added", {{"upstream", name}});
            rp.deliver(caf::ok_atom::value);
          },
          [self, rp, name = u.name, channel = u.channel](caf::error& err) mutable {
            auto& st = self->state;
            std::erase_if(st.entries_, [&](const upstream_entry& e) { return e.cfg.name == name; });
            if (st.opts_.ready) st.opts_.ready->forget_upstream(name);
            st.disown(channel);
            rp.deliver(std::move(err));
          });
  return rp;
}

caf::result<caf::ok_atom> on_remove_upstream(upstreams_actor* self, const std::string& name) {
  auto& st = self->state;
  auto* e = st.by_name(name);
  if (e == nullptr || e->removing) return make_error(errc::unknown_child, name);
  e->removing = true;
  auto rp = self->make_response_promise<caf::ok_atom>();
  self->request(st.sup_, caf::infinite, remove_child_atom::value, name)
      .then(
          [self, rp, name](caf::ok_atom) mutable {
            auto& st = self->state;
            if (auto* e = st.by_name(name)) {
              st.say_held_back(*e);
              st.drop_all(*e, "removed");
              e->state = "removed";
              st.report(*e);
              st.disown(e->cfg.channel);
              std::erase_if(st.entries_,
                            [&](const upstream_entry& x) { return x.cfg.name == name; });
            }
            log::info(*st.log_, "upstream removed", {{"upstream", name}});
            rp.deliver(caf::ok_atom::value);
          },
          [self, rp, name](caf::error& err) mutable {
            if (auto* e = self->state.by_name(name)) e->removing = false;
            rp.deliver(std::move(err));
          });
  return rp;
}

caf::result<caf::ok_atom> on_update_upstream(upstreams_actor* self, upstream_config& u) {
  auto& st = self->state;
  auto* e = st.by_name(u.name);
  if (e == nullptr || e->removing) return make_error(errc::unknown_child, u.name);
  if (auto why = st.check_new(u, u.name); !why.empty())
    return make_error(errc::invalid_upstream, why);
  auto rp = self->make_response_promise<caf::ok_atom>();
  e->removing = true;  // no forwards and no reports while it is replaced
  self->request(st.sup_, caf::infinite, remove_child_atom::value, u.name)
      .then(
          [self, rp, u](caf::ok_atom) mutable {
            auto& st = self->state;
            auto* e = st.by_name(u.name);
            if (e == nullptr) {
              rp.deliver(make_error(errc::unknown_child, u.name));
              return;
            }
            st.say_held_back(*e);
            if (e->cfg.channel != u.channel) {
              st.drop_all(*e, "channel changed");
              st.disown(e->cfg.channel);
              st.own(u.channel);
            }
            e->cfg = u;
            e->removing = false;
            e->state = "connecting";
            st.track(*e);
            st.trim(*e);
            self->request(st.sup_, caf::infinite, add_child_atom::value, st.spec_for(u))
                .then([rp](caf::ok_atom) mutable { rp.deliver(caf::ok_atom::value); },
                      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
            log::info(*st.log_, "upstream changed", {{"upstream", u.name}, {"url", u.url}});
          },
          [self, rp, name = u.name](caf::error& err) mutable {
            if (auto* e = self->state.by_name(name)) e->removing = false;
            rp.deliver(std::move(err));
          });
  return rp;
}

caf::behavior upstreams_behavior(upstreams_actor* self, upstreams_options opts) {
  auto& st = self->state;
  st.opts_ = std::move(opts);
  std::vector<child_spec> children;
  for (auto& u : st.opts_.upstreams) {
    st.entries_.push_back(upstream_entry{.cfg = u});
    st.track(st.entries_.back());
    children.push_back(st.spec_for(u));
    st.own(u.channel);
  }
  st.sup_ = spawn_supervisor(self->home_system(),
                             supervisor_options{.name = "upstream_links",
                                                .strategy = st.opts_.strategy,
                                                .policies = st.opts_.policies,
                                                .children = std::move(children),
                                                .observer = caf::actor_cast<caf::actor>(self),
                                                .seed = st.opts_.seed,
                                                .shutdown_timeout = st.opts_.shutdown_timeout,
                                                .counters = counters_of(st.opts_.metrics)});
  self->monitor(st.sup_);
  log::info(*st.log_, "upstreams started", {{"upstreams", st.entries_.size()}});

  // A parent's exit signal stops the links in order (each closes its socket
  // with 1000) before this actor ends with that reason.
  self->set_exit_handler([self](caf::exit_msg& msg) { return on_exit(self, msg); });
  self->set_down_handler([self](caf::down_msg& msg) { return on_down(self, msg); });

  return {
      [self](const supervisor_event& ev) { self->state.on_event(ev); },
      [self](upstream_open_atom, const std::string& name, const caf::actor& link,
             const std::string& subprotocol) { self->state.on_open(name, link, subprotocol); },
      [self](upstream_written_atom, const std::string& name, std::uint64_t id) {
        self->state.on_written(name, id);
      },
      [self](owner_publish_atom, const std::string& channel, const shared_body& body) {
        return self->state.on_forward(channel, body);
      },
      [self](owned_channels_atom) { return on_owned_channels(self); },
      [self](upstream_status_atom) { return self->state.status(); },
      [self](set_policies_atom, policy_map& policies) { return on_set_policies(self, policies); },
      [self](get_tree_atom) { return on_get_tree(self); },
      [self](add_upstream_atom, upstream_config& u) { return on_add_upstream(self, u); },
      [self](remove_upstream_atom, const std::string& name) {
        return on_remove_upstream(self, name);
      },
      [self](update_upstream_atom, upstream_config& u) { return on_update_upstream(self, u); },
  };
}

}  // namespace

std::string validate_upstream(const upstream_config& u,
                              const std::map<std::string, policy>& policies) {
  if (!is_node_name(u.name)) return "name: expected 1 to 64 of A-Z a-z 0-9 _ . -";
  if (!is_ws_url(u.url)) return "url: expected a ws:// or wss:// URL with a host, got " + u.url;
  if (!proto::valid_channel(u.channel) || proto::reserved_channel(u.channel))
    return "channel: expected 1 to 128 of A-Z a-z 0-9 _ . : - not starting with sys., got " +
           u.channel;
  if (!policies.contains(u.policy)) return "policy: unknown policy " + u.policy;
  return {};
}

caf::actor spawn_upstreams(caf::actor_system& sys, upstreams_options opts) {
  auto ups = sys.spawn(upstreams_behavior, std::move(opts));
  // Named before the first message, so that a broker starting now finds it.
  sys.registry().put(upstreams_name, ups);
  return ups;
}

}  // namespace wsvisor
