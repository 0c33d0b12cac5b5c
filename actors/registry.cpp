#include "actors/registry.hpp"

#include <algorithm>
#include <deque>
#include <tuple>
#include <optional>
#include <random>
#include <vector>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <spdlog/logger.h>
#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/broker.hpp"
#include "actors/errors.hpp"
#include "actors/ids.hpp"
#include "actors/messages.hpp"
#include "actors/session.hpp"
#include "actors/transport.hpp"
#include "log/log.hpp"

namespace wsvisor {
namespace {

struct registry_state;
using registry_actor = caf::stateful_actor<registry_state>;

struct live_session {
  caf::actor actor;
  std::string token;  // kept to recognise a later resume of this id as `expired`
};

struct expired_session {
  std::string id;
  caf::actor_clock::time_point at;
};

struct registry_state {
  static inline const char* name = "session_registry";

  explicit registry_state(registry_actor* self) : self_(self) {}

  // Runs however the registry ends, before its links and monitors hear of
  // it. Links would not stop the broker and the sessions after a normal end,
  // so they are sent our reason here (user_shutdown for a normal end). The
  // names are erased only if they still point at us: a successor may own them.
  ~registry_state() {
    auto& names = self_->home_system().registry();
    if (names.get<caf::actor_addr>(session_registry_name) == self_->address())
      names.erase(session_registry_name);
    caf::error reason = self_->fail_state();
    if (!reason) reason = caf::exit_reason::user_shutdown;
    if (broker_) {
      if (names.get<caf::actor_addr>(broker_name) == broker_.address()) names.erase(broker_name);
      self_->send_exit(broker_, reason);
    }
    for (auto& entry : sessions_) self_->send_exit(entry.second.actor, reason);
  }

  registry_state(const registry_state&) = delete;
  registry_state& operator=(const registry_state&) = delete;

  registry_actor* self_;
  std::shared_ptr<spdlog::logger> log_ = log::get("registry");
  registry_options opts_;
  caf::actor broker_;
  std::unordered_map<std::string, live_session> sessions_;
  std::unordered_map<caf::actor_addr, std::string> ids_;         // from monitors: down_msg pending
  std::unordered_set<caf::actor_addr> linked_;                   // from links: exit_msg pending
  std::deque<expired_session> expired_order_;                    // oldest first
  std::unordered_map<std::string, std::string> expired_tokens_;  // id -> token

  /// Starts a new session for `conn` (welcomed with `reason`) and answers
  /// `rp` with it once its welcome is written; or answers an error when the
  /// node is full (limits.sessions) or, with [auth] on, the identity is not
  /// verified (a resume that failed without `auth`).
  void create(caf::response_promise& rp, caf::actor conn, transport_ptr transport,
              std::string reason, client_identity who) {
    if (opts_.metrics && !reason.empty()) opts_.metrics->resume_rejected(reason).inc();
    if (opts_.auth_required && !who.verified) {
      rp.deliver(make_error(errc::auth_required, reason.empty() ? "unknown" : reason));
      return;
    }
    if (opts_.max_sessions != 0 && sessions_.size() >= opts_.max_sessions) {
      rp.deliver(make_error(errc::server_full, std::to_string(opts_.max_sessions)));
      return;
    }
    std::string id;
    do {
      id = opts_.node.empty() ? new_session_id() : opts_.node + "." + new_session_id();
    } while (sessions_.count(id) > 0 || expired_tokens_.count(id) > 0);
    session_args args{id, new_token(), opts_.session, broker_, std::move(conn),
                      std::move(transport), std::move(reason)};
    args.identity = std::move(who);
    if (opts_.metrics) opts_.metrics->sessions_created.inc();
    rp.delegate(start(std::move(args)), welcomed_atom::value);
  }

  /// Spawns a session, links and monitors it, and files it under its id.
  caf::actor start(session_args args) {
    args.peer_timeout = opts_.peer_timeout;
    args.max_subscriptions = opts_.max_subscriptions;
    args.metrics = opts_.metrics;
    auto id = args.id;
    auto token = args.token;
    auto session = spawn_session(self_->home_system(), std::move(args));
    self_->link_to(session);
    self_->monitor(session);
    linked_.insert(session.address());
    ids_.emplace(session.address(), id);
    sessions_.emplace(std::move(id), live_session{session, std::move(token)});
    return session;
  }

  /// A resume of a session this node does not hold: the cluster finds it on
  /// another node and it is attached to `conn` across nodes; otherwise a new
  /// session is started with the reason.
  void resume_elsewhere(const caf::actor& cluster, caf::response_promise rp, caf::actor conn,
                        transport_ptr transport, std::string id, std::string token,
                        std::uint64_t last_seq, client_identity who) {
    auto* self = self_;
    auto fallback = [self, rp, conn, transport, who](const caf::error& err) mutable {
      auto& st = self->state;
      std::string reason = "unknown";
      if (err == errc::resume_overflow)
        reason = "overflow";
      else if (err == errc::session_expired)
        reason = "expired";
      log::debug(*st.log_, "resume across nodes refused",
                 {{"reason", reason}, {"error", describe(self->home_system(), err)}});
      st.create(rp, std::move(conn), std::move(transport), reason, std::move(who));
    };
    self->request(cluster, caf::infinite, cl_find_atom::value, id, token)
        .then(
            [self, rp, conn, transport, token, last_seq, fallback](caf::actor& session) mutable {
              auto peer = transport->peer();
              self->request(session, self->state.opts_.peer_timeout, cl_attach_atom::value, conn,
                            peer, token, last_seq)
                  .then(
                      [self, rp, session](caf::ok_atom) mutable {
                        if (auto& m = self->state.opts_.metrics) m->resumes_resumed.inc();
                        rp.deliver(session);
                      },
                      [fallback](caf::error& err) mutable { fallback(err); });
            },
            [fallback](caf::error& err) mutable { fallback(err); });
  }

  /// A session handed over by a draining peer.
  caf::actor adopt(session_handover h, caf::actor predecessor) {
    session_args args{h.id, h.token, opts_.session, broker_, nullptr, nullptr, {}};
    args.adopted = std::move(h);
    args.predecessor = std::move(predecessor);
    return start(std::move(args));
  }

  // -- drain ------------------------------------------------------------------

  /// At most this many handovers run at once: a drain must not stampede the
  /// peers that take the sessions over.
  static constexpr std::size_t handovers_in_flight = 16;

  struct drain_run {
    caf::typed_response_promise<std::uint64_t, std::uint64_t> rp;
    std::vector<caf::actor> clusters;
    std::vector<std::string> urls;
    std::vector<caf::actor> queue;  // sessions still to hand over
    std::size_t next_target = 0;
    std::size_t running = 0;
    std::uint64_t handed = 0;
    std::uint64_t failed = 0;
    std::uint64_t generation = 0;
    duration bound{0};
  };
  std::optional<drain_run> drain_;
  std::uint64_t drain_generation_ = 0;

  void start_drain(caf::typed_response_promise<std::uint64_t, std::uint64_t> rp,
                   std::vector<caf::actor> clusters, std::vector<std::string> urls,
                   duration bound) {
    if (clusters.empty()) {
      rp.deliver(std::uint64_t{0}, static_cast<std::uint64_t>(sessions_.size()));
      return;
    }
    drain_run run{.rp = rp, .clusters = std::move(clusters), .urls = std::move(urls)};
    for (auto& [id, s] : sessions_) run.queue.push_back(s.actor);
    run.generation = ++drain_generation_;
    run.bound = bound;
    log::info(*log_, "draining", {{"sessions", run.queue.size()}, {"peers", run.clusters.size()}});
    drain_ = std::move(run);
    self_->delayed_send(self_, bound, drain_atom::value, drain_->generation);
    pump_drain();
  }

  void pump_drain() {
    auto& d = *drain_;
    while (d.running < handovers_in_flight && !d.queue.empty()) {
      auto session = std::move(d.queue.back());
      d.queue.pop_back();
      auto i = d.next_target++ % d.clusters.size();
      // Spread the clients' reconnects over a second.
      auto retry_ms = static_cast<std::uint32_t>(rng_() % 1000);
      ++d.running;
      self_->request(session, d.bound, handover_atom::value, d.clusters[i], d.urls[i], retry_ms)
          .then([this, gen = d.generation](caf::ok_atom) { handover_done(gen, true); },
                [this, gen = d.generation](caf::error&) { handover_done(gen, false); });
    }
    if (d.running == 0 && d.queue.empty()) finish_drain(false);
  }

  void handover_done(std::uint64_t generation, bool ok) {
    if (!drain_ || drain_->generation != generation) return;
    --drain_->running;
    ++(ok ? drain_->handed : drain_->failed);
    pump_drain();
  }

  void finish_drain(bool timed_out) {
    auto d = std::move(*drain_);
    drain_.reset();
    auto left = static_cast<std::uint64_t>(d.queue.size() + d.running);
    log::info(*log_, timed_out ? "drain bound passed" : "drained",
              {{"handed_over", d.handed}, {"failed", d.failed}, {"left", left}});
    d.rp.deliver(d.handed, d.failed + left);
  }

  std::minstd_rand rng_{std::random_device{}()};

  void forget_old(caf::actor_clock::time_point now) {
    auto ttl = opts_.expired_ttl;
    while (!expired_order_.empty() &&
           (expired_order_.size() > opts_.expired_capacity ||
            (ttl.count() > 0 && now - expired_order_.front().at >= ttl))) {
      expired_tokens_.erase(expired_order_.front().id);
      expired_order_.pop_front();
    }
  }

  void remember_expired(const std::string& id, const std::string& token) {
    auto now = self_->clock().now();
    expired_tokens_[id] = token;
    expired_order_.push_back(expired_session{id, now});
    forget_old(now);
  }

  /// True iff `id` expired recently and `token` was its token.
  /// Up to `limit` sessions with an id above `after`, by id, and whether
  /// more follow. Costs one pass over the sessions, not a sort of them all.
  std::tuple<std::vector<std::string>, std::vector<caf::actor>, bool>
  page(const std::string& after, std::uint64_t limit) const {
    std::vector<const std::pair<const std::string, live_session>*> later;
    for (auto& entry : sessions_)
      if (entry.first > after) later.push_back(&entry);
    auto by_id = [](auto* a, auto* b) { return a->first < b->first; };
    bool more = later.size() > limit;
    if (more) {
      std::nth_element(later.begin(), later.begin() + static_cast<std::ptrdiff_t>(limit),
                       later.end(), by_id);
      later.resize(limit);
    }
    std::sort(later.begin(), later.end(), by_id);
    std::vector<std::string> ids;
    std::vector<caf::actor> actors;
    for (auto* entry : later) {
      ids.push_back(entry->first);
      actors.push_back(entry->second.actor);
    }
    return {std::move(ids), std::move(actors), more};
  }

  bool expired_match(const std::string& id, const std::string& token) {
    forget_old(self_->clock().now());
    auto it = expired_tokens_.find(id);
    return it != expired_tokens_.end() && token_equal(it->second, token);
  }
};

caf::behavior registry_behavior(registry_actor* self, registry_options opts, caf::actor broker) {
  auto& st = self->state;
  st.opts_ = std::move(opts);
  st.broker_ = std::move(broker);
  self->link_to(st.broker_);

  self->set_exit_handler([self](caf::exit_msg& msg) {
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
  });

  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    auto it = st.ids_.find(msg.source);
    if (it == st.ids_.end()) return;
    auto id = std::move(it->second);
    st.ids_.erase(it);
    auto session = st.sessions_.find(id);
    if (session == st.sessions_.end()) return;
    if (msg.reason == errc::session_expired) st.remember_expired(id, session->second.token);
    st.sessions_.erase(session);
  });

  return {
      [self](hello_atom, caf::actor& conn, transport_ptr& transport,
             client_identity& who) -> caf::result<caf::actor> {
        auto rp = self->make_response_promise();
        self->state.create(rp, std::move(conn), std::move(transport), {}, std::move(who));
        return rp;
      },
      [self](resume_atom, caf::actor& conn, transport_ptr& transport, std::string& id,
             std::string& token, std::uint64_t last_seq,
             client_identity& who) -> caf::result<caf::actor> {
        auto& st = self->state;
        auto found = st.sessions_.find(id);
        // Every answer names the session once its welcome is on the transport:
        // a resumed one has written it before saying ok, a new one is asked
        // (welcomed_atom) and answers the connection directly.
        auto rp = self->make_response_promise();
        if (found == st.sessions_.end()) {
          if (st.expired_match(id, token)) {
            st.create(rp, std::move(conn), std::move(transport), "expired", std::move(who));
            return rp;
          }
          auto cluster = st.opts_.node.empty() ? caf::actor{}
                             : self->home_system().registry().get<caf::actor>(cluster_name);
          if (!cluster) {
            log::debug(*st.log_, "resume of an absent session", {{"reason", "unknown"}});
            st.create(rp, std::move(conn), std::move(transport), "unknown", std::move(who));
            return rp;
          }
          st.resume_elsewhere(cluster, rp, std::move(conn), std::move(transport), std::move(id),
                              std::move(token), last_seq, std::move(who));
          return rp;
        }
        auto session = found->second.actor;
        self->request(session, caf::infinite, resume_atom::value, conn, transport, token, last_seq)
            .then(
                [self, rp, session](caf::ok_atom) mutable {
                  if (auto& m = self->state.opts_.metrics) m->resumes_resumed.inc();
                  rp.deliver(session);
                },
                [self, rp, conn, transport, id, token, who](caf::error& err) mutable {
                    auto& st = self->state;
                    // The session may have expired between lookup and request;
                    // its down_msg can arrive after this error.
                    std::string reason = "unknown";
                    if (err == errc::resume_overflow)
                      reason = "overflow";
                    else if (err != errc::resume_unknown && st.expired_match(id, token))
                      reason = "expired";
                    log::debug(*st.log_, "resume refused", {{"reason", reason}});
                    st.create(rp, std::move(conn), std::move(transport), reason,
                              std::move(who));
                  });
        return rp;
      },
      [self](cl_lookup_atom, const std::string& id,
             const std::string& token) -> caf::result<caf::actor> {
        auto& st = self->state;
        if (auto found = st.sessions_.find(id); found != st.sessions_.end())
          return found->second.actor;
        if (st.expired_match(id, token)) return make_error(errc::session_expired);
        return make_error(errc::resume_unknown);
      },
      [self](cl_adopt_atom, session_handover& h) -> caf::result<caf::actor> {
        auto& st = self->state;
        if (st.sessions_.count(h.id) > 0) return make_error(errc::duplicate_child, h.id);
        auto rp = self->make_response_promise();
        auto predecessor = caf::actor_cast<caf::actor>(self->current_sender());
        rp.delegate(st.adopt(std::move(h), std::move(predecessor)), welcomed_atom::value);
        return rp;
      },
      [self](drain_atom, duration bound) -> caf::result<std::uint64_t, std::uint64_t> {
        auto& st = self->state;
        auto rp = self->make_response_promise<std::uint64_t, std::uint64_t>();
        auto cluster = self->home_system().registry().get<caf::actor>(cluster_name);
        if (!cluster || st.sessions_.empty()) {
          rp.deliver(std::uint64_t{0}, static_cast<std::uint64_t>(st.sessions_.size()));
          return rp;
        }
        self->request(cluster, bound, cl_targets_atom::value)
            .then(
                [self, rp, bound](std::vector<caf::actor>& clusters,
                                  std::vector<std::string>& urls) mutable {
                  self->state.start_drain(rp, std::move(clusters), std::move(urls), bound);
                },
                [self, rp](caf::error&) mutable {
                  rp.deliver(std::uint64_t{0},
                             static_cast<std::uint64_t>(self->state.sessions_.size()));
                });
        return rp;
      },
      [self](drain_atom, std::uint64_t generation) {
        // The drain's bound passed.
        auto& st = self->state;
        if (st.drain_ && st.drain_->generation == generation) st.finish_drain(true);
      },
      [self](reg_settings_atom, registry_settings& settings) {
        auto& o = self->state.opts_;
        o.session = settings.session;
        o.max_sessions = settings.max_sessions;
        o.max_subscriptions = settings.max_subscriptions;
        o.max_channels = settings.max_channels;
        self->send(self->state.broker_, broker_limit_atom::value, settings.max_channels);
        return caf::ok_atom::value;
      },
      [self](registry_stats_atom) {
        return static_cast<std::uint64_t>(self->state.sessions_.size());
      },
      [self](adm_list_atom, const std::string& after, std::uint64_t limit) {
        auto [ids, sessions, more] = self->state.page(after, limit);
        return caf::make_message(std::move(ids), std::move(sessions), more);
      },
      [self](adm_find_atom, const std::string& id) -> caf::result<caf::actor> {
        auto& st = self->state;
        if (auto found = st.sessions_.find(id); found != st.sessions_.end())
          return found->second.actor;
        return make_error(errc::unknown_session, id);
      },
  };
}

}  // namespace

caf::actor spawn_registry(caf::actor_system& sys, registry_options opts) {
  // Both are spawned and named here rather than in the registry's first
  // activation, so that a connection created right after this call finds
  // them. The registry links to its broker before it handles any message.
  auto broker = spawn_broker(sys, opts.node.empty() ? 0 : new_origin(), opts.max_channels);
  auto registry = sys.spawn(registry_behavior, std::move(opts), broker);
  sys.registry().put(session_registry_name, registry);
  sys.registry().put(broker_name, broker);
  log::info(*log::get("registry"), "session registry started");
  return registry;
}

}  // namespace wsvisor
