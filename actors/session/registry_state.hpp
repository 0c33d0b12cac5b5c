#pragma once

/// Internal to the session registry (actors/session/registry.cpp): the state of the
/// registry actor, its sessions (actors or parked records) and the moves
/// between the two. Everything here runs on the registry's own thread of
/// execution; nothing is shared.
///
/// A session's entry is in one of four states:
/// - live: an actor runs it (attached or detached);
/// - parking: its actor asked the broker to park it (the registry learns of
///   it from the broker's notice, from the record, or from an actor's
///   errc::session_parked refusal); operations on it wait;
/// - parked: the record, filed under its channels and queued for expiry;
/// - unparking: an actor was spawned for the record and the broker asked to
///   move the channels to it; the record keeps taking deliveries until the
///   broker answers, then goes to the actor; operations on it wait.

#include <spdlog/logger.h>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/fwd.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/parking_lot.hpp"
#include "actors/session/registry.hpp"
#include "actors/session/session.hpp"
#include "actors/transport.hpp"
#include "log/log.hpp"

namespace wsvisor::detail {

struct registry_state;
using registry_actor = caf::stateful_actor<registry_state>;

/// A move of a session between actor and record, and what waits for it.
struct session_move {
  bool unparking = false;                      // else parking
  bool notice = false;                         // parking: the broker's notice has arrived
  std::vector<std::function<void()>> waiting;  // run once it is done, in order
};

/// One session of this node.
struct session_slot {
  caf::actor actor;  // runs it; null while parked (and from its record's arrival on)
  std::string token;
  std::unique_ptr<parked_entry> parked;  // the record: parked, or on its way in or out
  std::unique_ptr<session_move> move;    // a move under way; null when settled
};

struct expired_session {
  std::string id;
  std::chrono::steady_clock::time_point at;
};

/// A client's resume, as it waits for a move to finish.
struct resume_request {
  caf::response_promise rp;
  caf::actor conn;
  transport_ptr transport;
  std::string id;
  std::string token;
  std::uint64_t last_seq = 0;
  client_identity who;
};

struct registry_state {
  static inline const char* name = "session_registry";

  explicit registry_state(registry_actor* self) : self_(self) {}
  ~registry_state();
  registry_state(const registry_state&) = delete;
  registry_state& operator=(const registry_state&) = delete;

  registry_actor* self_;
  std::shared_ptr<spdlog::logger> log_ = log::get("registry");
  registry_options opts_;
  caf::actor broker_;
  std::unordered_map<std::string, session_slot> sessions_;
  std::unordered_map<caf::actor_addr, std::string> ids_;         // from monitors: down_msg pending
  std::unordered_set<caf::actor_addr> linked_;                   // from links: exit_msg pending
  std::deque<expired_session> expired_order_;                    // oldest first
  std::unordered_map<std::string, std::string> expired_tokens_;  // id -> token
  parking_lot lot_;
  // One timer for every parked record: armed for the first due, stamped
  // with a generation (CAF 0.17 cannot cancel a delayed_send).
  std::uint64_t expiry_generation_ = 0;
  std::optional<std::chrono::steady_clock::time_point> expiry_armed_;

  node_metrics* metrics() const { return opts_.metrics.get(); }
  session_slot* find(const std::string& id);

  // -- new sessions -------------------------------------------------------------
  void create(caf::response_promise& rp, caf::actor conn, transport_ptr transport,
              std::string reason, client_identity who);
  caf::actor start(session_args args);
  void watch(const caf::actor& session, const std::string& id);
  caf::actor adopt(session_handover h, caf::actor predecessor);

  // -- operations on a session by id (wait for a move, unpark when needed) -----
  void resume(resume_request r);
  void refuse(resume_request& r, std::string reason);
  /// The `reason` of the welcome a refused resume gets (docs/protocol.md):
  /// "overflow", "expired" (the session ran out of its window), or "unknown".
  static std::string refusal_reason(const caf::error& err, bool expired);
  void resume_elsewhere(const caf::actor& cluster, resume_request r, int attempts);
  void lookup(caf::response_promise rp, std::string id, std::string token);
  void info(caf::response_promise rp, std::string id);
  void end(caf::response_promise rp, std::string id);
  void cut(caf::response_promise rp, std::string id);

  /// Queues `op` behind the move of `slot`; false when there is none.
  bool deferred(session_slot& slot, std::function<void()> op);

  /// After the actor `who` of session `id` failed a request with `err`: true
  /// when the registry retries `op` (the session parked meanwhile), false when
  /// `err` is the answer.
  bool retry_after(const std::string& id, const caf::actor& who, const caf::error& err,
                   std::function<void()> op);

  // -- parking --------------------------------------------------------------------
  void on_notice(const std::string& id, std::vector<std::string> channels);
  void on_record(const std::string& id, parked_session rec);
  /// A delivery to the parked sessions on `channel`; a null `body` is a gap
  /// (channel_gap_atom).
  void on_delivery(const std::string& channel, const shared_body& body, std::uint64_t origin,
                   std::uint64_t counter, std::int64_t accepted);
  void settle_parked(session_slot& slot);
  /// Spawns an actor for the parked session and moves it there; `hold`: how
  /// long the actor waits for an attach before it parks again.
  void unpark(const std::string& id, session_slot& slot, duration hold);
  void finish_unpark(const std::string& id, const caf::actor& session, duration hold);
  /// Forgets the session: a record leaves the lot (and the broker's count),
  /// operations waiting for it run (and find it gone).
  void forget(const std::string& id);
  /// Takes one parked session off each of `channels` at the broker.
  /// A parked session ended here: its replica on a peer goes too.
  /// The resume's session is somewhere this node cannot reach now: close 4503.
  void unreachable(resume_request& r);

  /// Refuses the resume as unknown unless this node holds the session's replica.
  void unless_replicated_here(resume_request r);

  void drop_replica(const std::string& id, std::uint64_t epoch);

  /// Gives the broker back a parked session's place on `channels`; its
  /// presence memberships (of `member`) are gone.
  void release(std::vector<std::string> channels, std::string member);
  void arm_expiry();
  void expire_due();

  // -- drain ------------------------------------------------------------------
  static constexpr std::size_t handovers_in_flight = 16;
  struct drain_run {
    caf::typed_response_promise<std::uint64_t, std::uint64_t> rp;
    std::vector<caf::actor> clusters;
    std::vector<std::string> urls;
    std::vector<std::string> queue;                 // sessions still to hand over, by id
    std::map<std::string, std::uint32_t> attempts;  // failed handovers per session so far
    std::size_t next_target = 0;
    std::size_t running = 0;
    std::uint64_t handed = 0;
    std::uint64_t failed = 0;
    std::uint64_t generation = 0;
    duration bound{0};
  };
  // A session whose handover failed (a busy peer did not answer in time) is
  // tried again with the next peer, this many times in all.
  static constexpr std::uint32_t handover_attempts = 3;
  std::optional<drain_run> drain_;
  std::uint64_t drain_generation_ = 0;
  std::minstd_rand rng_{std::random_device{}()};

  void start_drain(caf::typed_response_promise<std::uint64_t, std::uint64_t> rp,
                   std::vector<caf::actor> clusters, std::vector<std::string> urls, duration bound);
  void pump_drain();
  void hand_over(const std::string& id, std::uint64_t generation, caf::actor target,
                 std::string url, std::uint32_t retry_ms);
  void handover_done(std::uint64_t generation, bool ok);
  /// The handover of `id` failed: tried again with the next peer while
  /// attempts are left and the drain runs, else counted as failed.
  void handover_failed(const std::string& id, std::uint64_t generation);
  void finish_drain(bool timed_out);

  // -- expired sessions and the admin list ----------------------------------------
  void forget_old(std::chrono::steady_clock::time_point now);
  void remember_expired(const std::string& id, const std::string& token);
  bool expired_match(const std::string& id, const std::string& token);
  std::tuple<std::vector<std::string>, std::vector<caf::actor>, bool> page(
      const std::string& after, std::uint64_t limit) const;
};

}  // namespace wsvisor::detail
