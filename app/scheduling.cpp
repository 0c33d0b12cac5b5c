#include "app/scheduling.hpp"

#include <sched.h>

#include <algorithm>

#include <caf/atom.hpp>
#include <caf/io/middleman.hpp>
#include <caf/timespan.hpp>

#include "actors/cluster/messages.hpp"
#include "actors/upstream/messages.hpp"

namespace wsvisor {

namespace {

std::size_t usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  return static_cast<std::size_t>(CPU_COUNT(&set));
}

}  // namespace

bool use_work_sharing(actor_scheduler s) {
  switch (s) {
    case actor_scheduler::io:
      return false;
    case actor_scheduler::stealing:
      return false;
    case actor_scheduler::sharing:
      return true;
    case actor_scheduler::automatic:
      return usable_cpus() == 1;
  }
  return false;
}

std::size_t io_thread_count(const server_config& s) {
  if (s.io_threads > 0) return s.io_threads;
  return std::max<std::size_t>(usable_cpus(), 1);
}

std::string_view scheduler_in_use(actor_scheduler s) {
  if (s == actor_scheduler::io) return "io";
  return use_work_sharing(s) ? "sharing" : "stealing";
}

bool use_batch_scheduling(actor_scheduler s) {
  return s == actor_scheduler::automatic && usable_cpus() == 1;
}

void configure_caf(net::io_system_config& caf_cfg, const config& cfg, net::io_pool& pool) {
  if (cfg.server.scheduler == actor_scheduler::io) {
    caf_cfg.use_io_scheduler(pool);
  } else {
    if (cfg.server.actor_threads > 0)
      caf_cfg.set("scheduler.max-threads", static_cast<std::size_t>(cfg.server.actor_threads));
    if (use_work_sharing(cfg.server.scheduler))
      caf_cfg.set("scheduler.policy", caf::atom("sharing"));
  }
  if (cfg.cluster.enabled) {
    // Both are off in CAF by default, and then a frozen peer is never noticed.
    caf_cfg.load<caf::io::middleman>();
    caf_cfg.set("middleman.heartbeat-interval", caf::timespan{cfg.cluster.heartbeat_interval});
    caf_cfg.set("middleman.connection-timeout", caf::timespan{cfg.cluster.peer_timeout});
  }
  add_upstream_message_types(caf_cfg);
  add_cluster_message_types(caf_cfg);
}

config with_thread_policy(config cfg) {
  if (use_batch_scheduling(cfg.server.scheduler)) {
    sched_param param{};
    sched_setscheduler(0, SCHED_BATCH, &param);  // best effort: unchanged if refused
  }
  return cfg;
}

}  // namespace wsvisor
