#include "actors/session/session_counting.hpp"

namespace wsvisor {

metrics::gauge* session_counting::gauge_of(gauge g) const {
  if (g == gauge::attached) return &metrics->sessions_attached;
  if (g == gauge::detached) return &metrics->sessions_detached;
  return nullptr;
}

void session_counting::count_as(gauge g) {
  if (!metrics || g == counted_in) return;
  if (auto* from = gauge_of(counted_in)) from->sub();
  if (auto* to = gauge_of(g)) to->add();
  counted_in = g;
}

void session_counting::handed(const replay_buffer::entry& e,
                              std::chrono::steady_clock::time_point now) {
  metrics->delivered.inc();
  // A message is timed on its first hand-off only: a replay of one the
  // client lost with its connection would count twice.
  if (e.seq <= timed_up_to) return;
  timed_up_to = e.seq;
  if (e.taken != std::chrono::steady_clock::time_point{})
    metrics->delivery_latency.observe(now - e.taken);
}

}  // namespace wsvisor
