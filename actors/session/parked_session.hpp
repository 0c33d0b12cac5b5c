#pragma once

/// A detached session while no actor runs it: the record its registry keeps
/// (docs/architecture.md, "Detached sessions"). Plain data, owned by one actor
/// at a time and moved between them by message within one process (never
/// serialised): the session actor that parks hands it to the registry, the
/// registry hands it to the actor it spawns again on resume.
///
/// It holds what a resume, the admin API and a later handover need and
/// nothing else: no timer (the registry keeps one for all records), no
/// std::deque, no copy of the id (the registry's key) or of the token (the
/// registry's entry holds it); the replay buffer holds no memory while empty.

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "actors/messages.hpp"
#include "actors/session/jwt_auth.hpp"
#include "actors/session/messages.hpp"
#include "actors/session/replay_buffer.hpp"
#include "config/config.hpp"
#include "metrics/node_metrics.hpp"

namespace wsvisor {

/// Per origin (broker incarnation), the highest delivery counter a session
/// holds; deliveries at or below it are copies (actors/session/session.hpp).
using per_origin_counters = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

/// The counter held from `origin` (0: none yet).
std::uint64_t counter_of(const per_origin_counters& counters, std::uint64_t origin);

/// Raises the counter held from `origin` to `counter`; origin 0 (a single
/// node) is not recorded.
void raise_counter(per_origin_counters& counters, std::uint64_t origin, std::uint64_t counter);

/// Pushes message `seq` into `buffer`, stamped with `accepted` (deliver_atom's
/// steady_clock_ns of the broker's taking it; 0: now) when `metrics` is set,
/// and counts the evictions in metrics->replay_evictions.
void buffer_message(replay_buffer& buffer, std::uint64_t seq, shared_body body,
                    std::int64_t accepted, node_metrics* metrics);

/// What the admin API shows of a session, an actor's or a record's: an
/// attached one without its peer (the caller fills it in), a detached one
/// with the end of its resume window.
session_info describe_session(const std::string& id, bool attached, const client_identity& identity,
                              std::vector<std::string> channels, std::uint64_t seq,
                              const replay_buffer& buffer, const session_config& config,
                              std::chrono::system_clock::time_point since);

struct parked_session {
  session_config config;                // the session's own (a reload changes new sessions only)
  client_identity identity;             // [auth]: subject and allowed channels
  std::uint64_t seq = 0;                // of the last message produced
  std::uint64_t last_cseq = 0;          // highest accepted publish cseq
  std::uint64_t timed_up_to = 0;        // session_counting's: latency observed up to this seq
  std::uint64_t max_subscriptions = 0;  // limits.subscriptions_per_session it was made with
  replay_buffer buffer{0, 0};           // unacknowledged messages, with its bounds and marks
  std::vector<std::string> channels;    // subscriptions, sorted
  std::vector<std::string> presence;    // of channels: joined as a member, sorted
  std::string member;                   // its presence member id (actors/ids.hpp member_of)
  per_origin_counters origin_counters;  // cluster nodes: per origin, the highest counter held
  std::uint64_t epoch = 0;              // which copy of the session (session_handover::epoch)
  std::string replica;                  // the node holding its replica when it parked (admin API)
  std::uint64_t replica_seq = 0;        // the replica held its messages up to this seq
  std::chrono::system_clock::time_point since{};  // detached since (admin API)
  std::chrono::steady_clock::time_point due{};    // the resume window ends

  /// Appends a delivery as the session would have: a copy (its counter at or
  /// below the origin's mark) is dropped, so is a presence event it is not
  /// a member for, or its own; anything else takes the next seq.
  /// A null `body` is a gap (channel_gap_atom): it takes the next seq, lost.
  /// Returns true iff it was appended.
  bool append(shared_body body, std::uint64_t origin, std::uint64_t counter, std::int64_t accepted,
              node_metrics* metrics);

  /// Whether a presence body is for this session (any other body is).
  bool wants(const std::string& body) const;

  /// What the admin API shows of it (detached, no peer).
  session_info info(const std::string& id) const;
};

}  // namespace wsvisor
