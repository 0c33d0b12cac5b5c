#include "actors/cluster.hpp"

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

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/supervisor.hpp"
#include "log/log.hpp"

namespace wsvisor {

std::string home_node_of(const std::string& session_id) {
  auto dot = session_id.rfind('.');
  return dot == std::string::npos ? std::string{} : session_id.substr(0, dot);
}

namespace {

// -- peer link ----------------------------------------------------------------

struct peer_link_args {
  std::string address;  // host:port, as configured
  caf::actor cluster;
  duration timeout;
};

bool split_address(const std::string& address, std::string& host, std::uint16_t& port) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  try {
    auto p = std::stoul(address.substr(colon + 1));
    if (p == 0 || p > 65535) return false;
    port = static_cast<std::uint16_t>(p);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

/// One peer link: connect, find the peer's cluster actor, have ours join it,
/// then live as long as the peer does.
caf::behavior peer_link(caf::event_based_actor* self, peer_link_args a) {
  auto fail = [self, address = a.address](const std::string& step, const caf::error& err) {
    self->quit(make_error(errc::peer_failed,
                          step + " " + address + ": " + describe(self->home_system(), err)));
  };
  std::string host;
  std::uint16_t port = 0;
  if (!split_address(a.address, host, port)) {
    self->quit(make_error(errc::peer_failed, "bad address " + a.address));
    return {};
  }
  auto mm = self->home_system().middleman().actor_handle();
  self->request(mm, a.timeout, caf::connect_atom::value, host, port)
      .then(
          [self, a, fail](const caf::node_id&, caf::strong_actor_ptr& contact,
                          const std::set<std::string>&) {
            if (!contact)
              return self->quit(
                  make_error(errc::peer_failed, "nothing published at " + a.address));
            self->request(caf::actor_cast<caf::actor>(contact), a.timeout, cl_hello_atom::value)
                .then(
                    [self, a, fail](caf::actor& remote) {
                      // The remote cluster actor is monitored first, so that a
                      // peer lost during the join still ends this link.
                      self->monitor(remote);
                      self->request(a.cluster, caf::infinite, cl_link_atom::value, remote,
                                    a.address)
                          .then([](const std::string&) {},
                                [fail](caf::error& err) { fail("join", err); });
                    },
                    [fail](caf::error& err) { fail("hello", err); });
          },
          [fail](caf::error& err) { fail("connect", err); });
  self->set_down_handler([self, address = a.address](caf::down_msg& msg) {
    self->quit(make_error(errc::peer_failed,
                          "peer " + address + " lost: " + describe(self->home_system(), msg.reason)));
  });
  // A behaviour that is never empty keeps the link alive after its requests
  // are answered; it lives until the peer's down_msg or an exit signal.
  return {
      [address = a.address](cl_members_atom) { return std::vector<std::string>{address}; },
  };
}

// -- cluster actor ------------------------------------------------------------

struct member {
  caf::actor actor;     // the peer's cluster actor
  std::string url;      // its public_url
  std::string address;  // its middleman address, as it announced it
  std::set<std::string> interest;
  // `peer did not confirm interest`: one per subscribe to a new channel while
  // the peer is slow, so held back to one line per [log] repeat_interval.
  log::throttle unconfirmed;
  std::int64_t since_ms = 0;  // joined at (Unix ms)
  bool leaving = false;       // it said cl_leave_atom: its down is a leave
};

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Nodes that left or were lost are remembered for GET /api/cluster, this many
// at most (the oldest departure is forgotten first).
constexpr std::size_t max_departed = 64;

struct cluster_state;
using cluster_actor = caf::stateful_actor<cluster_state>;

struct cluster_state {
  static inline const char* name = "cluster";

  explicit cluster_state(cluster_actor* self) : self_(self) {}

  ~cluster_state() {
    auto& names = self_->home_system().registry();
    if (names.get<caf::actor_addr>(cluster_name) == self_->address()) names.erase(cluster_name);
    if (links_) self_->send_exit(links_, caf::exit_reason::user_shutdown);
    if (opts_.metrics) opts_.metrics->cluster_peers.set(0);  // a restarted cluster actor joins anew
    if (opts_.ready) opts_.ready->set_peers(0);
    for (auto& [peer, m] : members_) say_held_back(peer, m);
  }
  cluster_state(const cluster_state&) = delete;
  cluster_state& operator=(const cluster_state&) = delete;

  cluster_actor* self_;
  std::shared_ptr<spdlog::logger> log_ = log::get("cluster");
  cluster_options opts_;
  caf::actor links_;
  std::map<std::string, member> members_;
  std::map<std::string, cluster_member_info> departed_;  // by node name; bounded by max_departed
  std::map<std::string, std::string> dialed_;  // a configured peer address -> the node it reached
  std::set<std::string> interest_;  // channels with local subscribers
  std::uint64_t peers_lost_ = 0;
  std::uint64_t peers_left_ = 0;
  bool stopping_ = false;
  caf::error stop_reason_;
  struct barrier {
    caf::typed_response_promise<caf::ok_atom> rp;
    std::size_t left;
  };
  std::map<std::uint64_t, barrier> barriers_;
  std::uint64_t barrier_seq_ = 0;

  void echo(std::uint64_t token, bool timed_out) {
    auto it = barriers_.find(token);
    if (it == barriers_.end()) return;
    if (!timed_out && --it->second.left > 0) return;
    if (timed_out) log::warn(*log_, "barrier timed out", {{"missing_echoes", it->second.left}});
    it->second.rp.deliver(caf::ok_atom::value);
    barriers_.erase(it);
  }

  caf::actor broker() const {
    return self_->home_system().registry().get<caf::actor>(broker_name);
  }

  caf::actor me() const { return caf::actor_cast<caf::actor>(self_); }

  std::vector<std::string> interest_list() const { return {interest_.begin(), interest_.end()}; }

  void count_peers() {
    if (opts_.metrics) opts_.metrics->cluster_peers.set(static_cast<std::int64_t>(members_.size()));
    if (opts_.ready) opts_.ready->set_peers(static_cast<std::uint32_t>(members_.size()));
  }

  void tell_broker(caf::message msg) {
    if (auto b = broker()) self_->send(b, std::move(msg));
  }

  /// The member leaves: a count of lines held back for it is logged.
  void say_held_back(const std::string& name, member& m) {
    if (auto held = m.unconfirmed.flush())
      log::warn(*log_, "peer did not confirm interest", {{"peer", name}}, *held);
  }

  void add_member(const std::string& name, const caf::actor& actor, const std::string& url,
                  const std::string& address, const std::vector<std::string>& interest) {
    auto it = members_.find(name);
    if (it != members_.end() && it->second.actor != actor) {
      // The node restarted: its old incarnation's down_msg may still come, and
      // is then ignored because it names another actor.
      tell_broker(caf::make_message(cl_peer_gone_atom::value, it->second.actor));
      say_held_back(name, it->second);
      members_.erase(it);
      it = members_.end();
    }
    if (it == members_.end()) {
      self_->monitor(actor);
      it = members_.emplace(name, member{.actor = actor, .since_ms = unix_ms_now()}).first;
      departed_.erase(name);
      count_peers();
      if (opts_.metrics) opts_.metrics->cluster_peer_up.with({name}).set(1);
      log::info(*log_, "peer up", {{"peer", name}, {"url", url}, {"peers", members_.size()}});
    }
    auto& m = it->second;
    m.url = url;
    m.address = address;
    for (auto& channel : interest)
      if (m.interest.insert(channel).second)
        tell_broker(caf::make_message(cl_peer_intr_atom::value, actor, channel, true));
  }

  /// The member `it` is down: it left on purpose (cl_leave_atom) or was lost.
  void member_down(std::map<std::string, member>::iterator it, const caf::error& reason) {
    const std::string& name = it->first;
    member& m = it->second;
    say_held_back(name, m);
    auto now = unix_ms_now();
    auto remaining = members_.size() - 1;
    if (m.leaving) {
      ++peers_left_;
      if (auto& metrics = opts_.metrics) {
        metrics->cluster_peers_left.inc();
        // A node that left on purpose is no alert: its series goes.
        metrics->cluster_peer_up.remove_if(
            [&name](const std::vector<std::string>& labels) { return labels.at(0) == name; });
      }
      log::info(*log_, "peer left", {{"peer", name}, {"peers", remaining}, {"peers_left", peers_left_}});
    } else {
      ++peers_lost_;
      if (auto& metrics = opts_.metrics) {
        metrics->cluster_peers_lost.inc();
        metrics->cluster_peer_up.with({name}).set(0);
      }
      log::warn(*log_, "peer down",
                {{"peer", name},
                 {"reason", describe(self_->home_system(), reason)},
                 {"peers", remaining},
                 {"peers_lost", peers_lost_}});
    }
    if (departed_.size() >= max_departed && departed_.count(name) == 0) {
      auto oldest = std::min_element(departed_.begin(), departed_.end(), [](auto& a, auto& b) {
        return a.second.since_ms < b.second.since_ms;
      });
      departed_.erase(oldest);
    }
    departed_[name] = cluster_member_info{.node = name,
                                          .address = m.address,
                                          .public_url = m.url,
                                          .state = m.leaving ? "left" : "down",
                                          .since_ms = now,
                                          .last_seen_ms = now,
                                          .caf_node = caf::to_string(m.actor.node()),
                                          .actor = {}};
    tell_broker(caf::make_message(cl_peer_gone_atom::value, m.actor));
    members_.erase(it);
    count_peers();
  }

  /// Every member, departed ones, and configured peer addresses that reached
  /// no node yet (GET /api/cluster), by node name, then by address.
  std::vector<cluster_member_info> status() const {
    std::vector<cluster_member_info> out;
    std::set<std::string> addresses;  // reached: as announced, or as dialed
    for (auto& [address, name] : dialed_) addresses.insert(address);
    auto now = unix_ms_now();
    for (auto& [name, m] : members_) {
      out.push_back(cluster_member_info{.node = name,
                                        .address = m.address,
                                        .public_url = m.url,
                                        .state = "up",
                                        .since_ms = m.since_ms,
                                        .last_seen_ms = now,
                                        .caf_node = caf::to_string(m.actor.node()),
                                        .actor = m.actor.address()});
      addresses.insert(m.address);
    }
    for (auto& [name, info] : departed_) {
      out.push_back(info);
      addresses.insert(info.address);
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.node < b.node; });
    for (auto& address : opts_.peers)
      if (addresses.count(address) == 0)
        out.push_back(cluster_member_info{.address = address, .state = "connecting"});
    return out;
  }

  /// Announces a local interest change to every member; `done` runs once
  /// each has answered or timed out.
  void announce(const std::string& channel, bool on, std::function<void()> done) {
    auto left = std::make_shared<std::size_t>(members_.size());
    if (*left == 0) {
      if (done) done();
      return;
    }
    auto finish = [left, done] {
      if (--*left == 0 && done) done();
    };
    for (auto& [name, m] : members_)
      self_->request(m.actor, opts_.peer_timeout, cl_interest_atom::value, opts_.node, channel, on)
          .then([finish](caf::ok_atom) { finish(); },
                [this, finish, peer = name](caf::error& err) {
                  // A member gone meanwhile was logged `peer down`.
                  auto it = members_.find(peer);
                  if (it != members_.end())
                    if (auto held = log::admit(it->second.unconfirmed))
                      log::warn(*log_, "peer did not confirm interest",
                                {{"peer", peer}, {"error", describe(self_->home_system(), err)}},
                                *held);
                  finish();
                });
  }
};

/// State shared by the answers to one cl_find_atom.
struct find_state {
  caf::typed_response_promise<caf::actor> rp;
  std::size_t left = 0;
  bool answered = false;
  bool expired = false;
};

caf::behavior cluster_behavior(cluster_actor* self, cluster_options opts) {
  auto& st = self->state;
  st.opts_ = std::move(opts);
  std::vector<child_spec> children;
  for (auto& address : st.opts_.peers) {
    children.push_back(child_spec{
        .name = address,
        .factory =
            [address, cluster = st.me(), timeout = st.opts_.peer_timeout](caf::actor_system& sys) {
              return sys.spawn(peer_link, peer_link_args{address, cluster, timeout});
            },
        .restart = restart_kind::permanent,
        .policy = st.opts_.policy,
    });
  }
  st.links_ = spawn_supervisor(self->home_system(),
                               supervisor_options{.name = "cluster_links",
                                                  .policies = st.opts_.policies,
                                                  .children = std::move(children),
                                                  .metrics = st.opts_.metrics});
  self->monitor(st.links_);
  log::info(*st.log_, "cluster started",
            {{"node", st.opts_.node}, {"peers", st.opts_.peers.size()}});

  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    if (!msg.reason || st.stopping_) return;
    st.stopping_ = true;
    st.stop_reason_ = std::move(msg.reason);
    // Told before our down: the peers count a leave, not a loss.
    for (auto& [name, m] : st.members_) self->send(m.actor, cl_leave_atom::value, st.opts_.node);
    self->send_exit(st.links_, caf::exit_reason::user_shutdown);
  });
  self->set_down_handler([self](caf::down_msg& msg) {
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
  });

  return {
      [self](cl_link_atom, caf::actor& remote, std::string& dialed) -> caf::result<std::string> {
        auto& st = self->state;
        if (remote == st.me()) return make_error(errc::duplicate_node, "a peer address is ours");
        auto rp = self->make_response_promise<std::string>();
        self->request(remote, st.opts_.peer_timeout, cl_join_atom::value, st.opts_.node, st.me(),
                      st.opts_.public_url, st.opts_.listen, st.interest_list())
            .then(
                [self, rp, remote, dialed](std::string& name, std::string& url,
                                           std::string& address,
                                           std::vector<std::string>& interest) mutable {
                  auto& st = self->state;
                  if (name == st.opts_.node) {
                    log::error(*st.log_, "a peer has this node's name",
                               {{"node", name}, {"url", url}});
                    rp.deliver(make_error(errc::duplicate_node, name));
                    return;
                  }
                  st.add_member(name, remote, url, address, interest);
                  st.dialed_[dialed] = name;
                  rp.deliver(std::move(name));
                },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
      [self](cl_join_atom, const std::string& name, const caf::actor& remote,
             const std::string& url, const std::string& address,
             const std::vector<std::string>& interest)
          -> caf::result<std::string, std::string, std::string, std::vector<std::string>> {
        auto& st = self->state;
        if (name == st.opts_.node) {
          log::error(*st.log_, "a peer has this node's name", {{"node", name}, {"url", url}});
          return make_error(errc::duplicate_node, name);
        }
        st.add_member(name, remote, url, address, interest);
        return {st.opts_.node, st.opts_.public_url, st.opts_.listen, st.interest_list()};
      },
      [self](cl_leave_atom, const std::string& name) {
        auto& st = self->state;
        auto it = st.members_.find(name);
        if (it == st.members_.end() ||
            it->second.actor.address() != caf::actor_cast<caf::actor_addr>(self->current_sender()))
          return;
        it->second.leaving = true;
        log::info(*st.log_, "peer leaving", {{"peer", name}});
      },
      [self](cl_status_atom) { return self->state.status(); },
      [self](get_tree_atom) -> caf::result<supervision_tree> {
        auto& st = self->state;
        if (!st.links_) return make_error(errc::shutting_down, "the peer links are stopping");
        auto rp = self->make_response_promise<supervision_tree>();
        rp.delegate(st.links_, get_tree_atom::value);
        return rp;
      },
      [self](cl_admin_atom, std::uint8_t kind, std::string& after, std::uint64_t limit,
             std::string& state) -> caf::result<std::uint16_t, std::string> {
        auto admin = self->home_system().registry().get<caf::actor>(admin_name);
        if (!admin) return make_error(errc::shutting_down, "no admin responder");
        auto rp = self->make_response_promise<std::uint16_t, std::string>();
        rp.delegate(admin, cl_admin_atom::value, kind, std::move(after), limit, std::move(state));
        return rp;
      },
      [self](cl_interest_atom, const std::string& channel) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        if (!st.interest_.insert(channel).second) return caf::ok_atom::value;
        auto rp = self->make_response_promise<caf::ok_atom>();
        st.announce(channel, true, [rp]() mutable { rp.deliver(caf::ok_atom::value); });
        return rp;
      },
      [self](cl_interest_atom, const std::string& channel, bool on) {
        // A broker's "off" (its last subscriber left); "on" is the request above.
        auto& st = self->state;
        if (on || st.interest_.erase(channel) == 0) return;
        st.announce(channel, false, nullptr);
      },
      [self](cl_interest_atom, const std::string& node, const std::string& channel,
             bool on) -> caf::ok_atom {
        auto& st = self->state;
        auto it = st.members_.find(node);
        if (it == st.members_.end()) return caf::ok_atom::value;  // left meanwhile
        auto& m = it->second;
        bool changed = on ? m.interest.insert(channel).second : m.interest.erase(channel) > 0;
        if (changed) st.tell_broker(caf::make_message(cl_peer_intr_atom::value, m.actor, channel, on));
        // Answered after the broker was told: a publish made here after the
        // peer's subscriber saw `subscribed` reaches the broker after this.
        return caf::ok_atom::value;
      },
      [self](cl_broker_atom) {
        auto& st = self->state;
        auto broker = caf::actor_cast<caf::actor>(self->current_sender());
        if (!broker) return;
        for (auto& [name, m] : st.members_)
          for (auto& channel : m.interest)
            self->send(broker, cl_peer_intr_atom::value, m.actor, channel, true);
        // A new broker has no subscribers: whatever we announced is stale.
        for (auto& channel : st.interest_list()) {
          st.interest_.erase(channel);
          st.announce(channel, false, nullptr);
        }
      },
      [self](cl_fanout_atom, std::string& channel, std::string& body, std::uint64_t origin,
             std::uint64_t counter) {
        if (auto& m = self->state.opts_.metrics) m->received_cluster.inc();
        self->state.tell_broker(caf::make_message(
            cl_deliver_atom::value, std::move(channel),
            shared_body{std::make_shared<const std::string>(std::move(body))}, origin, counter));
      },
      [self](cl_barrier_atom) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        if (st.members_.empty()) return caf::ok_atom::value;
        auto token = ++st.barrier_seq_;
        auto rp = self->make_response_promise<caf::ok_atom>();
        st.barriers_.emplace(token, cluster_state::barrier{rp, st.members_.size()});
        for (auto& [name, m] : st.members_)
          self->send(m.actor, cl_barrier_atom::value, token, st.me());
        // A peer lost meanwhile never echoes: the barrier then ends on time.
        self->delayed_send(self, st.opts_.peer_timeout, cl_echo_atom::value, token, true);
        return rp;
      },
      [self](cl_barrier_atom, std::uint64_t token, const caf::actor& origin) {
        // Through our broker, so the echo travels behind its publishes.
        self->state.tell_broker(caf::make_message(cl_barrier_atom::value, token, origin));
      },
      [self](cl_echo_atom, std::uint64_t token) { self->state.echo(token, false); },
      [self](cl_echo_atom, std::uint64_t token, bool timed_out) {
        self->state.echo(token, timed_out);
      },
      [self](cl_targets_atom)
          -> caf::result<std::vector<caf::actor>, std::vector<std::string>> {
        std::vector<caf::actor> clusters;
        std::vector<std::string> urls;
        for (auto& [name, m] : self->state.members_) {
          clusters.push_back(m.actor);
          urls.push_back(m.url);
        }
        return {std::move(clusters), std::move(urls)};
      },
      [self](cl_adopt_atom, session_handover& h) -> caf::result<caf::actor> {
        auto registry = self->home_system().registry().get<caf::actor>(session_registry_name);
        if (!registry) return make_error(errc::shutting_down, "no session registry");
        auto rp = self->make_response_promise<caf::actor>();
        rp.delegate(registry, cl_adopt_atom::value, std::move(h));
        return rp;
      },
      [self](cl_find_atom, const std::string& id, const std::string& token)
          -> caf::result<caf::actor> {
        auto& st = self->state;
        if (st.members_.empty()) return make_error(errc::resume_unknown);
        auto fs = std::make_shared<find_state>();
        fs->rp = self->make_response_promise<caf::actor>();
        fs->left = st.members_.size();
        auto settle = [fs] {
          if (--fs->left > 0 || fs->answered) return;
          fs->answered = true;
          fs->rp.deliver(make_error(fs->expired ? errc::session_expired : errc::resume_unknown));
        };
        for (auto& [name, m] : st.members_)
          self->request(m.actor, st.opts_.peer_timeout, cl_lookup_atom::value, id, token)
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
                    settle();
                  });
        return fs->rp;
      },
      [self](cl_lookup_atom, std::string& id, std::string& token) -> caf::result<caf::actor> {
        auto registry = self->home_system().registry().get<caf::actor>(session_registry_name);
        if (!registry) return make_error(errc::resume_unknown);
        auto rp = self->make_response_promise<caf::actor>();
        rp.delegate(registry, cl_lookup_atom::value, std::move(id), std::move(token));
        return rp;
      },
      [self](cl_members_atom) {
        std::vector<std::string> names;
        for (auto& [name, m] : self->state.members_) names.push_back(name);
        return names;
      },
  };
}

caf::behavior contact_behavior(caf::event_based_actor* self, int /*unused*/) {
  return {
      [self](cl_hello_atom) -> caf::result<caf::actor> {
        auto cluster = self->home_system().registry().get<caf::actor>(cluster_name);
        if (!cluster) return make_error(errc::peer_failed, "the cluster actor is restarting");
        return cluster;
      },
  };
}

}  // namespace

caf::actor spawn_cluster(caf::actor_system& sys, cluster_options opts) {
  auto cluster = sys.spawn(cluster_behavior, std::move(opts));
  sys.registry().put(cluster_name, cluster);
  return cluster;
}

caf::actor spawn_cluster_contact(caf::actor_system& sys) {
  // A dummy argument: CAF 0.17 cannot spawn an argument-less function actor.
  return sys.spawn(contact_behavior, 0);
}

}  // namespace wsvisor
