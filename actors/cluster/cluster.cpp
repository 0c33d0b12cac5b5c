#include "actors/cluster/cluster.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/logger.h>
#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/cluster/cluster_state.hpp"
#include "actors/cluster/messages.hpp"
#include "actors/cluster/peer_link.hpp"
#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/supervision/messages.hpp"
#include "actors/supervision/node_counters.hpp"
#include "actors/supervision/supervisor.hpp"
#include "log/log.hpp"

namespace wsvisor {

std::string home_node_of(const std::string& session_id) {
  auto dot = session_id.rfind('.');
  return dot == std::string::npos ? std::string{} : session_id.substr(0, dot);
}

namespace {

using namespace detail;

/// State shared by the answers to one cluster_find_atom.
struct find_state {
  caf::typed_response_promise<caf::actor> rp;
  std::size_t left = 0;
  bool answered = false;
  bool expired = false;
  bool unreachable = false;  // a peer holds its replica: its home did not answer
};

auto on_exit(cluster_actor* self, caf::exit_msg& msg) {
  auto& st = self->state;
  if (!msg.reason || st.stopping_) return;
  st.stopping_ = true;
  st.stop_reason_ = std::move(msg.reason);
  // Told before our down: the peers count a leave, not a loss.
  for (auto& [name, m] : st.members_) self->send(m.actor, cluster_leave_atom::value, st.opts_.node);
  self->send_exit(st.links_, caf::exit_reason::user_shutdown);
}

auto on_down(cluster_actor* self, caf::down_msg& msg) {
  auto& st = self->state;
  if (msg.source == st.links_.address()) {
    st.links_ = caf::actor{};
    if (st.stopping_) return self->quit(st.stop_reason_);
    log::error(*st.log_, "peer links' supervisor ended; the cluster actor ends with it",
               {{"reason", describe(self->home_system(), msg.reason)}});
    return self->quit(std::move(msg.reason));
  }
  for (auto it = st.members_.begin(); it != st.members_.end(); ++it)
    if (it->second.actor.address() == msg.source) return st.member_down(it, msg.reason);
}

caf::result<std::string> on_cluster_link(cluster_actor* self, caf::actor& remote,
                                         std::string& dialed) {
  auto& st = self->state;
  if (remote == st.me()) return make_error(errc::duplicate_node, "a peer address is ours");
  auto rp = self->make_response_promise<std::string>();
  self->request(remote, st.opts_.peer_timeout, cluster_join_atom::value, st.opts_.node, st.me(),
                st.opts_.public_url, st.opts_.listen, st.interest_list(), st.received_marks_now())
      .then(
          [self, rp, remote, dialed](std::string& name, std::string& url, std::string& address,
                                     std::vector<std::string>& interest,
                                     received_marks& received) mutable {
            auto& st = self->state;
            if (name == st.opts_.node) {
              log::error(*st.log_, "a peer has this node's name", {{"node", name}, {"url", url}});
              rp.deliver(make_error(errc::duplicate_node, name));
              return;
            }
            st.add_member(name, remote, url, address, interest, received);
            st.dialed_[dialed] = name;
            rp.deliver(std::move(name));
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::result<std::string, std::string, std::string, std::vector<std::string>, received_marks>
on_cluster_join(cluster_actor* self, const std::string& name, const caf::actor& remote,
                const std::string& url, const std::string& address,
                const std::vector<std::string>& interest, const received_marks& received) {
  auto& st = self->state;
  if (name == st.opts_.node) {
    log::error(*st.log_, "a peer has this node's name", {{"node", name}, {"url", url}});
    return make_error(errc::duplicate_node, name);
  }
  st.add_member(name, remote, url, address, interest, received);
  return {st.opts_.node, st.opts_.public_url, st.opts_.listen, st.interest_list(),
          st.received_marks_now()};
}

auto on_cluster_leave(cluster_actor* self, const std::string& name) {
  auto& st = self->state;
  auto it = st.members_.find(name);
  if (it == st.members_.end() ||
      it->second.actor.address() != caf::actor_cast<caf::actor_addr>(self->current_sender()))
    return;
  it->second.leaving = true;
  log::info(*st.log_, "peer leaving", {{"peer", name}});
}

// A peer's broker asks ours who is present on `channel` here.
caf::result<std::uint64_t, std::uint64_t, std::vector<std::string>> on_presence_rows(
    cluster_actor* self, std::string& channel) {
  auto broker = self->state.broker();
  if (!broker) return make_error(errc::shutting_down, "no broker");
  auto rp = self->make_response_promise<std::uint64_t, std::uint64_t, std::vector<std::string>>();
  rp.delegate(broker, presence_rows_atom::value, std::move(channel));
  return rp;
}

caf::result<supervision_tree> on_get_tree(cluster_actor* self) {
  auto& st = self->state;
  if (!st.links_) return make_error(errc::shutting_down, "the peer links are stopping");
  auto rp = self->make_response_promise<supervision_tree>();
  rp.delegate(st.links_, get_tree_atom::value);
  return rp;
}

caf::result<std::uint16_t, std::string> on_cluster_admin(cluster_actor* self, std::uint8_t kind,
                                                         std::string& after, std::uint64_t limit,
                                                         std::string& state) {
  auto admin = self->home_system().registry().get<caf::actor>(admin_name);
  if (!admin) return make_error(errc::shutting_down, "no admin responder");
  auto rp = self->make_response_promise<std::uint16_t, std::string>();
  rp.delegate(admin, cluster_admin_atom::value, kind, std::move(after), limit, std::move(state));
  return rp;
}

caf::result<caf::ok_atom> on_local_interest(cluster_actor* self, const std::string& channel,
                                            bool on) {
  auto& st = self->state;
  if (!on) {
    // The broker's last subscriber of the channel left.
    if (st.interest_.erase(channel) > 0) st.announce(channel, false, nullptr);
    return caf::ok_atom::value;
  }
  if (!st.interest_.insert(channel).second) return caf::ok_atom::value;
  auto rp = self->make_response_promise<caf::ok_atom>();
  st.announce(channel, true, [rp]() mutable { rp.deliver(caf::ok_atom::value); });
  return rp;
}

caf::ok_atom on_peer_interest_changed(cluster_actor* self, const std::string& node,
                                      const std::string& channel, bool on) {
  auto& st = self->state;
  auto it = st.members_.find(node);
  if (it == st.members_.end()) return caf::ok_atom::value;  // left meanwhile
  auto& m = it->second;
  bool changed = on ? m.interest.insert(channel).second : m.interest.erase(channel) > 0;
  if (changed) st.tell_broker(caf::make_message(peer_interest_atom::value, m.actor, channel, on));
  // Answered after the broker was told: a publish made here after the
  // peer's subscriber saw `subscribed` reaches the broker after this.
  return caf::ok_atom::value;
}

auto on_broker_joined(cluster_actor* self) {
  auto& st = self->state;
  auto broker = caf::actor_cast<caf::actor>(self->current_sender());
  if (!broker) return;
  for (auto& [name, m] : st.members_)
    for (auto& channel : m.interest)
      self->send(broker, peer_interest_atom::value, m.actor, channel, true);
  // A new broker has no subscribers: whatever we announced is stale.
  for (auto& channel : st.interest_list()) {
    st.interest_.erase(channel);
    st.announce(channel, false, nullptr);
  }
}

auto on_cluster_publish(cluster_actor* self, std::string& channel, std::string& body,
                        std::uint64_t origin, std::uint64_t counter) {
  if (auto& m = self->state.opts_.metrics) m->received_cluster.inc();
  raise_counter(self->state.received_, origin, counter);
  self->state.tell_broker(caf::make_message(
      peer_publish_atom::value, std::move(channel),
      shared_body{std::make_shared<const std::string>(std::move(body))}, origin, counter));
}

void on_cluster_publishes(cluster_actor* self, cluster_publishes& batch) {
  auto n = batch.channels.size();
  if (batch.bodies.size() != n || batch.counters.size() != n) {
    log::error(
        *self->state.log_, "a peer's publishes dropped: malformed batch",
        {{"channels", n}, {"bodies", batch.bodies.size()}, {"counters", batch.counters.size()}});
    return;
  }
  auto& st = self->state;
  if (n > 0 && counter_of(st.received_, batch.origin) == 0) {
    // The first from this origin: the broker learns whose it is, so that a
    // loss of that peer finds the members it named (presence).
    auto from = caf::actor_cast<caf::actor_addr>(self->current_sender());
    for (auto& [name, m] : st.members_)
      if (m.actor.node() == from.node())
        st.tell_broker(caf::make_message(peer_origin_atom::value, m.actor, batch.origin));
  }
  for (std::size_t i = 0; i < n; ++i)
    on_cluster_publish(self, batch.channels[i], batch.bodies[i], batch.origin, batch.counters[i]);
}

// A peer's broker lost publishes this node's subscribers wanted
// (actors/session/peer_resend.hpp): our broker tells them.
void on_cluster_gap(cluster_actor* self, std::vector<std::string>& channels) {
  auto& st = self->state;
  std::string peer = "?";
  for (auto& [name, m] : st.members_)
    if (m.actor.address() == caf::actor_cast<caf::actor_addr>(self->current_sender())) peer = name;
  log::warn(*st.log_, "a peer lost messages for this node",
            {{"peer", peer}, {"channels", channels.size()}});
  st.tell_broker(caf::make_message(cluster_gap_atom::value, std::move(channels)));
}

caf::result<caf::ok_atom> on_cluster_barrier(cluster_actor* self) {
  auto& st = self->state;
  if (st.members_.empty()) return caf::ok_atom::value;
  auto token = ++st.barrier_seq_;
  auto rp = self->make_response_promise<caf::ok_atom>();
  st.barriers_.emplace(token, cluster_state::barrier{rp, st.members_.size()});
  for (auto& [name, m] : st.members_)
    self->send(m.actor, cluster_barrier_atom::value, token, st.me());
  // A peer lost meanwhile never echoes: the barrier then ends on time.
  self->delayed_send(self, st.opts_.peer_timeout, cluster_echo_atom::value, token, true);
  return rp;
}

caf::result<std::vector<caf::actor>, std::vector<std::string>> on_handover_targets(
    cluster_actor* self) {
  std::vector<caf::actor> clusters;
  std::vector<std::string> urls;
  for (auto& [name, m] : self->state.members_) {
    clusters.push_back(m.actor);
    urls.push_back(m.url);
  }
  return {std::move(clusters), std::move(urls)};
}

caf::result<caf::actor> on_adopt_session(cluster_actor* self, session_handover& h) {
  auto registry = self->home_system().registry().get<caf::actor>(session_registry_name);
  if (!registry) return make_error(errc::shutting_down, "no session registry");
  auto rp = self->make_response_promise<caf::actor>();
  rp.delegate(registry, adopt_session_atom::value, std::move(h));
  return rp;
}

caf::result<caf::actor> on_cluster_find(cluster_actor* self, const std::string& id,
                                        const std::string& token) {
  auto& st = self->state;
  if (st.members_.empty()) return make_error(errc::resume_unknown);
  auto fs = std::make_shared<find_state>();
  fs->rp = self->make_response_promise<caf::actor>();
  fs->left = st.members_.size();
  auto settle = [fs] {
    if (--fs->left > 0 || fs->answered) return;
    fs->answered = true;
    fs->rp.deliver(make_error(fs->unreachable ? errc::session_unreachable
                              : fs->expired   ? errc::session_expired
                                              : errc::resume_unknown));
  };
  for (auto& [name, m] : st.members_)
    self->request(m.actor, st.opts_.peer_timeout, cluster_lookup_atom::value, id, token)
        .then(
            [fs, settle](caf::actor& session) {
              if (!fs->answered && session) {
                fs->answered = true;
                fs->rp.deliver(std::move(session));
              }
              settle();
            },
            [fs, settle](caf::error& err) {
              if (err == errc::session_expired) fs->expired = true;
              if (err == errc::session_unreachable) fs->unreachable = true;
              settle();
            });
  return fs->rp;
}

caf::result<caf::actor> on_cluster_lookup(cluster_actor* self, std::string& id,
                                          std::string& token) {
  auto registry = self->home_system().registry().get<caf::actor>(session_registry_name);
  if (!registry) return make_error(errc::resume_unknown);
  auto rp = self->make_response_promise<caf::actor>();
  rp.delegate(registry, cluster_lookup_atom::value, std::move(id), std::move(token));
  return rp;
}

auto on_cluster_members(cluster_actor* self) {
  std::vector<std::string> names;
  for (auto& [name, m] : self->state.members_) names.push_back(name);
  return names;
}

// Starts the peer links' supervisor, one link per configured peer.
void start_links(cluster_actor* self) {
  auto& st = self->state;
  std::vector<child_spec> children;
  for (auto& address : st.opts_.peers) {
    children.push_back(child_spec{
        .name = address,
        .factory =
            [address, cluster = st.me(), timeout = st.opts_.peer_timeout](caf::actor_system& sys) {
              return spawn_peer_link(sys, peer_link_args{address, cluster, timeout});
            },
        .restart = restart_kind::permanent,
        .policy = st.opts_.policy,
    });
  }
  st.links_ = spawn_supervisor(self->home_system(),
                               supervisor_options{.name = "cluster_links",
                                                  .policies = st.opts_.policies,
                                                  .children = std::move(children),
                                                  .counters = counters_of(st.opts_.metrics)});
  self->monitor(st.links_);
  log::info(*st.log_, "cluster started",
            {{"node", st.opts_.node}, {"peers", st.opts_.peers.size()}});
}

caf::behavior cluster_behavior(cluster_actor* self, cluster_options opts) {
  self->state.opts_ = std::move(opts);
  start_links(self);
  self->set_exit_handler([self](caf::exit_msg& msg) { return on_exit(self, msg); });
  self->set_down_handler([self](caf::down_msg& msg) { return on_down(self, msg); });

  return {
      [self](cluster_link_atom, caf::actor& remote, std::string& dialed) {
        return on_cluster_link(self, remote, dialed);
      },
      [self](cluster_join_atom, const std::string& name, const caf::actor& remote,
             const std::string& url, const std::string& address,
             const std::vector<std::string>& interest, const received_marks& received) {
        return on_cluster_join(self, name, remote, url, address, interest, received);
      },
      [self](cluster_leave_atom, const std::string& name) { return on_cluster_leave(self, name); },
      [self](cluster_status_atom) { return self->state.status(); },
      [self](get_tree_atom) { return on_get_tree(self); },
      [self](cluster_admin_atom, std::uint8_t kind, std::string& after, std::uint64_t limit,
             std::string& state) { return on_cluster_admin(self, kind, after, limit, state); },
      [self](local_interest_atom, const std::string& channel, bool on) {
        return on_local_interest(self, channel, on);
      },
      [self](cluster_interest_atom, const std::string& node, const std::string& channel, bool on) {
        return on_peer_interest_changed(self, node, channel, on);
      },
      [self](broker_joined_atom) { return on_broker_joined(self); },
      [self](cluster_publish_atom, std::string& channel, std::string& body, std::uint64_t origin,
             std::uint64_t counter) {
        return on_cluster_publish(self, channel, body, origin, counter);
      },
      [self](cluster_publishes_atom, cluster_publishes& batch) {
        on_cluster_publishes(self, batch);
      },
      [self](cluster_gap_atom, std::vector<std::string>& channels) {
        on_cluster_gap(self, channels);
      },
      [self](presence_rows_atom, std::string& channel) { return on_presence_rows(self, channel); },
      [self](local_barrier_atom) { return on_cluster_barrier(self); },
      [self](cluster_barrier_atom, std::uint64_t token, const caf::actor& origin) {
        // Through our broker, so the echo travels behind its publishes.
        self->state.tell_broker(caf::make_message(cluster_barrier_atom::value, token, origin));
      },
      [self](cluster_echo_atom, std::uint64_t token) { self->state.echo(token, false); },
      [self](cluster_echo_atom, std::uint64_t token, bool timed_out) {
        self->state.echo(token, timed_out);
      },
      [self](handover_targets_atom) { return on_handover_targets(self); },
      [self](adopt_session_atom, session_handover& h) { return on_adopt_session(self, h); },
      [self](handoff_abort_atom, std::string& id) {
        // Behind the adopt it follows (one sender), with that sender.
        if (auto registry = self->home_system().registry().get<caf::actor>(session_registry_name))
          self->delegate(registry, handoff_abort_atom::value, std::move(id));
      },
      [self](cluster_find_atom, const std::string& id, const std::string& token) {
        return on_cluster_find(self, id, token);
      },
      [self](cluster_lookup_atom, std::string& id, std::string& token) {
        return on_cluster_lookup(self, id, token);
      },
      [self](cluster_members_atom) { return on_cluster_members(self); },
      [self](replica_where_atom) {
        return self->home_system().registry().get<caf::actor>(replica_store_name);
      },
  };
}

}  // namespace

caf::actor spawn_cluster(caf::actor_system& sys, cluster_options opts) {
  auto cluster = sys.spawn(cluster_behavior, std::move(opts));
  sys.registry().put(cluster_name, cluster);
  return cluster;
}

}  // namespace wsvisor
