#include "config/config.hpp"

namespace wsvisor {

std::map<std::string, policy> builtin_policies() {
  using std::chrono::milliseconds;
  // root: a crash loop of the node's top-level children ends the process, so
  // that a service manager restarts it with a clean slate.
  policy root{.restart = restart_kind::permanent,
              .strategy = strategy_kind::one_for_one,
              .backoff_min = milliseconds{100},
              .backoff_max = milliseconds{5'000},
              .backoff_multiplier = 2.0,
              .jitter = jitter_kind::full,
              .reset_after = milliseconds{30'000},
              .max_restarts = 5,
              .restart_window = milliseconds{60'000},
              .on_give_up = give_up_action::escalate};
  // upstream: outbound links flap; retry with growing, jittered delays and
  // escalate only on a sustained crash loop.
  policy upstream{};
  // cluster: a peer may be down for a long time (maintenance, a partition);
  // keep retrying without limit at a modest pace.
  policy cluster{.restart = restart_kind::permanent,
                 .strategy = strategy_kind::one_for_one,
                 .backoff_min = milliseconds{500},
                 .backoff_max = milliseconds{10'000},
                 .backoff_multiplier = 2.0,
                 .jitter = jitter_kind::full,
                 .reset_after = milliseconds{30'000},
                 .max_restarts = 0,
                 .restart_window = milliseconds{60'000},
                 .on_give_up = give_up_action::stop};
  return {{"root", root}, {"upstream", upstream}, {"cluster", cluster}};
}

}  // namespace wsvisor
