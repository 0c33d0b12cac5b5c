"""What the benchmark's runner (run_bench.py) and its report (bench_report.py)
share: where things are, the peers and the workloads each applies to, and the
log line."""

import os
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# scripts/bench builds and measures build/release. For a trial of the runner
# alone: WSVISOR_BENCH_BUILD names another build of the same tree (its
# wsvisor and peers), WSVISOR_WSBENCH another generator binary.
BUILD = os.environ.get("WSVISOR_BENCH_BUILD") or os.path.join(ROOT, "build", "release")
WSBENCH = os.environ.get("WSVISOR_WSBENCH") or os.path.join(BUILD, "tools", "bench", "wsbench")
OUT_DIR = os.path.join(ROOT, "docs", "bench")
WORK = os.path.join(ROOT, "build", "bench")
NODE_DIR = os.path.join(ROOT, "tools", "bench", "node")

# name -> dialect, and how to start it on a port (None: not available here)
PEER_ORDER = ["wsvisor", "wsvisor-sharing", "wsvisor-stealing", "wsvisor-msgpack", "beast", "websocketpp", "node-ws", "socket.io"]
DIALECT = {"wsvisor": "wsvisor", "wsvisor-sharing": "wsvisor", "wsvisor-stealing": "wsvisor", "beast": "raw",
           "websocketpp": "raw", "node-ws": "raw", "socket.io": "socketio", "wsvisor-noreplicas": "wsvisor",
           "wsvisor-deflate": "wsvisor", "wsvisor-deflate-nct": "wsvisor", "wsvisor-msgpack": "wsvisor"}
SESSIONS = {"wsvisor", "socket.io"}  # peers that keep sessions: storm and detached rows
# wsvisor under CAF's own schedulers instead of its default `io` one: the
# per-message workloads only (docs/configuration.md, server.actor_scheduler).
SCHEDULER_VARIANTS = {"wsvisor-sharing": "sharing", "wsvisor-stealing": "stealing"}
# wsvisor with clients on wsvisor.v1.msgpack (wsbench --format msgpack;
# docs/protocol.md): the same workloads in MessagePack frames.
FORMAT_VARIANTS = {"wsvisor-msgpack": "msgpack"}
VARIANT_WORKLOADS = {"roundtrip", "fanout"}
# The cluster stage (bench_servers.py starts the clusters): workload name ->
# the wsbench workload it runs over the nodes, and the systems it compares.
# failover kills node 1 mid-run (wsbench --kill-pid, run_bench.py passes it).
CLUSTER_WORKLOADS = {"cluster_fanout": "fanout", "cluster_roundtrip": "roundtrip", "cluster_idle": "idle",
                     "failover": "failover"}
CLUSTER_PEERS = ["wsvisor", "wsvisor-noreplicas", "socket.io"]
CLUSTER_NODES = 3
# The wsvisor cluster with [cluster] replicas = 0 (docs/cluster.md, Replicas):
# what replication costs, in the workloads that measure a cost (not failover:
# without replicas a killed node's sessions are gone).
REPLICA_VARIANTS = {"wsvisor-noreplicas": 0}
REPLICA_WORKLOADS = {"cluster_fanout", "cluster_roundtrip", "cluster_idle"}
# The compression stage: a fan-out of market-tick payloads (wsbench --filler
# ticks) to subscribers that offer permessage-deflate (--deflate on), against
# wsvisor with [server.compression] off (the plain `wsvisor`), on, and on
# without context takeover (docs/configuration.md, [server.compression]).
COMPRESSION_WORKLOADS = {"fanout_deflate": "fanout"}
COMPRESSION_PEERS = ["wsvisor", "wsvisor-deflate", "wsvisor-deflate-nct"]
COMPRESSION_VARIANTS = {"wsvisor-deflate": "enabled = true\n",
                        "wsvisor-deflate-nct": "enabled = true\ncontext_takeover = false\n"}
# The wsbench workload each of the bench's workloads runs.
WSBENCH_WORKLOAD = {**CLUSTER_WORKLOADS, **COMPRESSION_WORKLOADS}
WORKLOADS = (["roundtrip", "fanout", "idle", "detached", "storm", "connrate"] + list(COMPRESSION_WORKLOADS)
             + list(CLUSTER_WORKLOADS))


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def applies(workload, peer):
    if workload in COMPRESSION_WORKLOADS:
        return peer in COMPRESSION_PEERS
    if peer in COMPRESSION_VARIANTS:
        return False
    if workload in CLUSTER_WORKLOADS:
        return peer in CLUSTER_PEERS and (peer not in REPLICA_VARIANTS or workload in REPLICA_WORKLOADS)
    if peer in SCHEDULER_VARIANTS or peer in FORMAT_VARIANTS:
        return workload in VARIANT_WORKLOADS
    return workload not in ("storm", "detached") or peer in SESSIONS

