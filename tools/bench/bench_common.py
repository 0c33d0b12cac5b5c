"""What the benchmark's runner (run_bench.py) and its report (bench_report.py)
share: where things are, the peers and the workloads each applies to, and the
log line."""

import os
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build", "release")
WSBENCH = os.path.join(BUILD, "tools", "bench", "wsbench")
OUT_DIR = os.path.join(ROOT, "docs", "bench")
WORK = os.path.join(ROOT, "build", "bench")
NODE_DIR = os.path.join(ROOT, "tools", "bench", "node")

# name -> dialect, and how to start it on a port (None: not available here)
PEER_ORDER = ["wsvisor", "wsvisor-sharing", "wsvisor-stealing", "beast", "websocketpp", "node-ws", "socket.io"]
DIALECT = {"wsvisor": "wsvisor", "wsvisor-sharing": "wsvisor", "wsvisor-stealing": "wsvisor", "beast": "raw",
           "websocketpp": "raw", "node-ws": "raw", "socket.io": "socketio"}
SESSIONS = {"wsvisor", "socket.io"}  # peers that keep sessions: storm and detached rows
# wsvisor under CAF's own schedulers instead of its default `io` one: the
# per-message workloads only (docs/configuration.md, server.actor_scheduler).
SCHEDULER_VARIANTS = {"wsvisor-sharing": "sharing", "wsvisor-stealing": "stealing"}
VARIANT_WORKLOADS = {"roundtrip", "fanout"}


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def applies(workload, peer):
    if peer in SCHEDULER_VARIANTS:
        return workload in VARIANT_WORKLOADS
    return workload not in ("storm", "detached") or peer in SESSIONS

