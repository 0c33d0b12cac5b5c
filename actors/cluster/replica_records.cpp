#include "actors/cluster/replica_records.hpp"

#include <algorithm>
#include <memory>
#include <set>
#include <utility>

namespace wsvisor {

namespace {

// How many adopted sessions a store remembers (their epochs).
constexpr std::size_t max_adopted_remembered = 65536;

// How many messages a store awaits the bodies of at most (an update named them
// before their delivery reached this node; one that never comes is lost).
constexpr std::size_t max_awaited = 65536;

std::uint64_t fnv1a(const std::string& a, const std::string& b) {
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (unsigned char c : a) mix(c);
  mix(0);
  for (unsigned char c : b) mix(c);
  // FNV-1a barely spreads names that differ in their last byte over the
  // high bits, which the comparison weighs: finish with splitmix64's mixer.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

}  // namespace

std::string rendezvous_pick(const std::string& id, const std::vector<std::string>& names) {
  std::string best;
  std::uint64_t best_hash = 0;
  for (auto& name : names) {
    auto h = fnv1a(id, name);
    if (best.empty() || h > best_hash || (h == best_hash && name < best)) {
      best = name;
      best_hash = h;
    }
  }
  return best;
}

replica_records::replica_records(std::uint64_t max_messages, std::uint64_t max_bytes)
    : max_messages_(max_messages), max_bytes_(max_bytes) {}

void replica_records::want(const std::vector<std::string>& channels, channel_changes& changes) {
  for (auto& channel : channels)
    if (channels_[channel].records++ == 0) changes.subscribe.push_back(channel);
}

void replica_records::unwant(const std::vector<std::string>& channels, channel_changes& changes) {
  for (auto& channel : channels) {
    auto it = channels_.find(channel);
    if (it == channels_.end() || --it->second.records > 0) continue;
    channels_.erase(it);
    changes.unsubscribe.push_back(channel);
  }
}

void replica_records::push_entry(record& r, const std::string& id, std::uint64_t seq,
                                 std::string* body, std::uint64_t origin, std::uint64_t counter) {
  if (r.buffer.size() > 0 && seq <= (r.buffer.end() - 1)->seq) return;  // held already
  if (seq <= r.buffer.acked_through()) return;
  if (body) {
    r.buffer.push(seq, std::make_shared<const std::string>(std::move(*body)));
    return;
  }
  origin_counter key{origin, counter};
  if (auto b = bodies_.find(key); b != bodies_.end()) {
    r.buffer.push(seq, b->second);  // one body for every record here
    return;
  }
  // Its delivery to this node is still on its way.
  r.buffer.push(seq, nullptr);
  awaiting_[key].emplace_back(id, seq);
  while (awaiting_.size() > max_awaited) awaiting_.erase(awaiting_.begin());
}

std::size_t replica_records::awaiting_bodies() const {
  std::size_t n = 0;
  for (auto& [key, waiting] : awaiting_) n += waiting.size();
  return n;
}

void replica_records::set_channels(record& r, std::vector<std::string> channels,
                                   channel_changes& changes) {
  std::sort(channels.begin(), channels.end());
  channels.erase(std::unique(channels.begin(), channels.end()), channels.end());
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::set_difference(channels.begin(), channels.end(), r.state.channels.begin(),
                      r.state.channels.end(), std::back_inserter(added));
  std::set_difference(r.state.channels.begin(), r.state.channels.end(), channels.begin(),
                      channels.end(), std::back_inserter(removed));
  want(added, changes);
  unwant(removed, changes);
  r.state.channels = std::move(channels);
}

bool replica_records::put(session_handover whole, const caf::node_id& home,
                          channel_changes& changes, std::uint64_t link) {
  auto adopted = adopted_.find(whole.id);
  if (adopted != adopted_.end() && whole.epoch < adopted->second) return false;
  auto it = records_.find(whole.id);
  if (it != records_.end()) {
    if (it->second.adopting || whole.epoch < it->second.state.epoch) return false;
    // The same session again (restored, or put anew): replaces what was held.
    forget(it, changes);
  }
  record r{
      .home = home, .link = link, .state = {}, .buffer = replay_buffer{max_messages_, max_bytes_}};
  r.buffer.restore_marks(whole.acked_through, whole.lost_through);
  for (std::size_t i = 0; i < whole.buffer_seqs.size() && i < whole.buffer_bodies.size(); ++i)
    push_entry(r, whole.id, whole.buffer_seqs[i], &whole.buffer_bodies[i], 0, 0);
  whole.buffer_seqs.clear();
  whole.buffer_bodies.clear();
  auto channels = std::move(whole.channels);
  whole.channels.clear();
  r.state = std::move(whole);
  set_channels(r, std::move(channels), changes);
  auto id = r.state.id;
  records_.emplace(std::move(id), std::move(r));
  return true;
}

bool replica_records::update(replica_update& delta, channel_changes& changes) {
  auto it = records_.find(delta.id);
  if (it == records_.end() || it->second.adopting || it->second.state.epoch != delta.epoch)
    return false;
  auto& r = it->second;
  for (auto& e : delta.entries)
    push_entry(r, delta.id, e.seq, e.origin == 0 ? &e.body : nullptr, e.origin, e.counter);
  r.buffer.ack(delta.acked_through);
  if (delta.lost_through > r.buffer.lost_through())
    r.buffer.restore_marks(r.buffer.acked_through(), delta.lost_through);
  r.state.seq = std::max(r.state.seq, delta.seq);
  r.state.last_cseq = std::max(r.state.last_cseq, delta.last_cseq);
  r.state.through_origins = std::move(delta.through_origins);
  r.state.through_counters = std::move(delta.through_counters);
  if (delta.channels_changed) {
    r.state.presence = std::move(delta.presence);
    set_channels(r, std::move(delta.channels), changes);
  }
  return true;
}

const std::vector<std::string>& replica_records::channels_of(const std::string& id) const {
  static const std::vector<std::string> none;
  auto it = records_.find(id);
  return it == records_.end() ? none : it->second.state.channels;
}

void replica_records::drop(const std::string& id, std::uint64_t epoch, channel_changes& changes) {
  auto it = records_.find(id);
  if (it == records_.end() || it->second.adopting || it->second.state.epoch != epoch) return;
  forget(it, changes);
}

void replica_records::forget(std::map<std::string, record>::iterator it, channel_changes& changes) {
  unwant(it->second.state.channels, changes);
  records_.erase(it);
}

bool replica_records::newer_than(const std::string& id, std::uint64_t epoch) const {
  auto r = records_.find(id);
  // One being adopted is the next epoch's already.
  if (r != records_.end() && r->second.state.epoch + (r->second.adopting ? 1 : 0) > epoch)
    return true;
  auto a = adopted_.find(id);
  return a != adopted_.end() && a->second > epoch;
}

std::vector<std::string> replica_records::homed_at(const caf::node_id& home) const {
  std::vector<std::string> ids;
  for (auto& [id, r] : records_)
    if (r.home == home && !r.adopting) ids.push_back(id);
  return ids;
}

std::size_t replica_records::forget_homed_before(const caf::node_id& home, std::uint64_t since,
                                                 channel_changes& changes) {
  std::size_t n = 0;
  for (auto it = records_.begin(); it != records_.end();) {
    auto next = std::next(it);
    if (it->second.home == home && it->second.link < since && !it->second.adopting) {
      forget(it, changes);
      ++n;
    }
    it = next;
  }
  return n;
}

void replica_records::keep(const std::string& channel, shared_body body, std::uint64_t origin,
                           std::uint64_t counter) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;  // a delivery sent before our unsubscribe
  auto& c = it->second;
  auto bytes = body ? body->size() : 0;
  if (body && origin != 0) {
    origin_counter key{origin, counter};
    bodies_.emplace(key, body);
    if (auto w = awaiting_.find(key); w != awaiting_.end()) {
      for (auto& [id, seq] : w->second)
        if (auto r = records_.find(id); r != records_.end()) r->second.buffer.fill(seq, body);
      awaiting_.erase(w);
    }
  }
  c.kept.push_back(kept_delivery{++arrivals_, channel, std::move(body), origin, counter});
  c.bytes += bytes;
  while (!c.kept.empty() && (c.kept.size() > max_messages_ || c.bytes > max_bytes_)) {
    auto& old = c.kept.front();
    c.bytes -= old.body ? old.body->size() : 0;
    raise_counter(c.evicted, old.origin, old.counter);
    if (auto b = bodies_.find({old.origin, old.counter});
        b != bodies_.end() && b->second == old.body)
      bodies_.erase(b);
    c.kept.pop_front();
  }
}

std::optional<session_handover> replica_records::begin_adoption(const std::string& id) {
  auto it = records_.find(id);
  if (it == records_.end() || it->second.adopting) return std::nullopt;
  auto& r = it->second;
  r.adopting = true;
  session_handover h = r.state;
  h.epoch = r.state.epoch + 1;
  h.acked_through = r.buffer.acked_through();
  h.lost_through = r.buffer.lost_through();
  for (auto& e : r.buffer) {
    if (!e.body) {
      // Named by the home, never received here: lost, never silently.
      h.lost_through = std::max(h.lost_through, e.seq);
      continue;
    }
    h.buffer_seqs.push_back(e.seq);
    h.buffer_bodies.push_back(*e.body);
  }
  return h;
}

adoption_tail replica_records::finish_adoption(const std::string& id, channel_changes& changes) {
  adoption_tail tail;
  auto it = records_.find(id);
  if (it == records_.end() || !it->second.adopting) return tail;
  auto& st = it->second.state;
  per_origin_counters marks;
  for (std::size_t i = 0; i < st.through_origins.size() && i < st.through_counters.size(); ++i)
    raise_counter(marks, st.through_origins[i], st.through_counters[i]);
  for (auto& channel : st.channels) {
    auto c = channels_.find(channel);
    if (c == channels_.end()) continue;
    for (auto& [origin, counter] : c->second.evicted)
      if (counter > counter_of(marks, origin)) {
        tail.gaps.push_back(channel);
        break;
      }
    for (auto& d : c->second.kept)
      if (!d.body || d.origin == 0 || d.counter > counter_of(marks, d.origin))
        tail.deliveries.push_back(d);
  }
  std::sort(tail.deliveries.begin(), tail.deliveries.end(),
            [](const kept_delivery& a, const kept_delivery& b) { return a.arrival < b.arrival; });
  remember_adopted(id, st.epoch + 1);
  forget(it, changes);
  return tail;
}

void replica_records::remember_adopted(const std::string& id, std::uint64_t epoch) {
  if (adopted_.emplace(id, epoch).second) adopted_order_.push_back(id);
  while (adopted_order_.size() > max_adopted_remembered) {
    adopted_.erase(adopted_order_.front());
    adopted_order_.pop_front();
  }
}

std::size_t replica_records::kept() const {
  std::size_t n = 0;
  for (auto& [channel, c] : channels_) n += c.kept.size();
  return n;
}

}  // namespace wsvisor
