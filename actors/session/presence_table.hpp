#pragma once

/// Who is a member of which channel, cluster-wide as this node knows it
/// (docs/protocol.md, "Presence"). Plain data, no actors: owned by the
/// broker, not thread-safe.
///
/// A row is a member of a channel with its subject and state (online or
/// away: a member that is gone has no row) and where its last change came
/// from: the origin (a broker incarnation, actors/ids.hpp new_origin) and
/// that broker's counter for it. One origin's changes arrive in counter
/// order, so a change at or below a row's counter from the same origin is
/// old news. A snapshot of one origin's rows (a peer's, asked when this node
/// starts receiving the channel) is merged by the same rule.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "protocol/codec.hpp"

namespace wsvisor {

class presence_table {
 public:
  struct row {
    std::string subject_json;  // a JSON string, or null
    proto::presence_state state = proto::presence_state::online;
    std::uint64_t origin = 0;
    std::uint64_t counter = 0;
  };

  /// Members of `channel` (online or away).
  std::size_t members(const std::string& channel) const;

  bool has(const std::string& channel, std::string_view member) const;

  /// The row of `member` on `channel`, or null.
  const row* find(const std::string& channel, std::string_view member) const;

  /// A change made at `origin` as its `counter`: `gone` removes the row,
  /// anything else sets it (with that origin and counter). Ignored if the row
  /// came from the same origin with a higher counter. True iff what members
  /// see changed: a row added or removed, or its state; false for a change
  /// ignored or one that only moves the row to another origin (a session
  /// adopted by another node, away before and after).
  bool apply(const std::string& channel, std::string_view member, std::string_view subject_json,
             proto::presence_state state, std::uint64_t origin, std::uint64_t counter);

  /// Every row `origin` set on `channel`, as presence bodies
  /// (proto::encode_presence_body).
  std::vector<proto::shared_body> rows_from(const std::string& channel, std::uint64_t origin) const;

  /// `origin`'s rows on `channel` as of its counter `taken_at`: each body
  /// is applied at that counter (rows changed later stay as they are), and
  /// its rows the snapshot lacks, not changed since, are removed.
  void merge(const std::string& channel, std::uint64_t origin, std::uint64_t taken_at,
             const std::vector<std::string>& bodies);

  /// The members of `channel` as the presence answer's JSON array:
  /// `[{"member":M,"subject":S,"state":"online"}, ...]`, by member id.
  std::string members_json(const std::string& channel) const;

  /// A row `away_from` changed or `drop_from` removed.
  struct change {
    std::string channel;
    std::string member;
    std::string subject_json;
  };

  /// Sets every row from `origin` (a peer lost) to `away`; returns those
  /// that were not away yet.
  std::vector<change> away_from(std::uint64_t origin);

  /// Removes the rows from `origin` still away (their sessions expired with
  /// the peer); returns them.
  std::vector<change> drop_from(std::uint64_t origin);

  /// Rows in all channels.
  std::size_t size() const { return rows_; }

 private:
  std::unordered_map<std::string, std::map<std::string, row, std::less<>>> channels_;
  std::size_t rows_ = 0;
};

}  // namespace wsvisor
