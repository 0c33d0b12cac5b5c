#pragma once

/// What this node's broker published to its peers, kept so that a peer whose
/// link was lost (a frozen or partitioned node, a dropped connection) gets
/// what it missed when it joins again, each message once, in order, and is
/// told where that is no longer possible (docs/cluster.md, "A lost link").
///
/// The broker keeps here every publish it took on a channel a peer wants, or
/// wanted when its link was lost (an *away* peer), up to a bound of messages
/// and bytes; the oldest is evicted first. A peer that joins again says the
/// highest counter it received from this broker; `rejoined` answers what to
/// send it again (everything after that counter on the channels it wanted,
/// each from when it began to want it) and the channels on which something
/// it wanted was evicted meanwhile: their subscribers there must not go on as
/// if nothing were missing.
///
/// A peer is its cluster actor's address while it is a member, and its node
/// name while it is away; a peer that joins again under that name with
/// another address has restarted (its sessions are new) and gets nothing.
/// A peer that leaves on purpose (a drain) is not away: its sessions moved.
/// Plain data, owned by the broker; not thread-safe.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>

namespace wsvisor {

class peer_resend {
 public:
  struct entry {
    std::uint64_t counter;
    std::string channel;
    std::shared_ptr<const std::string> body;
  };

  /// What a peer that joined again must be sent.
  struct catch_up {
    std::vector<const entry*> resend;        // in counter order; valid until the next keep()
    std::vector<std::string> lost_channels;  // something it wanted was evicted
  };

  // Away peers remembered at most; the one away longest is forgotten first
  // (if it comes back, every channel it wants is reported lost).
  static constexpr std::size_t max_away = 64;

  peer_resend(std::size_t max_messages, std::size_t max_bytes);

  /// `peer` wants `channel` from the publish after `counter` on (on), or no
  /// longer (off).
  void interest(const caf::actor_addr& peer, const std::string& channel, bool on,
                std::uint64_t counter);

  /// `peer` is no longer a member. Lost (`lost`): what it wanted is
  /// remembered as away under its node `name`; left or replaced: forgotten.
  void gone(const caf::actor_addr& peer, const std::string& name, bool lost);

  /// True iff a publish on `channel` must be kept: a peer wants it or an
  /// away peer wanted it.
  bool wanted(const std::string& channel) const;

  /// Keeps publish `counter` (above every counter kept before).
  void keep(std::uint64_t counter, const std::string& channel,
            std::shared_ptr<const std::string> body);

  /// `peer` joined again and holds this broker's publishes up to `received`
  /// (0: none); `wants` is the interest it announced. Forgets its away
  /// record. A peer never away gets nothing, unless it received publishes
  /// from this broker before: then it was away longer than this remembers,
  /// and every channel it wants is lost.
  catch_up rejoined(const caf::actor_addr& peer, const std::string& name, std::uint64_t received,
                    const std::vector<std::string>& wants);

  std::size_t size() const { return entries_.size() - head_; }
  std::size_t bytes() const { return bytes_; }
  std::size_t away_peers() const { return away_.size(); }

 private:
  struct away_peer {
    caf::actor_addr addr;  // its cluster actor when it was lost
    std::map<std::string, std::uint64_t>
        channels;             // channel -> the counter its interest began after
    std::uint64_t since = 0;  // the order it went away in
  };

  void evict_oldest();
  void forget_away(std::map<std::string, away_peer>::iterator it);
  void forget_unwanted(const std::string& channel);

  std::size_t max_messages_;
  std::size_t max_bytes_;
  std::vector<entry> entries_;  // live from head_ on, as in replay_buffer
  std::size_t head_ = 0;
  std::size_t bytes_ = 0;
  // Channel -> the highest counter evicted on it, for channels a member or
  // an away peer wants (forgotten with the last of them).
  std::map<std::string, std::uint64_t> evicted_;
  std::map<caf::actor_addr, std::map<std::string, std::uint64_t>> live_;
  std::map<std::string, away_peer> away_;          // by node name
  std::map<std::string, std::size_t> away_wants_;  // channel -> away peers that want it
  std::uint64_t departures_ = 0;
};

}  // namespace wsvisor
