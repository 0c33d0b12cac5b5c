#include "actors/session/peer_resend.hpp"

#include <algorithm>
#include <utility>

namespace wsvisor {

peer_resend::peer_resend(std::size_t max_messages, std::size_t max_bytes)
    : max_messages_(max_messages), max_bytes_(max_bytes) {}

void peer_resend::interest(const caf::actor_addr& peer, const std::string& channel, bool on,
                           std::uint64_t counter) {
  // A peer's entry stays while it is a member, even with no channel: its
  // loss then leaves an away record that says it missed nothing.
  auto& channels = live_[peer];
  if (on) {
    channels.emplace(channel, counter);
  } else {
    channels.erase(channel);
    forget_unwanted(channel);
  }
}

void peer_resend::forget_unwanted(const std::string& channel) {
  if (!wanted(channel)) evicted_.erase(channel);
}

void peer_resend::gone(const caf::actor_addr& peer, const std::string& name, bool lost) {
  auto it = live_.find(peer);
  auto channels =
      it == live_.end() ? std::map<std::string, std::uint64_t>{} : std::move(it->second);
  if (it != live_.end()) live_.erase(it);
  if (auto old = away_.find(name); old != away_.end()) forget_away(old);
  if (!lost) {
    for (auto& [channel, from] : channels) forget_unwanted(channel);
    return;
  }
  if (away_.size() >= max_away) {
    auto oldest = std::min_element(away_.begin(), away_.end(), [](auto& a, auto& b) {
      return a.second.since < b.second.since;
    });
    forget_away(oldest);
  }
  for (auto& [channel, from] : channels) ++away_wants_[channel];
  away_.emplace(name,
                away_peer{.addr = peer, .channels = std::move(channels), .since = ++departures_});
}

void peer_resend::forget_away(std::map<std::string, away_peer>::iterator it) {
  auto channels = std::move(it->second.channels);
  away_.erase(it);
  for (auto& [channel, from] : channels) {
    if (auto w = away_wants_.find(channel); w != away_wants_.end() && --w->second == 0)
      away_wants_.erase(w);
    forget_unwanted(channel);
  }
}

bool peer_resend::wanted(const std::string& channel) const {
  if (away_wants_.count(channel) > 0) return true;
  return std::any_of(live_.begin(), live_.end(),
                     [&channel](auto& peer) { return peer.second.count(channel) > 0; });
}

void peer_resend::keep(std::uint64_t counter, const std::string& channel,
                       std::shared_ptr<const std::string> body) {
  bytes_ += body->size();
  entries_.push_back({counter, channel, std::move(body)});
  while (size() > 0 && (size() > max_messages_ || bytes_ > max_bytes_)) evict_oldest();
}

void peer_resend::evict_oldest() {
  auto& e = entries_[head_];
  // Kept only while wanted: a peer that comes back and had not received it
  // has lost it (rejoined).
  evicted_[e.channel] = e.counter;
  bytes_ -= e.body->size();
  e = entry{};
  if (++head_ * 2 >= entries_.size()) {
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

peer_resend::catch_up peer_resend::rejoined(const caf::actor_addr& peer, const std::string& name,
                                            std::uint64_t received,
                                            const std::vector<std::string>& wants) {
  catch_up out;
  if (live_.count(peer) > 0) return out;  // a member already: not a rejoin
  auto it = away_.find(name);
  if (it == away_.end() || it->second.addr != peer) {
    if (it != away_.end()) forget_away(it);  // it restarted: its sessions are new
    // It received from this broker before but is not remembered: it was
    // away longer than this remembers.
    if (received > 0 && it == away_.end()) out.lost_channels = wants;
    return out;
  }
  auto& away = it->second;
  // Lost: a publish it wanted and had not received was evicted (published
  // while it was away, or sent as its link went and lost in flight).
  for (auto& [channel, from] : away.channels)
    if (auto e = evicted_.find(channel);
        e != evicted_.end() && e->second > std::max(received, from))
      out.lost_channels.push_back(channel);
  for (auto i = head_; i < entries_.size(); ++i) {
    auto& e = entries_[i];
    if (e.counter <= received) continue;
    auto c = away.channels.find(e.channel);
    if (c != away.channels.end() && e.counter > c->second) out.resend.push_back(&e);
  }
  forget_away(it);
  return out;
}

}  // namespace wsvisor
