#include "actors/cluster/replica_store.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <spdlog/logger.h>
#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/cluster/replica_outbox.hpp"
#include "actors/cluster/replica_records.hpp"
#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "log/log.hpp"

namespace wsvisor {
namespace {

// A peer's store has at most this many batches from this store in flight;
// what sessions send meanwhile waits for the next (docs/cluster.md).
constexpr int max_batches_in_flight = 2;

struct store_state {
  static inline const char* name = "replica_store";

  explicit store_state(caf::event_based_actor* self) : self_(self) {}
  ~store_state() {
    auto& names = self_->home_system().registry();
    if (names.get<caf::actor_addr>(replica_store_name) == self_->address())
      names.erase(replica_store_name);
    if (opts_.metrics) opts_.metrics->session_replicas.set(0);
  }
  store_state(const store_state&) = delete;
  store_state& operator=(const store_state&) = delete;

  caf::event_based_actor* self_;
  std::shared_ptr<spdlog::logger> log_ = log::get("replicas");
  replica_store_options opts_;
  replica_records records_{0, 0};
  struct peer {
    caf::actor cluster;
    caf::actor store;    // null until its cluster answers replica_where_atom
    bool asking = true;  // that question is not answered yet
  };
  std::map<std::string, peer> peers_;  // by node name
  // Placements asked while a peer's store was being looked up (a peer that
  // just joined): answered once every such question is, so that a session
  // started right after a join is not told that no peer exists.
  struct waiting_place {
    std::string id;
    std::uint64_t epoch;
    caf::typed_response_promise<caf::actor, std::string> rp;
  };
  std::vector<waiting_place> placing_;
  // Peers lost less than peer_timeout ago, by name, with their cluster actor:
  // adopted from only if they do not come back meanwhile (a node that was
  // frozen itself sees every peer lost when it wakes, and must not take their
  // sessions; the peers join it again within a few hundred ms).
  std::map<std::string, caf::actor> losing_;
  // Per home node, how many times this store lost it (replica_records::put's `link`).
  std::map<caf::node_id, std::uint64_t> losses_;
  // Channels asked of the broker and not confirmed yet, with what waits for them.
  std::map<std::string, std::vector<std::function<void()>>> subscribing_;
  std::uint64_t adopted_ = 0;
  std::map<caf::actor_addr, replica_outbox> outboxes_;  // by the peer store's address

  caf::actor me() const { return caf::actor_cast<caf::actor>(self_); }

  caf::actor broker() const { return self_->home_system().registry().get<caf::actor>(broker_name); }

  void count() {
    if (opts_.metrics) opts_.metrics->session_replicas.set(static_cast<double>(records_.size()));
  }

  /// Subscribes and unsubscribes the store at its broker; `done` runs once
  /// every channel of `wait_for` is confirmed (at once if none is pending).
  void apply(const channel_changes& changes, const std::vector<std::string>& wait_for,
             std::function<void()> done) {
    auto b = broker();
    for (auto& channel : changes.unsubscribe) {
      subscribing_.erase(channel);
      if (b) self_->send(b, broker_unsubscribe_atom::value, channel, me());
    }
    for (auto& channel : changes.subscribe) {
      subscribing_[channel];
      if (!b) continue;
      self_->send(b, stand_in_atom::value);
      self_->request(b, caf::infinite, broker_subscribe_atom::value, channel, me())
          .then([this, channel](caf::ok_atom) { confirmed(channel); },
                [this, channel](caf::error& err) {
                  log::warn(*log_, "replica's channel not subscribed here",
                            {{"channel", channel}, {"error", describe(self_->home_system(), err)}});
                  confirmed(channel);
                });
    }
    // Most puts and updates add no channel: nothing to wait for.
    if (std::none_of(wait_for.begin(), wait_for.end(),
                     [this](auto& channel) { return subscribing_.count(channel) > 0; }))
      return done();
    auto left = std::make_shared<std::size_t>(1);
    auto settle = [left, done = std::move(done)] {
      if (--*left == 0) done();
    };
    for (auto& channel : wait_for) {
      auto it = subscribing_.find(channel);
      if (it == subscribing_.end()) continue;
      ++*left;
      it->second.push_back(settle);
    }
    settle();
  }

  void confirmed(const std::string& channel) {
    auto it = subscribing_.find(channel);
    if (it == subscribing_.end()) return;
    auto waiting = std::move(it->second);
    subscribing_.erase(it);
    for (auto& f : waiting) f();
  }

  /// Keeps a put from a session homed at `home`; `kept` runs once the
  /// store's subscriptions to its channels are confirmed. False: refused (a
  /// later epoch of the session is here), and `kept` never runs.
  bool keep(session_handover& h, const caf::node_id& home, std::function<void()> kept) {
    channel_changes changes;
    auto channels = h.channels;
    auto epoch = h.epoch;
    auto id = h.id;
    if (!records_.put(std::move(h), home, changes, losses_[home])) return refused(id, epoch, true);
    apply(changes, channels, std::move(kept));
    return true;
  }

  /// Keeps an update, likewise. Its answer waits for every channel of the
  /// record, not only those it adds: the session takes it as covering its
  /// earlier updates, whose new channels may still be on their way.
  bool keep(replica_update& u, std::function<void()> kept) {
    channel_changes changes;
    if (!records_.update(u, changes)) return refused(u.id, u.epoch, false);
    apply(changes, records_.channels_of(u.id), std::move(kept));
    return true;
  }

  bool refused(const std::string& id, std::uint64_t epoch, bool whole) {
    log::info(*log_, "replica refused: the session lives elsewhere now",
              {{"session", id}, {"epoch", epoch}, {"whole", whole}});
    return false;
  }

  /// A peer's batch: each item kept in order; answered once every kept one's
  /// subscriptions are confirmed.
  caf::result<std::vector<char>> keep_batch(replica_batch& batch) {
    auto n = batch.whole.size();
    auto puts = static_cast<std::size_t>(std::count(batch.whole.begin(), batch.whole.end(), 1));
    if (batch.puts.size() != puts || batch.updates.size() != n - puts)
      return make_error(caf::sec::invalid_argument);
    // Before the promise: making one takes the sender out of the message.
    auto home = self_->current_sender()->node();
    struct answer {
      caf::typed_response_promise<std::vector<char>> rp;
      std::vector<char> refused;
      std::size_t left;
    };
    auto a = std::make_shared<answer>(
        answer{self_->make_response_promise<std::vector<char>>(), std::vector<char>(n, 0), n + 1});
    auto settle = [a] {
      if (--a->left == 0) a->rp.deliver(std::move(a->refused));
    };
    auto put = batch.puts.begin();
    auto update = batch.updates.begin();
    for (std::size_t i = 0; i < n; ++i) {
      if (batch.whole[i] == 1 ? keep(*put++, home, settle) : keep(*update++, settle)) continue;
      a->refused[i] = 1;
      settle();
    }
    count();
    auto rp = a->rp;
    settle();
    return rp;
  }

  /// A session's put or update for `store`: queued in that store's outbox.
  template <class Item>
  caf::result<caf::ok_atom> send(const caf::actor& store, Item& item) {
    if (!store) return make_error(caf::sec::invalid_argument, "no replica store named");
    auto& box = outboxes_[store.address()];
    box.store = store;
    if (box.size() == 0) {  // room for a typical batch
      box.queued.updates.reserve(16);
      box.queued.whole.reserve(16);
      box.waiting.reserve(16);
    }
    constexpr bool whole = std::is_same_v<Item, session_handover>;
    if constexpr (whole)
      box.queued.puts.push_back(std::move(item));
    else
      box.queued.updates.push_back(std::move(item));
    box.queued.whole.push_back(whole ? 1 : 0);
    box.waiting.push_back(self_->make_response_promise<caf::ok_atom>());
    auto rp = box.waiting.back();
    flush(store.address());
    return rp;
  }

  /// Sends what an outbox holds while it has fewer than two batches in flight.
  void flush(const caf::actor_addr& key) {
    auto it = outboxes_.find(key);
    if (it == outboxes_.end()) return;
    auto& box = it->second;
    while (box.in_flight < max_batches_in_flight && box.size() > 0) {
      auto taken = box.take();
      ++box.in_flight;
      self_
          ->request(box.store, opts_.peer_timeout, replica_batch_atom::value,
                    std::move(taken.batch))
          .then(
              [this, key, waiting = taken.waiting](std::vector<char>& refused) {
                for (std::size_t i = 0; i < waiting->size(); ++i) {
                  auto& rp = (*waiting)[i];
                  if (i >= refused.size())
                    rp.deliver(make_error(caf::sec::invalid_argument));
                  else if (refused[i] != 0)
                    rp.deliver(make_error(errc::session_moved));
                  else
                    rp.deliver(caf::ok_atom::value);
                }
                batch_answered(key);
              },
              [this, key, waiting = taken.waiting](caf::error& err) {
                for (auto& rp : *waiting) rp.deliver(err);
                batch_answered(key);
              });
    }
    if (box.size() == 0 && box.in_flight == 0) outboxes_.erase(it);
  }

  void batch_answered(const caf::actor_addr& key) {
    auto it = outboxes_.find(key);
    if (it == outboxes_.end()) return;
    --it->second.in_flight;
    flush(key);
  }

  /// A peer's store went: what waits for it fails (its sessions place their
  /// replicas anew); batches in flight fail on their own.
  void fail_outbox(const caf::actor& store) {
    if (!store) return;
    auto it = outboxes_.find(store.address());
    if (it == outboxes_.end()) return;
    for (auto& rp : it->second.waiting) rp.deliver(make_error(caf::sec::request_receiver_down));
    it->second.waiting.clear();
    it->second.queued = {};
    if (it->second.in_flight == 0) outboxes_.erase(it);
  }

  caf::result<caf::actor, std::string> place(const std::string& id, std::uint64_t epoch) {
    if (std::any_of(peers_.begin(), peers_.end(), [](auto& p) { return p.second.asking; })) {
      placing_.push_back({id, epoch, self_->make_response_promise<caf::actor, std::string>()});
      return placing_.back().rp;
    }
    if (records_.newer_than(id, epoch)) return make_error(errc::session_moved, id);
    auto [store, node] = pick(id);
    return {std::move(store), std::move(node)};
  }

  /// Where the replica of `id` goes: the rendezvous pick among the peers whose
  /// store is known (null and empty: none).
  std::pair<caf::actor, std::string> pick(const std::string& id) const {
    std::vector<std::string> names;
    for (auto& [name, p] : peers_)
      if (p.store) names.push_back(name);
    auto pick = rendezvous_pick(id, names);
    if (pick.empty()) return {caf::actor{}, std::string{}};
    return {peers_.at(pick).store, pick};
  }

  /// Answers the placements that waited, once no peer's store is being looked up.
  void placements_due() {
    if (std::any_of(peers_.begin(), peers_.end(), [](auto& p) { return p.second.asking; })) return;
    for (auto& w : std::exchange(placing_, {})) {
      // A later copy of the session lives elsewhere (its replica, or its
      // adoption, is here). An earlier one is a handover's predecessor's.
      if (records_.newer_than(w.id, w.epoch)) {
        w.rp.deliver(make_error(errc::session_moved, w.id));
        continue;
      }
      auto [store, node] = pick(w.id);
      w.rp.deliver(std::move(store), std::move(node));
    }
  }

  void drop(const std::string& id, std::uint64_t epoch) {
    auto sender = self_->current_sender();
    if (sender && sender->node() == self_->node()) {
      // One of ours ended (a parked record's window ran out): its replica is
      // on one of the peers.
      for (auto& [name, p] : peers_)
        if (p.store) self_->send(p.store, replica_drop_atom::value, id, epoch);
      return;
    }
    channel_changes changes;
    records_.drop(id, epoch, changes);
    apply(changes, {}, [] {});
    count();
  }

  void member(const std::string& name, const caf::actor& cluster, bool up, bool lost) {
    if (up) {
      if (auto l = losing_.find(name); l != losing_.end()) {
        if (l->second == cluster) {
          // Its sessions saw this store go and placed their replicas anew.
          channel_changes changes;
          auto stale =
              records_.forget_homed_before(cluster.node(), losses_[cluster.node()], changes);
          apply(changes, {}, [] {});
          count();
          log::info(*log_, "lost peer back before its sessions were adopted",
                    {{"peer", name}, {"stale_replicas", stale}});
        } else {
          // Another process by that name: the lost one is dead.
          adopt_from(name, l->second);
        }
        losing_.erase(l);
      }
      peers_[name] = peer{cluster, nullptr};
      self_->request(cluster, opts_.peer_timeout, replica_where_atom::value)
          .then(
              [this, name, cluster](caf::actor& store) {
                auto it = peers_.find(name);
                if (it == peers_.end() || it->second.cluster != cluster) return;
                it->second.store = std::move(store);
                it->second.asking = false;
                placements_due();
              },
              [this, name, cluster](caf::error& err) {
                log::warn(*log_, "peer's replica store unknown",
                          {{"peer", name}, {"error", describe(self_->home_system(), err)}});
                auto it = peers_.find(name);
                if (it == peers_.end() || it->second.cluster != cluster) return;
                it->second.asking = false;
                placements_due();
              });
      return;
    }
    auto it = peers_.find(name);
    if (it != peers_.end() && it->second.cluster == cluster) {
      fail_outbox(it->second.store);
      peers_.erase(it);
      placements_due();
    }
    auto homed = records_.homed_at(cluster.node());
    if (homed.empty()) return;
    if (!lost) {
      // It left on purpose: its sessions were handed over (or ended); each
      // successor keeps its own replica.
      channel_changes changes;
      for (auto& id : homed) {
        if (auto h = records_.begin_adoption(id)) records_.finish_adoption(id, changes);
      }
      apply(changes, {}, [] {});
      count();
      return;
    }
    losing_[name] = cluster;
    ++losses_[cluster.node()];
    self_->delayed_send(self_, opts_.peer_timeout, replica_adopt_atom::value, name, cluster);
  }

  /// peer_timeout after the loss of `name`: its sessions are adopted unless
  /// it came back (or was adopted from) meanwhile.
  void adopt_due(const std::string& name, const caf::actor& cluster) {
    auto l = losing_.find(name);
    if (l == losing_.end() || l->second != cluster) return;
    losing_.erase(l);
    adopt_from(name, cluster);
  }

  void adopt_from(const std::string& name, const caf::actor& cluster) {
    auto homed = records_.homed_at(cluster.node());
    if (homed.empty()) return;
    log::warn(*log_, "adopting the sessions of a lost peer",
              {{"peer", name}, {"sessions", homed.size()}});
    for (auto& id : homed) adopt(id);
  }

  void adopt(const std::string& id) {
    auto h = records_.begin_adoption(id);
    if (!h) return;
    auto registry = self_->home_system().registry().get<caf::actor>(session_registry_name);
    auto last_cseq = h->last_cseq;
    auto finish = [this, id, last_cseq](const caf::actor& session) {
      channel_changes changes;
      auto tail = records_.finish_adoption(id, changes);
      if (session) {
        for (auto& d : tail.deliveries) {
          if (d.body)
            self_->send(session, handoff_delivery_atom::value, d.channel, *d.body, d.origin,
                        d.counter);
          else
            self_->send(session, channel_gap_atom::value, d.channel);
        }
        for (auto& channel : tail.gaps) self_->send(session, channel_gap_atom::value, channel);
        self_->send(session, handoff_done_atom::value, last_cseq);
        ++adopted_;
        if (opts_.metrics) opts_.metrics->session_adoptions.inc();
      }
      // Unsubscribed after the session's own subscriptions took over.
      apply(changes, {}, [] {});
      count();
    };
    if (!registry) {
      log::error(*log_, "session lost: no registry to adopt it", {{"session", id}});
      return finish(nullptr);
    }
    self_->request(registry, opts_.peer_timeout * 2, adopt_session_atom::value, std::move(*h))
        .then(
            [this, id, finish](caf::actor& session) {
              log::info(*log_, "session adopted from its replica", {{"session", id}});
              finish(session);
            },
            [this, id, finish](caf::error& err) {
              log::error(*log_, "session lost: its adoption failed",
                         {{"session", id}, {"error", describe(self_->home_system(), err)}});
              finish(nullptr);
            });
  }
};

using store_actor = caf::stateful_actor<store_state>;

caf::behavior store_behavior(store_actor* self, replica_store_options opts) {
  auto& st = self->state;
  st.records_ = replica_records{opts.session.replay_buffer, opts.session.replay_buffer_bytes};
  st.opts_ = std::move(opts);
  log::info(*st.log_, "replica store started", {{"node", st.opts_.node}});
  return {
      [self](replica_place_atom, const std::string& id, std::uint64_t epoch) {
        return self->state.place(id, epoch);
      },
      [self](replica_put_atom, const caf::actor& store, session_handover& h) {
        return self->state.send(store, h);
      },
      [self](replica_update_atom, const caf::actor& store, replica_update& u) {
        return self->state.send(store, u);
      },
      [self](replica_batch_atom, replica_batch& batch) { return self->state.keep_batch(batch); },
      [self](replica_drop_atom, const std::string& id, std::uint64_t epoch) {
        self->state.drop(id, epoch);
      },
      [self](replica_member_atom, const std::string& name, const caf::actor& cluster, bool up,
             bool lost) { self->state.member(name, cluster, up, lost); },
      [self](replica_adopt_atom, const std::string& name, const caf::actor& cluster) {
        self->state.adopt_due(name, cluster);
      },
      [self](replica_holds_atom, const std::string& id) { return self->state.records_.holds(id); },
      [self](replica_stats_atom) {
        return caf::make_message(static_cast<std::uint64_t>(self->state.records_.size()),
                                 self->state.adopted_);
      },
      [self](deliver_atom, const std::string& channel, const shared_body& body,
             std::uint64_t origin, std::uint64_t counter,
             std::int64_t) { self->state.records_.keep(channel, body, origin, counter); },
      [self](channel_gap_atom, const std::string& channel) {
        self->state.records_.keep(channel, nullptr, 0, 0);
      },
  };
}

}  // namespace

caf::actor spawn_replica_store(caf::actor_system& sys, replica_store_options opts) {
  auto store = sys.spawn(store_behavior, std::move(opts));
  sys.registry().put(replica_store_name, store);
  return store;
}

}  // namespace wsvisor
