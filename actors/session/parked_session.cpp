#include "actors/session/parked_session.hpp"
#include "actors/session/messages.hpp"
#include "protocol/codec.hpp"

#include <algorithm>

namespace wsvisor {

std::uint64_t counter_of(const per_origin_counters& counters, std::uint64_t origin) {
  for (auto& [o, c] : counters)
    if (o == origin) return c;
  return 0;
}

void raise_counter(per_origin_counters& counters, std::uint64_t origin, std::uint64_t counter) {
  if (origin == 0) return;  // a single node: nothing to tell apart
  for (auto& [o, c] : counters)
    if (o == origin) {
      c = std::max(c, counter);
      return;
    }
  counters.emplace_back(origin, counter);
}

void buffer_message(replay_buffer& buffer, std::uint64_t seq, shared_body body,
                    std::int64_t accepted, node_metrics* metrics) {
  if (metrics == nullptr) {
    buffer.push(seq, std::move(body));
    return;
  }
  auto taken = accepted != 0
                   ? std::chrono::steady_clock::time_point{std::chrono::nanoseconds{accepted}}
                   : std::chrono::steady_clock::now();
  if (auto evicted = buffer.push(seq, std::move(body), taken); evicted > 0)
    metrics->replay_evictions.inc(evicted);
}

bool parked_session::append(shared_body body, std::uint64_t origin, std::uint64_t counter,
                            std::int64_t accepted, node_metrics* metrics) {
  if (!body) {
    buffer.lose(++seq);
    if (metrics) metrics->cluster_gaps.inc();
    return true;
  }
  // Each origin's deliveries come in counter order on one path; one at or
  // below the mark is a copy of a message a predecessor handed over.
  if (origin != 0 && counter <= counter_of(origin_counters, origin)) return false;
  raise_counter(origin_counters, origin, counter);
  if (!wants(*body)) return false;
  buffer_message(buffer, ++seq, std::move(body), accepted, metrics);
  return true;
}

bool parked_session::wants(const std::string& body) const {
  if (!proto::is_presence_body(body)) return true;
  auto f = proto::read_presence_body(body);
  return f && f->member != member &&
         std::binary_search(presence.begin(), presence.end(), f->channel);
}

session_info describe_session(const std::string& id, bool attached, const client_identity& identity,
                              std::vector<std::string> channels, std::uint64_t seq,
                              const replay_buffer& buffer, const session_config& config,
                              std::chrono::system_clock::time_point since) {
  auto unix_ms = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  };
  session_info i{.id = id,
                 .attached = attached,
                 .subject = identity.subject,
                 .channels = std::move(channels),
                 .seq = seq,
                 .acked = buffer.acked_through(),
                 .buffered = buffer.size(),
                 .buffered_bytes = buffer.bytes(),
                 .buffer_max = config.replay_buffer,
                 .buffer_max_bytes = config.replay_buffer_bytes,
                 .since_ms = unix_ms(since)};
  if (!attached) i.expires_ms = unix_ms(since + config.resume_window);
  return i;
}

session_info parked_session::info(const std::string& id) const {
  auto i = describe_session(id, false, identity, channels, seq, buffer, config, since);
  i.replica = replica;
  i.replica_seq = replica_seq;
  return i;
}

}  // namespace wsvisor
