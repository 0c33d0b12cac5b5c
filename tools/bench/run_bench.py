#!/usr/bin/python3
"""Runs the side-by-side benchmark and writes docs/benchmarks.md.

Called by scripts/bench after it has built the release preset and installed
the peers. Every server runs fresh for every measurement, pinned to one CPU;
the load generator (wsbench) runs pinned to the other. The cluster stage
(cluster_* workloads) starts every node of a cluster, and what they share,
together on that CPU instead (bench_servers.py). Results are kept as JSON
lines next to the plots, so the report can be rewritten from them
(--report-only).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # the modules below leave no __pycache__ in the tree

from bench_common import (BUILD, CLUSTER_PEERS, CLUSTER_WORKLOADS, COMPRESSION_PEERS,  # noqa: E402
                          COMPRESSION_WORKLOADS, DIALECT, FORMAT_VARIANTS, NODE_DIR, OUT_DIR, PEER_ORDER, ROOT,
                          WORKLOADS, WSBENCH, WSBENCH_WORKLOAD, applies, log)
from bench_report import report  # noqa: E402
from bench_servers import Server, cluster_unavailable, pinned, start_cluster  # noqa: E402


def available_peers():
    peers = []
    for p in PEER_ORDER:
        if p == "websocketpp" and not os.path.exists(os.path.join(BUILD, "tools", "bench", "wspp_peer")):
            log("websocketpp: wspp_peer not built (libwebsocketpp-dev missing?); skipped")
            continue
        if p in ("node-ws", "socket.io") and not os.path.isdir(os.path.join(NODE_DIR, "node_modules")):
            log(f"{p}: tools/bench/node/node_modules missing; skipped")
            continue
        peers.append(p)
    return peers


def plan(quick):
    """(workload, n, extra wsbench flags) in the order they run."""
    scale = (lambda full, small: small) if quick else (lambda full, small: full)
    d = scale("4", "1")
    runs = []
    for n in scale([10, 100, 1000], [10, 100]):
        runs.append(("roundtrip", n, ["--warmup", "1", "--duration", d]))
    for n in scale([1000, 10000], [100, 1000]):
        runs.append(("fanout", n, ["--warmup", "1", "--duration", d, "--window", "4"]))
    big = scale(10000, 1000)
    runs.append(("idle", big, ["--settle", "2"]))
    runs.append(("detached", big, ["--settle", "2", "--batch", "100"]))
    for n in scale([1000, 10000], [100, 1000]):
        # ~20,000 deliveries a second of steady traffic whatever N is
        runs.append(("storm", n, ["--warmup", "3", "--duration", "2", "--rate", str(max(1, 20000 // n))]))
    runs.append(("connrate", 32, ["--warmup", "1", "--duration", d, "--concurrency", "32"]))
    # Fan-out with compression: ~280-byte market ticks, subscribers offering
    # permessage-deflate; off, on, on without context takeover.
    for n in scale([1000, 10000], [100]):
        runs.append(("fanout_deflate", n, ["--warmup", "1", "--duration", d, "--window", "4", "--payload", "280",
                                           "--filler", "ticks", "--deflate", "on"]))
    # The cluster stage: the clients spread over the nodes, a publisher on
    # the first (failover: on the second, as wsbench kills the first).
    for n in scale([1000, 10000], [1000]):
        runs.append(("cluster_fanout", n, ["--warmup", "1", "--duration", d, "--window", "4"]))
    for n in scale([100, 1000], [100]):
        runs.append(("cluster_roundtrip", n, ["--warmup", "1", "--duration", d]))
    runs.append(("cluster_idle", big, ["--settle", "2"]))
    # Node 1 killed under steady traffic: 15,000 deliveries a second whatever
    # N is (5 messages a second at 3,000), below what three wsvisor nodes
    # with replicas sustain in cluster_fanout (25,000 to 47,000 a second on
    # the bench's machine), so that the figures are the failover's and not
    # an overload's: at twice that, the survivors' one CPU was saturated and
    # the last resume took 12 to 15 s instead of 2 to 3.
    n = scale(3000, 300)
    runs.append(("failover", n, ["--warmup", "3", "--duration", scale("3", "2"), "--rate", str(max(1, 15000 // n))]))
    return runs


def run_all(args):
    cpus = os.cpu_count() or 1
    server_cpu, gen_cpu = (1, 0) if cpus >= 2 else (None, None)
    # Before the run writes its own outputs (docs/bench/), which would
    # otherwise make the tree look modified.
    meta = machine(server_cpu, gen_cpu)
    os.makedirs(os.path.join(OUT_DIR), exist_ok=True)
    cdf_dir = os.path.join(OUT_DIR, "cdf")
    os.makedirs(cdf_dir, exist_ok=True)
    for old in os.listdir(cdf_dir):  # a run replaces the previous one's data
        if old.endswith(".dat"):
            os.remove(os.path.join(cdf_dir, old))
    results_path = os.path.join(OUT_DIR, "results.jsonl")
    open(results_path, "w").close()
    chosen = lambda p: not args.peers or p in args.peers.split(",")  # noqa: E731
    peers = [p for p in available_peers() if chosen(p)]
    cluster_peers = [p for p in CLUSTER_PEERS if chosen(p)]
    compression_peers = [p for p in COMPRESSION_PEERS if chosen(p)]
    commands, cluster_commands = [], {}
    started = time.time()
    for workload, n, extra in plan(args.quick):
        if args.workloads and workload not in args.workloads.split(","):
            continue
        stage = (cluster_peers if workload in CLUSTER_WORKLOADS else
                 compression_peers if workload in COMPRESSION_WORKLOADS else peers)
        for peer in stage:
            if not applies(workload, peer):
                continue
            if workload in CLUSTER_WORKLOADS:
                result = run_cluster(workload, n, extra, peer, (server_cpu, gen_cpu), commands, cluster_commands)
            else:
                result = run_one(workload, n, extra, peer, (server_cpu, gen_cpu), commands)
            with open(results_path, "a") as f:
                f.write(json.dumps(result) + "\n")
    meta["elapsed_s"] = round(time.time() - started)
    meta["commands"] = sorted(set(commands), key=commands.index)
    meta["cluster_commands"] = cluster_commands
    meta["quick"] = args.quick
    with open(os.path.join(OUT_DIR, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)


def run_one(workload, n, extra, peer, cpus, commands):
    """One measurement against a fresh server: its result."""
    server_cpu, gen_cpu = cpus
    server = Server(peer, server_cpu)
    try:
        return generate(workload, n, extra, peer, gen_cpu, ["--port", str(server.port)], ["--port", "PORT"],
                        [server.proc.pid], "PID", commands)
    finally:
        server.stop()


def run_cluster(workload, n, extra, peer, cpus, commands, cluster_commands):
    """One measurement against a fresh cluster of `peer`: its result, or why
    it was skipped or failed."""
    server_cpu, gen_cpu = cpus
    why = cluster_unavailable(peer)
    if why:
        log(f"{workload} n={n} {peer}: skipped: {why}")
        return {"workload": workload, "target": peer, "n": n, "skipped": why}
    log(f"{workload} n={n} {peer}: starting the cluster")
    try:
        cluster = start_cluster(peer, server_cpu)
    except RuntimeError as e:
        log(f"  FAILED: {e}")
        return {"workload": workload, "target": peer, "n": n, "failed": str(e)}
    try:
        ports = ",".join(f"PORT{i + 1}" for i in range(len(cluster.ports)))
        where = ["--ports", ",".join(map(str, cluster.ports))]
        shown_where = ["--ports", ports]
        if workload == "failover":
            # wsbench kills node 1 itself, once traffic flows: its process
            # is the first of --ports (for Socket.IO, not the first of
            # --server-pid, which starts with Redis).
            where += ["--kill-pid", str(cluster.node_pids[0])]
            shown_where += ["--kill-pid", "PID1"]
        result = generate(workload, n, extra, peer, gen_cpu, where, shown_where, cluster.pids, cluster.shown_pids,
                          commands)
        if "failed" not in result:
            result.update(cluster.health())
            if result.get("peer_links_lost"):
                log(f"  peer links lost during the run: {result['peer_links_lost']}")
            expected_dead = ["n1"] if workload == "failover" else []
            if result.get("nodes_dead", []) != expected_dead:
                log(f"  nodes dead after the run: {result['nodes_dead']} (expected {expected_dead}); see "
                    f"build/bench/logs/cluster-{peer}-*.log")
        cluster_commands[peer] = cluster.shown
        return result
    finally:
        cluster.stop()


def generate(workload, n, extra, peer, gen_cpu, where, shown_where, pids, shown_pids, commands):
    """Runs wsbench against servers already up (`where`: --port or --ports)."""
    cdf = os.path.join(OUT_DIR, "cdf", f"{workload}-{n}-{peer}.dat")
    head = [WSBENCH, "--workload", WSBENCH_WORKLOAD.get(workload, workload), "--dialect", DIALECT[peer]]
    tail = ["--label", peer, "-n", str(n), "--timeout", "180"] + extra
    if peer in FORMAT_VARIANTS:
        tail += ["--format", FORMAT_VARIANTS[peer]]
    argv = head + where + tail + ["--cdf", cdf]
    shown = ["wsbench"] + head[1:] + shown_where + tail
    commands.append(" ".join(shlex.quote(a) for a in shown) + f" --server-pid {shown_pids}")
    log(f"{workload} n={n} {peer}")
    proc = subprocess.run(pinned(gen_cpu, argv + ["--server-pid", ",".join(map(str, pids))]),
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        log(f"  FAILED: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
        return {"workload": workload, "target": peer, "n": n, "failed": proc.stderr.strip()[-300:]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["workload"] = workload  # cluster_fanout runs wsbench's fanout
    result["cdf"] = os.path.relpath(cdf, ROOT)
    log("  " + summary(result))
    return result


def summary(r):
    keys = ["rate", "wire_bytes_per_delivery", "compressed_connections", "rtt_p50_us", "rtt_p99_us", "delivery_p99_us", "bytes_per_session", "storm_ms", "killed_sessions",
            "recovered", "back_ms", "told_to_retry", "lost", "duplicates", "not_resumed", "gen_cpu", "server_cpu"]
    return " ".join(f"{k}={fmt(r[k])}" for k in keys if k in r)


def fmt(v):
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def cmd_version(argv, pattern=None):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    if pattern:
        m = re.search(pattern, out)
        return m.group(1) if m else out.splitlines()[0] if out else "?"
    return out.splitlines()[0] if out else "?"


def dpkg_version(pkg):
    return cmd_version(["dpkg-query", "-W", "-f=${Version}", pkg]) or "not installed"


def npm_version(pkg):
    try:
        with open(os.path.join(NODE_DIR, "node_modules", pkg, "package.json")) as f:
            return json.load(f)["version"]
    except OSError:
        return "not installed"


def machine(server_cpu, gen_cpu):
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    rev = cmd_version(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = cmd_version(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"])
    return {
        "date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model, "cpus": os.cpu_count(), "mem_gib": round(mem_kib / 1024 / 1024),
        "kernel": platform.release(),
        "pinning": (f"server on CPU {server_cpu}, generator on CPU {gen_cpu} (taskset)"
                    if server_cpu is not None else "none (one CPU)"),
        "versions": {
            "wsvisor": rev + (" (uncommitted changes)" if dirty not in ("", "?") else ""),
            "g++": cmd_version(["g++", "--version"], r"(\d+\.\d+\.\d+)"),
            "CAF": dpkg_version("libcaf-dev"),
            "Boost (Beast, Asio)": dpkg_version("libboost1.81-dev"),
            "WebSocket++": dpkg_version("libwebsocketpp-dev"),
            "Node.js": cmd_version(["node", "--version"]),
            "ws": npm_version("ws"),
            "socket.io": npm_version("socket.io"),
            "@socket.io/redis-streams-adapter": npm_version("@socket.io/redis-streams-adapter"),
            "redis (node-redis)": npm_version("redis"),
            "redis-server": dpkg_version("redis-server"),
        },
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller sizes and shorter windows")
    ap.add_argument("--peers", help="comma-separated subset of " + ",".join(PEER_ORDER))
    ap.add_argument("--workloads", help="comma-separated subset of " + ",".join(WORKLOADS))
    ap.add_argument("--report-only", action="store_true", help="rewrite docs/benchmarks.md from the last results")
    args = ap.parse_args()
    if not args.report_only:
        if not os.path.exists(WSBENCH):
            sys.exit(f"run_bench: {WSBENCH} missing: build the release preset first (scripts/bench does)")
        run_all(args)
    report(os.path.join(ROOT, "tools", "bench", "analysis.md"))


if __name__ == "__main__":
    main()
