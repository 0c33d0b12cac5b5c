#include "actors/upstreams.hpp"

#include <algorithm>
#include <deque>
#include <utility>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/logger.h>
#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/protocol.hpp"
#include "actors/supervisor.hpp"
#include "actors/upstream_link.hpp"
#include "config/checks.hpp"
#include "log/log.hpp"

namespace wsvisor {
namespace {

namespace json = boost::json;

struct forward {
  std::uint64_t id;
  std::string text;
};

// Bytes handed to a link's socket and not yet written, at most (one forward
// always goes, whatever its size). The rest waits in the buffer, where the
// bound applies: an upstream that reads slowly fills the buffer and loses
// the oldest forwards, counted, instead of growing the socket's queue until
// it overflows and the link is cut over and over.
constexpr std::size_t in_flight_window = 1u << 20;

struct upstream_entry {
  upstream_config cfg;
  std::string state = "connecting";
  std::string reason;           // why the last link ended
  caf::actor_addr incarnation;  // the supervisor's current link actor
  caf::actor link;              // set while that link's socket is open
  // A link may report its open socket before the supervisor's `started`
  // event for it arrives (they come from different actors): kept until then.
  caf::actor early_open;
  std::string early_subprotocol;
  std::deque<forward> buffer;   // forwards not known to be written, oldest first
  std::uint64_t next_id = 1;
  std::uint64_t sent_upto = 0;  // forwards up to this id were handed to `link`
  std::deque<std::pair<std::uint64_t, std::size_t>> in_flight;  // handed, not written: id, bytes
  std::size_t in_flight_bytes = 0;
  std::uint64_t dropped = 0;
  std::uint64_t dropped_since_up = 0;
  std::uint32_t restarts = 0;
  bool removing = false;
  // `upstream down` of a link that keeps failing: one line per
  // [log] repeat_interval, the rest counted (log/throttle.hpp).
  log::throttle downs;
};

// The supervisor renders a link's exit reason as "wsvisor: upstream_failed
// (HOW)"; reports and logs of the upstream say just HOW.
std::string link_reason(const std::string& rendered) {
  constexpr std::string_view wrapper = "wsvisor: upstream_failed (";
  if (rendered.starts_with(wrapper) && rendered.ends_with(')'))
    return rendered.substr(wrapper.size(), rendered.size() - wrapper.size() - 1);
  return rendered;
}

struct upstreams_state;
using upstreams_actor = caf::stateful_actor<upstreams_state>;

struct upstreams_state {
  static inline const char* name = "upstreams";

  explicit upstreams_state(upstreams_actor* self) : self_(self) {}

  ~upstreams_state() {
    auto& names = self_->home_system().registry();
    if (names.get<caf::actor_addr>(upstreams_name) == self_->address()) names.erase(upstreams_name);
    if (sup_) self_->send_exit(sup_, caf::exit_reason::user_shutdown);
    for (auto& e : entries_) say_held_back(e);
  }

  upstreams_state(const upstreams_state&) = delete;
  upstreams_state& operator=(const upstreams_state&) = delete;

  upstreams_actor* self_;
  std::shared_ptr<spdlog::logger> log_ = log::get("upstream");
  upstreams_options opts_;
  caf::actor sup_;
  std::vector<upstream_entry> entries_;  // config order
  bool stopping_ = false;
  caf::error stop_reason_;

  upstream_entry* by_name(const std::string& name) {
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const upstream_entry& e) { return e.cfg.name == name; });
    return it == entries_.end() ? nullptr : &*it;
  }

  upstream_entry* by_channel(const std::string& channel) {
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const upstream_entry& e) { return e.cfg.channel == channel; });
    return it == entries_.end() ? nullptr : &*it;
  }

  caf::actor broker() {
    return caf::actor_cast<caf::actor>(self_->home_system().registry().get(broker_name));
  }

  void own(const std::string& channel) {
    if (auto b = broker())
      self_->send(b, own_channel_atom::value, channel, caf::actor_cast<caf::actor>(self_));
  }

  void disown(const std::string& channel) {
    if (auto b = broker())
      self_->send(b, disown_channel_atom::value, channel, caf::actor_cast<caf::actor>(self_));
  }

  child_spec spec_for(const upstream_config& u) {
    auto weak = caf::actor_cast<caf::weak_actor_ptr>(self_);
    auto restart = opts_.policies.at(u.policy).restart;
    return child_spec{
        .name = u.name,
        .factory = [weak, u, dial = opts_.dial, max_frame = opts_.max_frame_bytes,
                    metrics = opts_.metrics](caf::actor_system& sys) -> caf::actor {
          auto owner = caf::actor_cast<caf::actor>(weak);
          if (!owner) return {};
          return spawn_upstream_link(
              sys, upstream_link_args{.config = u, .upstreams = owner, .dial = dial,
                                      .max_frame_bytes = max_frame,
                                      .metrics = metrics});
        },
        .restart = restart,
        .policy = u.policy,
    };
  }

  /// Records the state of an upstream for the metrics (wsvisor_upstream_state)
  /// and, for a required one, for readiness (GET /readyz).
  void track(const upstream_entry& e) {
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

  /// Publishes the entry's state on sys.upstream.NAME.
  void report(const upstream_entry& e, std::uint32_t attempt = 0, duration delay = duration{-1}) {
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

  /// The link ended: what it was handed but did not confirm goes again to the
  /// next one, and the bound applies from now on.
  void link_gone(upstream_entry& e, const std::string& why) {
    e.link = caf::actor{};
    e.reason = why;
    e.sent_upto = e.buffer.empty() ? e.next_id - 1 : e.buffer.front().id - 1;
    e.in_flight.clear();
    e.in_flight_bytes = 0;
    trim(e);
  }

  void trim(upstream_entry& e) {
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

  /// Hands the link what waits, in order, while the window has room.
  void flush(upstream_entry& e) {
    if (!e.link) return;
    for (auto& f : e.buffer) {
      if (f.id <= e.sent_upto) continue;
      if (!e.in_flight.empty() && e.in_flight_bytes + f.text.size() > in_flight_window) return;
      self_->send(e.link, up_send_atom::value, f.id, f.text);
      e.sent_upto = f.id;
      e.in_flight.emplace_back(f.id, f.text.size());
      e.in_flight_bytes += f.text.size();
    }
  }

  void drop_all(upstream_entry& e, const char* why) {
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

  /// The series of failures ends (the link is up, stopped or given up): a
  /// count of `upstream down` lines held back is logged.
  void say_held_back(upstream_entry& e) {
    if (auto held = e.downs.flush())
      log::info(*log_, "upstream down",
                {{"upstream", e.cfg.name}, {"reason", e.reason}, {"buffered", e.buffer.size()}},
                *held);
  }

  void on_event(const supervisor_event& ev) {
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

  void on_open(const std::string& name, const caf::actor& link, const std::string& subprotocol) {
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

  caf::result<std::uint64_t, std::string> on_forward(const std::string& channel,
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
    e->buffer.push_back(forward{id, proto::upstream_text(proto::message_body_data(*body))});
    flush(*e);
    trim(*e);
    return {std::uint64_t{0}, e->cfg.name};
  }

  void on_written(const std::string& name, std::uint64_t id) {
    auto* e = by_name(name);
    if (e == nullptr) return;
    while (!e->buffer.empty() && e->buffer.front().id <= id) e->buffer.pop_front();
    while (!e->in_flight.empty() && e->in_flight.front().first <= id) {
      e->in_flight_bytes -= e->in_flight.front().second;
      e->in_flight.pop_front();
    }
    flush(*e);
  }

  std::string check_new(const upstream_config& u, const std::string& replacing) {
    if (auto why = validate_upstream(u, opts_.policies); !why.empty()) return why;
    for (auto& e : entries_) {
      if (e.cfg.name == replacing) continue;
      if (e.cfg.name == u.name) return "an upstream named " + u.name + " exists";
      if (e.cfg.channel == u.channel)
        return "channel " + u.channel + " is owned by upstream " + e.cfg.name;
    }
    return {};
  }

  std::vector<upstream_status> status() const {
    std::vector<upstream_status> out;
    for (auto& e : entries_)
      out.push_back(upstream_status{e.cfg.name, e.cfg.channel, e.cfg.url, e.state, e.reason,
                                    e.buffer.size(), e.dropped, e.restarts});
    return out;
  }
};

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
                                                .metrics = st.opts_.metrics});
  self->monitor(st.sup_);
  log::info(*st.log_, "upstreams started", {{"upstreams", st.entries_.size()}});

  // A parent's exit signal stops the links in order (each closes its socket
  // with 1000) before this actor ends with that reason.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    if (!msg.reason || st.stopping_) return;
    st.stopping_ = true;
    st.stop_reason_ = std::move(msg.reason);
    self->send_exit(st.sup_, caf::exit_reason::user_shutdown);
  });
  self->set_down_handler([self](caf::down_msg& msg) {
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
  });

  return {
      [self](const supervisor_event& ev) { self->state.on_event(ev); },
      [self](up_open_atom, const std::string& name, const caf::actor& link,
             const std::string& subprotocol) { self->state.on_open(name, link, subprotocol); },
      [self](up_written_atom, const std::string& name, std::uint64_t id) {
        self->state.on_written(name, id);
      },
      [self](up_forward_atom, const std::string& channel, const shared_body& body) {
        return self->state.on_forward(channel, body);
      },
      [self](up_owners_atom) {
        std::vector<std::string> channels;
        for (auto& e : self->state.entries_)
          if (!e.removing) channels.push_back(e.cfg.channel);
        return channels;
      },
      [self](up_status_atom) { return self->state.status(); },
      [self](set_policies_atom, policy_map& policies) {
        // Upstreams added from now on are checked against the new names; the
        // links' supervisor restarts links under the new values.
        self->state.opts_.policies = policies;
        auto rp = self->make_response_promise();
        rp.delegate(self->state.sup_, set_policies_atom::value, std::move(policies));
        return rp;
      },
      [self](get_tree_atom) {
        auto rp = self->make_response_promise();
        rp.delegate(self->state.sup_, get_tree_atom::value);
        return rp;
      },
      [self](add_upstream_atom, upstream_config& u) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        if (auto why = st.check_new(u, {}); !why.empty())
          return make_error(errc::invalid_upstream, why);
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
      },
      [self](remove_upstream_atom, const std::string& name) -> caf::result<caf::ok_atom> {
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
      },
      [self](update_upstream_atom, upstream_config& u) -> caf::result<caf::ok_atom> {
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
      },
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
