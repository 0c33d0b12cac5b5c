#include "actors/upstream/upstreams_state.hpp"

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
#include "config/checks.hpp"
#include "log/log.hpp"
#include "protocol/codec.hpp"
#include "protocol/msgpack_codec.hpp"

namespace wsvisor::detail {

namespace json = boost::json;

// The supervisor renders a link's exit reason as "wsvisor: upstream_failed
// (HOW)"; reports and logs of the upstream say just HOW.
std::string link_reason(const std::string& rendered) {
  constexpr std::string_view wrapper = "wsvisor: upstream_failed (";
  if (rendered.starts_with(wrapper) && rendered.ends_with(')'))
    return rendered.substr(wrapper.size(), rendered.size() - wrapper.size() - 1);
  return rendered;
}

upstream_entry* upstreams_state::by_name(const std::string& name) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const upstream_entry& e) { return e.cfg.name == name; });
  return it == entries_.end() ? nullptr : &*it;
}

upstream_entry* upstreams_state::by_channel(const std::string& channel) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const upstream_entry& e) { return e.cfg.channel == channel; });
  return it == entries_.end() ? nullptr : &*it;
}

caf::actor upstreams_state::broker() {
  return caf::actor_cast<caf::actor>(self_->home_system().registry().get(broker_name));
}

void upstreams_state::own(const std::string& channel) {
  if (auto b = broker())
    self_->send(b, own_channel_atom::value, channel, caf::actor_cast<caf::actor>(self_));
}

void upstreams_state::disown(const std::string& channel) {
  if (auto b = broker())
    self_->send(b, disown_channel_atom::value, channel, caf::actor_cast<caf::actor>(self_));
}

child_spec upstreams_state::spec_for(const upstream_config& u) {
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self_);
  auto restart = opts_.policies.at(u.policy).restart;
  return child_spec{
      .name = u.name,
      .factory = [weak, u, dial = opts_.dial, max_frame = opts_.max_frame_bytes,
                  metrics = opts_.metrics](caf::actor_system& sys) -> caf::actor {
        auto owner = caf::actor_cast<caf::actor>(weak);
        if (!owner) return {};
        return spawn_upstream_link(sys, upstream_link_args{.config = u,
                                                           .upstreams = owner,
                                                           .dial = dial,
                                                           .max_frame_bytes = max_frame,
                                                           .metrics = metrics});
      },
      .restart = restart,
      .policy = u.policy,
  };
}

void upstreams_state::track(const upstream_entry& e) {
  if (opts_.metrics) {
    if (e.state == "removed")
      opts_.metrics->forget_upstream(e.cfg.name);
    else
      opts_.metrics->set_upstream_state(e.cfg.name, e.state);
  }
  if (!opts_.ready) return;
  if (e.cfg.required && e.state != "removed")
    opts_.ready->set_upstream(e.cfg.name, e.state);
  else
    opts_.ready->forget_upstream(e.cfg.name);
}

void upstreams_state::report(const upstream_entry& e, std::uint32_t attempt, duration delay) {
  track(e);
  json::object obj;
  obj["upstream"] = e.cfg.name;
  obj["state"] = e.state;
  obj["url"] = e.cfg.url;
  obj["channel"] = e.cfg.channel;
  if (!e.reason.empty() && e.state != "up" && e.state != "connecting") obj["reason"] = e.reason;
  if (delay.count() >= 0) {
    obj["attempt"] = attempt;
    obj["retry_in_ms"] = delay.count();
    obj["next_attempt_at"] = log::utc_timestamp(std::chrono::system_clock::now() + delay);
  }
  obj["buffered"] = e.buffer.size();
  obj["dropped"] = e.dropped;
  obj["restarts"] = e.restarts;
  auto channel = "sys.upstream." + e.cfg.name;
  if (auto b = broker())
    self_->send(b, fanout_atom::value, channel,
                proto::encode_message_body(channel, json::serialize(obj)));
}

void upstreams_state::link_gone(upstream_entry& e, const std::string& why) {
  e.link = caf::actor{};
  e.reason = why;
  e.sent_upto = e.buffer.empty() ? e.next_id - 1 : e.buffer.front().id - 1;
  e.in_flight.clear();
  e.in_flight_bytes = 0;
  trim(e);
}

void upstreams_state::trim(upstream_entry& e) {
  while (e.buffer.size() > e.cfg.buffer) {
    // One already handed to the open link is still on its way: it leaves the
    // buffer (no longer resent) but is not lost.
    if (e.buffer.front().id > e.sent_upto) {
      if (e.dropped_since_up == 0)
        log::warn(*log_, "upstream buffer full, dropping the oldest forwards",
                  {{"upstream", e.cfg.name}, {"buffer", e.cfg.buffer}, {"state", e.state}});
      ++e.dropped;
      ++e.dropped_since_up;
    }
    e.buffer.pop_front();
  }
}

void upstreams_state::flush(upstream_entry& e) {
  if (!e.link) return;
  for (auto& f : e.buffer) {
    if (f.id <= e.sent_upto) continue;
    if (!e.in_flight.empty() && e.in_flight_bytes + f.text.size() > in_flight_window) return;
    self_->send(e.link, upstream_send_atom::value, f.id, f.text);
    e.sent_upto = f.id;
    e.in_flight.emplace_back(f.id, f.text.size());
    e.in_flight_bytes += f.text.size();
  }
}

void upstreams_state::drop_all(upstream_entry& e, const char* why) {
  std::uint64_t unsent = 0;
  for (auto& f : e.buffer)
    if (f.id > e.sent_upto) ++unsent;
  if (unsent > 0) {
    e.dropped += unsent;
    log::warn(*log_, "upstream forwards dropped",
              {{"upstream", e.cfg.name}, {"count", unsent}, {"because", why}});
  }
  e.buffer.clear();
}

void upstreams_state::say_held_back(upstream_entry& e) {
  if (auto held = e.downs.flush())
    log::info(*log_, "upstream down",
              {{"upstream", e.cfg.name}, {"reason", e.reason}, {"buffered", e.buffer.size()}},
              *held);
}

void upstreams_state::on_event(const supervisor_event& ev) {
  auto* e = by_name(ev.child);
  if (e == nullptr) return;
  switch (ev.kind) {
    case supervisor_event_kind::started:
    case supervisor_event_kind::restarted:
      e->incarnation = ev.actor;
      e->link = caf::actor{};
      if (ev.kind == supervisor_event_kind::restarted) ++e->restarts;
      e->state = "connecting";
      report(*e);
      if (e->early_open && e->early_open.address() == ev.actor)
        on_open(e->cfg.name, e->early_open, e->early_subprotocol);
      e->early_open = caf::actor{};
      return;
    case supervisor_event_kind::exited:
      if (ev.actor != e->incarnation) return;
      link_gone(*e, link_reason(ev.reason));
      e->state = "down";
      track(*e);
      return;
    case supervisor_event_kind::restart_scheduled:
      e->state = "down";
      if (!ev.reason.empty()) e->reason = link_reason(ev.reason);
      if (auto held = log::admit(e->downs))
        log::info(*log_, "upstream down",
                  {{"upstream", e->cfg.name},
                   {"reason", e->reason},
                   {"attempt", ev.attempt},
                   {"retry_in", ev.delay},
                   {"buffered", e->buffer.size()}},
                  *held);
      report(*e, ev.attempt, ev.delay);
      return;
    case supervisor_event_kind::given_up:
      e->state = "given_up";
      e->reason = link_reason(ev.reason);
      drop_all(*e, "given up");
      say_held_back(*e);
      log::error(*log_, "upstream given up", {{"upstream", e->cfg.name}, {"reason", e->reason}});
      report(*e);
      return;
    case supervisor_event_kind::stopped:
      say_held_back(*e);  // with the reason of the last failure, not of this stop
      if (ev.actor && ev.actor == e->incarnation) link_gone(*e, link_reason(ev.reason));
      if (e->state == "given_up" || e->removing || stopping_) return;
      e->state = "stopped";
      if (!ev.reason.empty()) e->reason = link_reason(ev.reason);
      log::info(*log_, "upstream stopped", {{"upstream", e->cfg.name}, {"reason", e->reason}});
      report(*e);
      return;
  }
}

void upstreams_state::on_open(const std::string& name, const caf::actor& link,
                              const std::string& subprotocol) {
  auto* e = by_name(name);
  if (e == nullptr || !link) return;
  if (link.address() != e->incarnation) {
    // Not the current link yet: its `started` event is still on its way.
    e->early_open = link;
    e->early_subprotocol = subprotocol;
    return;
  }
  e->link = link;
  e->state = "up";
  say_held_back(*e);
  e->reason.clear();
  if (e->dropped_since_up > 0)
    log::warn(*log_, "upstream back up; forwards were dropped while it was down",
              {{"upstream", name}, {"dropped", e->dropped_since_up}});
  e->dropped_since_up = 0;
  log::info(*log_, "upstream up",
            {{"upstream", name}, {"subprotocol", subprotocol}, {"flushing", e->buffer.size()}});
  report(*e);
  flush(*e);
}

caf::result<std::uint64_t, std::string> upstreams_state::on_forward(const std::string& channel,
                                                                    const shared_body& body) {
  auto* e = by_channel(channel);
  if (e == nullptr || e->removing)
    return make_error(errc::upstream_down, "channel " + channel + " has no upstream link any more");
  if (e->state == "given_up" || e->state == "stopped")
    return make_error(errc::upstream_down, "upstream " + e->cfg.name + " is " + e->state);
  if (!e->link && e->cfg.buffer == 0)
    return make_error(errc::upstream_down,
                      "upstream " + e->cfg.name + " is " + e->state + " and buffers nothing");
  auto id = e->next_id++;
  e->buffer.push_back(forward{id, proto::upstream_text_of(*body)});
  flush(*e);
  trim(*e);
  return {std::uint64_t{0}, e->cfg.name};
}

void upstreams_state::on_written(const std::string& name, std::uint64_t id) {
  auto* e = by_name(name);
  if (e == nullptr) return;
  while (!e->buffer.empty() && e->buffer.front().id <= id) e->buffer.pop_front();
  while (!e->in_flight.empty() && e->in_flight.front().first <= id) {
    e->in_flight_bytes -= e->in_flight.front().second;
    e->in_flight.pop_front();
  }
  flush(*e);
}

std::string upstreams_state::check_new(const upstream_config& u, const std::string& replacing) {
  if (auto why = validate_upstream(u, opts_.policies); !why.empty()) return why;
  for (auto& e : entries_) {
    if (e.cfg.name == replacing) continue;
    if (e.cfg.name == u.name) return "an upstream named " + u.name + " exists";
    if (e.cfg.channel == u.channel)
      return "channel " + u.channel + " is owned by upstream " + e.cfg.name;
  }
  return {};
}

std::vector<upstream_status> upstreams_state::status() const {
  std::vector<upstream_status> out;
  for (auto& e : entries_)
    out.push_back(upstream_status{e.cfg.name, e.cfg.channel, e.cfg.url, e.state, e.reason,
                                  e.buffer.size(), e.dropped, e.restarts});
  return out;
}

}  // namespace wsvisor::detail
