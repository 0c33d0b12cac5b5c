#include "actors/session/registry_state.hpp"

#include <algorithm>
#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <utility>

#include "actors/errors.hpp"
#include "actors/ids.hpp"
#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "log/log.hpp"

namespace wsvisor::detail {

// Runs however the registry ends, before its links and monitors hear of it.
// Links would not stop the broker and the sessions after a normal end, so
// they are sent our reason here (user_shutdown for a normal end). The names
// are erased only if they still point at us: a successor may own them.
registry_state::~registry_state() {
  auto& names = self_->home_system().registry();
  if (names.get<caf::actor_addr>(session_registry_name) == self_->address())
    names.erase(session_registry_name);
  caf::error reason = self_->fail_state();
  if (!reason) reason = caf::exit_reason::user_shutdown;
  if (broker_) {
    if (names.get<caf::actor_addr>(broker_name) == broker_.address()) names.erase(broker_name);
    self_->send_exit(broker_, reason);
  }
  for (auto& [id, slot] : sessions_) {
    if (slot.actor) self_->send_exit(slot.actor, reason);
    // A record's unit of the detached gauge is the registry's.
    if (slot.parked && slot.parked->ready && metrics()) metrics()->sessions_detached.sub();
  }
}

session_slot* registry_state::find(const std::string& id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second;
}

// -- new sessions -------------------------------------------------------------

/// Starts a new session for `conn` (welcomed with `reason`) and answers `rp`
/// with it once its welcome is written; or answers an error when the node is
/// full (limits.sessions) or, with [auth] on, the identity is not verified (a
/// resume that failed without `auth`).
void registry_state::create(caf::response_promise& rp, caf::actor conn, transport_ptr transport,
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
  session_args args{id,
                    new_token(),
                    opts_.session,
                    broker_,
                    std::move(conn),
                    std::move(transport),
                    std::move(reason)};
  args.identity = std::move(who);
  if (opts_.metrics) opts_.metrics->sessions_created.inc();
  rp.delegate(start(std::move(args)), welcomed_atom::value);
}

/// Spawns a session, links and monitors it, and files it under its id.
caf::actor registry_state::start(session_args args) {
  args.peer_timeout = opts_.peer_timeout;
  args.max_subscriptions = opts_.max_subscriptions;
  args.metrics = opts_.metrics;
  args.registry = caf::actor_cast<caf::actor>(self_);
  auto id = args.id;
  auto token = args.token;
  auto session = spawn_session(self_->home_system(), std::move(args));
  watch(session, id);
  sessions_.emplace(std::move(id), session_slot{session, std::move(token), nullptr, nullptr});
  return session;
}

void registry_state::watch(const caf::actor& session, const std::string& id) {
  self_->link_to(session);
  self_->monitor(session);
  linked_.insert(session.address());
  ids_.emplace(session.address(), id);
}

/// A session handed over by a draining peer.
caf::actor registry_state::adopt(session_handover h, caf::actor predecessor) {
  if (opts_.metrics) opts_.metrics->sessions_adopted.inc();
  session_args args{h.id, h.token, opts_.session, broker_, nullptr, nullptr, {}};
  args.adopted = std::move(h);
  args.predecessor = std::move(predecessor);
  return start(std::move(args));
}

// -- operations on a session by id ----------------------------------------------

bool registry_state::deferred(session_slot& slot, std::function<void()> op) {
  if (!slot.move) return false;
  slot.move->waiting.push_back(std::move(op));
  return true;
}

bool registry_state::retry_after(const std::string& id, const caf::actor& who,
                                 const caf::error& err, std::function<void()> op) {
  auto* slot = find(id);
  if (err == errc::session_parked) {
    // It has asked the broker: its record is on the way. Wait for it.
    if (slot != nullptr && !slot->move && slot->actor == who)
      slot->move = std::make_unique<session_move>();
    if (slot != nullptr && slot->move)
      slot->move->waiting.push_back(std::move(op));
    else
      op();
    return true;
  }
  // Parked and ended before the request reached it: its record came first.
  if (err == caf::sec::request_receiver_down && slot != nullptr && slot->actor != who) {
    op();
    return true;
  }
  return false;
}

void registry_state::resume(resume_request r) {
  auto* slot = find(r.id);
  if (slot == nullptr) {
    if (expired_match(r.id, r.token)) return refuse(r, "expired");
    auto cluster = opts_.node.empty()
                       ? caf::actor{}
                       : self_->home_system().registry().get<caf::actor>(cluster_name);
    if (!cluster) {
      log::debug(*log_, "resume of an absent session", {{"reason", "unknown"}});
      return refuse(r, "unknown");
    }
    return resume_elsewhere(cluster, std::move(r), 3);
  }
  if (deferred(*slot, [this, r] { resume(r); })) return;
  if (slot->parked) {
    // Refusals need no actor: the record answers them, and a wrong token
    // leaves it alone.
    auto& rec = slot->parked->rec;
    if (!token_equal(r.token, slot->token) || r.last_seq > rec.seq) return refuse(r, "unknown");
    if (!rec.buffer.can_replay_after(r.last_seq)) return refuse(r, "overflow");
    unpark(r.id, *slot, duration{0});
    deferred(*slot, [this, r] { resume(r); });
    return;
  }
  auto session = slot->actor;
  auto* self = self_;
  self->request(session, caf::infinite, attach_atom::value, r.conn, r.transport, r.token,
                r.last_seq)
      .then(
          [self, rp = r.rp, session](caf::ok_atom) mutable {
            if (auto* m = self->state.metrics()) m->resumes_resumed.inc();
            rp.deliver(session);
          },
          [this, r, session](caf::error& err) mutable {
            if (retry_after(r.id, session, err, [this, r] { resume(r); })) return;
            // The session may have expired between lookup and request; its
            // down_msg can arrive after this error.
            refuse(r, refusal_reason(err,
                                     err != errc::resume_unknown && expired_match(r.id, r.token)));
          });
}

std::string registry_state::refusal_reason(const caf::error& err, bool expired) {
  if (err == errc::resume_overflow) return "overflow";
  return expired ? "expired" : "unknown";
}

void registry_state::refuse(resume_request& r, std::string reason) {
  log::debug(*log_, "resume refused", {{"reason", reason}});
  create(r.rp, std::move(r.conn), std::move(r.transport), std::move(reason), std::move(r.who));
}

/// A resume of a session this node does not hold: the cluster finds it on
/// another node and it is attached to the connection across nodes; otherwise a
/// new session is started with the reason. A session there that parks between
/// the lookup and the attach is looked up again (`attempts` times).
void registry_state::resume_elsewhere(const caf::actor& cluster, resume_request r, int attempts) {
  auto* self = self_;
  auto fallback = [this, r](const caf::error& err) mutable {
    if (err == errc::session_unreachable) return unreachable(r);
    if (err == errc::resume_unknown) return unless_replicated_here(std::move(r));
    auto reason = refusal_reason(err, err == errc::session_expired);
    log::debug(*log_, "resume across nodes refused",
               {{"reason", reason}, {"error", describe(self_->home_system(), err)}});
    refuse(r, std::move(reason));
  };
  self->request(cluster, caf::infinite, cluster_find_atom::value, r.id, r.token)
      .then(
          [this, self, r, cluster, attempts, fallback](caf::actor& session) mutable {
            auto peer = r.transport->peer();
            self->request(session, opts_.peer_timeout, remote_attach_atom::value, r.conn, peer,
                          r.token, r.last_seq)
                .then(
                    [self, rp = r.rp, session](caf::ok_atom) mutable {
                      if (auto* m = self->state.metrics()) m->resumes_resumed.inc();
                      rp.deliver(session);
                    },
                    [this, r, cluster, attempts, fallback](caf::error& err) mutable {
                      bool moved =
                          err == errc::session_parked || err == caf::sec::request_receiver_down;
                      if (moved && attempts > 1)
                        return resume_elsewhere(cluster, std::move(r), attempts - 1);
                      if (err == caf::sec::request_timeout ||
                          err == caf::exit_reason::remote_link_unreachable) {
                        // The session was asked and may have attached and
                        // welcomed the client (resumed: true) before its node
                        // stopped answering: no second welcome with a new
                        // session; the connection closes (4503), and the
                        // client resumes later.
                        log::info(
                            *log_, "resume across nodes unanswered",
                            {{"session", r.id}, {"error", describe(self_->home_system(), err)}});
                        return r.rp.deliver(make_error(errc::session_unreachable, r.id));
                      }
                      fallback(err);
                    });
          },
          [fallback](caf::error& err) mutable { fallback(err); });
}

void registry_state::unreachable(resume_request& r) {
  log::info(*log_, "resume of a session whose home is unreachable", {{"session", r.id}});
  r.rp.deliver(make_error(errc::session_unreachable, r.id));
}

/// No node answered for the session: if this node holds its replica, its
/// home is lost or unreachable and the replica is about to be adopted (or the
/// home comes back): the client resumes later (4503), not into a new session.
void registry_state::unless_replicated_here(resume_request r) {
  auto store = self_->home_system().registry().get<caf::actor>(replica_store_name);
  if (!store) return refuse(r, "unknown");
  self_->request(store, opts_.peer_timeout, replica_holds_atom::value, r.id)
      .then(
          [this, r](bool holds) mutable {
            if (holds) return unreachable(r);
            // Adopted here meanwhile: the store lets go of the replica only
            // once the session it became is in this registry.
            if (find(r.id) != nullptr) return resume(std::move(r));
            refuse(r, "unknown");
          },
          [this, r](caf::error&) mutable { refuse(r, "unknown"); });
}

void registry_state::lookup(caf::response_promise rp, std::string id, std::string token) {
  auto* slot = find(id);
  if (slot == nullptr) {
    if (expired_match(id, token)) return rp.deliver(make_error(errc::session_expired));
    auto store = self_->home_system().registry().get<caf::actor>(replica_store_name);
    if (!store) return rp.deliver(make_error(errc::resume_unknown));
    // A replica here of a session whose home did not answer: resume later.
    self_->request(store, opts_.peer_timeout, replica_holds_atom::value, id)
        .then(
            [this, rp, id, token](bool holds) mutable {
              if (holds) return rp.deliver(make_error(errc::session_unreachable, id));
              // Adopted here meanwhile (the store lets go of the replica only
              // once the session it became is in this registry).
              if (find(id) != nullptr) return lookup(rp, id, token);
              rp.deliver(make_error(errc::resume_unknown, id));
            },
            [rp](caf::error&) mutable { rp.deliver(make_error(errc::resume_unknown)); });
    return;
  }
  if (deferred(*slot, [this, rp, id, token] { lookup(rp, id, token); })) return;
  if (slot->parked) {
    // The attach checks the token too; a wrong one need not unpark anything.
    if (!token_equal(token, slot->token)) return rp.deliver(make_error(errc::resume_unknown));
    // The peer attaches within its peer_timeout of our answer.
    unpark(id, *slot, opts_.peer_timeout * 2);
    deferred(*slot, [this, rp, id, token] { lookup(rp, id, token); });
    return;
  }
  rp.deliver(slot->actor);
}

namespace {

/// Asks `session`, the actor of session `id`, `what` and answers `rp` with its
/// `Reply`; if the actor was parking meanwhile, `again` runs once the
/// registry has the record (registry_state::retry_after).
template <class Reply, class Atom>
void ask_actor(registry_state& st, caf::response_promise rp, const std::string& id,
               const caf::actor& session, Atom what, std::function<void()> again) {
  st.self_->request(session, caf::infinite, what)
      .then([rp](Reply& reply) mutable { rp.deliver(std::move(reply)); },
            [&st, rp, id, session, again](caf::error& err) mutable {
              if (!st.retry_after(id, session, err, again)) rp.deliver(std::move(err));
            });
}

}  // namespace

void registry_state::info(caf::response_promise rp, std::string id) {
  auto* slot = find(id);
  if (slot == nullptr) return rp.deliver(make_error(errc::unknown_session, id));
  auto again = [this, rp, id] { info(rp, id); };
  if (deferred(*slot, again)) return;
  if (slot->parked) return rp.deliver(slot->parked->rec.info(id));
  ask_actor<session_info>(*this, rp, id, slot->actor, session_info_atom::value, again);
}

void registry_state::end(caf::response_promise rp, std::string id) {
  auto* slot = find(id);
  if (slot == nullptr) return rp.deliver(make_error(errc::unknown_session, id));
  auto again = [this, rp, id] { end(rp, id); };
  if (deferred(*slot, again)) return;
  if (slot->parked) {
    log::info(*log_, "session ended", {{"session", id}, {"reason", "admin"}});
    forget(id);
    return rp.deliver(caf::ok_atom::value);
  }
  ask_actor<caf::ok_atom>(*this, rp, id, slot->actor, session_end_atom::value, again);
}

void registry_state::cut(caf::response_promise rp, std::string id) {
  auto* slot = find(id);
  if (slot == nullptr) return rp.deliver(make_error(errc::unknown_session, id));
  auto again = [this, rp, id] { cut(rp, id); };
  if (deferred(*slot, again)) return;
  if (slot->parked) return rp.deliver(make_error(errc::not_attached, id));
  ask_actor<caf::ok_atom>(*this, rp, id, slot->actor, session_cut_atom::value, again);
}

// -- expired sessions and the admin list ------------------------------------------

void registry_state::forget_old(std::chrono::steady_clock::time_point now) {
  auto ttl = opts_.expired_ttl;
  while (!expired_order_.empty() && (expired_order_.size() > opts_.expired_capacity ||
                                     (ttl.count() > 0 && now - expired_order_.front().at >= ttl))) {
    expired_tokens_.erase(expired_order_.front().id);
    expired_order_.pop_front();
  }
}

void registry_state::remember_expired(const std::string& id, const std::string& token) {
  auto now = self_->clock().now();
  expired_tokens_[id] = token;
  expired_order_.push_back(expired_session{id, now});
  forget_old(now);
}

/// True iff `id` expired recently and `token` was its token.
bool registry_state::expired_match(const std::string& id, const std::string& token) {
  forget_old(self_->clock().now());
  auto it = expired_tokens_.find(id);
  return it != expired_tokens_.end() && token_equal(it->second, token);
}

/// Up to `limit` sessions with an id above `after`, by id, and whether more
/// follow. Costs one pass over the sessions, not a sort of them all.
std::tuple<std::vector<std::string>, std::vector<caf::actor>, bool> registry_state::page(
    const std::string& after, std::uint64_t limit) const {
  std::vector<const std::pair<const std::string, session_slot>*> later;
  for (auto& entry : sessions_)
    if (entry.first > after) later.push_back(&entry);
  auto by_id = [](auto* a, auto* b) { return a->first < b->first; };
  bool more = later.size() > limit;
  if (more) {
    std::nth_element(later.begin(), later.begin() + static_cast<std::ptrdiff_t>(limit), later.end(),
                     by_id);
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

}  // namespace wsvisor::detail
