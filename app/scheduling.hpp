#pragma once

/// Which threads run the actors (docs/configuration.md, `server.actor_scheduler`,
/// `server.io_threads`): CAF's configuration for the node, and the thread
/// policy the process takes before any thread exists.

#include <cstddef>
#include <string_view>

#include "config/config.hpp"
#include "net/io_pool.hpp"
#include "net/io_scheduler.hpp"

namespace wsvisor {

/// Whether CAF runs its work-sharing scheduler for `server.actor_scheduler`
/// (`auto`: when this process may run on one CPU only; never with `io`).
bool use_work_sharing(actor_scheduler s);

/// The scheduler a node runs for `server.actor_scheduler`: "io", "sharing"
/// or "stealing" (`auto` resolved), as its `listening` line names it.
std::string_view scheduler_in_use(actor_scheduler s);

/// The node's I/O threads: `server.io_threads`, or with 0 one per CPU this
/// process may run on (its affinity, as `taskset` sets it).
std::size_t io_thread_count(const server_config& s);

/// Whether the node's threads run under SCHED_BATCH: with `auto`, when this
/// process may run on one CPU only. The I/O thread and the actor worker then
/// share that CPU, and a batch thread woken by the other does not preempt
/// it, so each finishes its batch of frames or messages before switching.
bool use_batch_scheduling(actor_scheduler s);

/// CAF's configuration for `cfg`: the actors on `pool`'s threads with
/// `server.actor_scheduler = "io"`, else on CAF's own; the middleman and its
/// heartbeat on a cluster node; every message type the node's actors send.
void configure_caf(net::io_system_config& caf_cfg, const config& cfg, net::io_pool& pool);

/// `cfg`, after setting the process's thread policy (use_batch_scheduling):
/// threads inherit it, so this runs before the actor system and the I/O
/// threads exist.
config with_thread_policy(config cfg);

}  // namespace wsvisor
