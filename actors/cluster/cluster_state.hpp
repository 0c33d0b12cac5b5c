#pragma once

/// The state of the cluster actor (actors/cluster/cluster.hpp): the members
/// it knows, the channels each wants, and the named operations its
/// behaviour dispatches to (actors/cluster/cluster.cpp). Touched only by its
/// actor.

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

#include "actors/cluster/messages.hpp"
#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/parked_session.hpp"
#include "actors/supervision/messages.hpp"
#include "actors/supervision/node_counters.hpp"
#include "actors/supervision/supervisor.hpp"
#include "log/log.hpp"

#include "actors/cluster/cluster.hpp"
#include "log/throttle.hpp"

namespace wsvisor::detail {

struct member {
  caf::actor actor;     // the peer's cluster actor
  std::string url;      // its public_url
  std::string address;  // its middleman address, as it announced it
  std::set<std::string> interest;
  // `peer did not confirm interest`: one per subscribe to a new channel while
  // the peer is slow, so held back to one line per [log] repeat_interval.
  log::throttle unconfirmed;
  std::int64_t since_ms = 0;  // joined at (Unix ms)
  bool leaving = false;       // it said cluster_leave_atom: its down is a leave
};

/// Now, in Unix milliseconds.
std::int64_t unix_ms_now();

// Nodes that left or were lost are remembered for GET /api/cluster, this many
// at most (the oldest departure is forgotten first).
inline constexpr std::size_t max_departed = 64;

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
  std::set<std::string> interest_;             // channels with local subscribers
  // Per origin (a peer's broker incarnation), the highest delivery counter
  // received from it: what this node says it holds when it joins a peer
  // again, which then sends what it missed (actors/session/peer_resend.hpp).
  per_origin_counters received_;
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

  void echo(std::uint64_t token, bool timed_out);

  caf::actor broker() const;

  caf::actor me() const { return caf::actor_cast<caf::actor>(self_); }

  std::vector<std::string> interest_list() const { return {interest_.begin(), interest_.end()}; }

  received_marks received_marks_now() const;

  void count_peers();

  void tell_broker(caf::message msg);

  /// To this node's replica store, if replicas are on.
  void tell_replicas(caf::message msg);

  /// The member leaves: a count of lines held back for it is logged.
  void say_held_back(const std::string& name, member& m);

  /// A join (ours or the peer's): a peer that becomes a member is first
  /// told to our broker with what it `received`, then its interest.
  void add_member(const std::string& name, const caf::actor& actor, const std::string& url,
                  const std::string& address, const std::vector<std::string>& interest,
                  const received_marks& received);

  /// The member `it` is down: it left on purpose (cluster_leave_atom) or was lost.
  void member_down(std::map<std::string, member>::iterator it, const caf::error& reason);

  /// Every member, departed ones, and configured peer addresses that reached
  /// no node yet (GET /api/cluster), by node name, then by address.
  std::vector<cluster_member_info> status() const;

  /// Announces a local interest change to every member; `done` runs once
  /// each has answered or timed out.
  void announce(const std::string& channel, bool on, std::function<void()> done);
};

}  // namespace wsvisor::detail
