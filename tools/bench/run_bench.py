#!/usr/bin/python3
"""Runs the side-by-side benchmark and writes docs/benchmarks.md.

Called by scripts/bench after it has built the release preset and installed
the peers. Every server runs fresh for every measurement, pinned to one CPU;
the load generator (wsbench) runs pinned to the other. Results are kept as
JSON lines next to the plots, so the report can be rewritten from them
(--report-only).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # the modules below leave no __pycache__ in the tree

from bench_common import (BUILD, DIALECT, NODE_DIR, OUT_DIR, PEER_ORDER, ROOT,  # noqa: E402
                          SCHEDULER_VARIANTS, WORK, WSBENCH, applies, log)
from bench_report import report  # noqa: E402

WSVISOR_CONFIG = """# written by tools/bench/run_bench.py
[server]
listen = "127.0.0.1:{port}"
max_connections = 30000
io_threads = 1
actor_threads = 1
actor_scheduler = "{scheduler}"
[session]
resume_window = "10m"
[limits]
# The peers have no such limits, and the generator's thousands of clients all
# come from 127.0.0.1 at once: measure the same work on every server.
connections_per_ip = 0
messages_per_second = 0
handshakes_per_second = 0
[log]
level = "warn"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu, argv):
    """Prefix argv with taskset when there are CPUs to separate."""
    if cpu is None:
        return argv
    return ["taskset", "-c", str(cpu)] + argv


class Server:
    def __init__(self, name, cpu):
        self.name, self.port = name, free_port()
        os.makedirs(os.path.join(WORK, "logs"), exist_ok=True)
        argv = self.argv()
        self.logfile = open(os.path.join(WORK, "logs", f"{name}.log"), "a")
        self.proc = subprocess.Popen(pinned(cpu, argv), stdout=self.logfile, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while True:  # ready once the port accepts
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.proc.returncode}; see {self.logfile.name}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"{name} did not listen on {self.port} within 15 s")
                time.sleep(0.05)

    def argv(self):
        if self.name.startswith("wsvisor"):
            cfg = os.path.join(WORK, f"{self.name}.toml")
            with open(cfg, "w") as f:
                f.write(WSVISOR_CONFIG.format(port=self.port, scheduler=SCHEDULER_VARIANTS.get(self.name, "io")))
            return [os.path.join(BUILD, "app", "wsvisor"), "--config", cfg]
        if self.name == "beast":
            return [os.path.join(BUILD, "tools", "bench", "beast_peer"), "--port", str(self.port)]
        if self.name == "websocketpp":
            return [os.path.join(BUILD, "tools", "bench", "wspp_peer"), "--port", str(self.port)]
        if self.name == "node-ws":
            return ["node", os.path.join(NODE_DIR, "ws_peer.js"), "--port", str(self.port)]
        if self.name == "socket.io":
            return ["node", os.path.join(NODE_DIR, "socketio_peer.js"), "--port", str(self.port)]
        raise ValueError(self.name)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logfile.close()


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
    peers = [p for p in available_peers() if not args.peers or p in args.peers.split(",")]
    commands = []
    started = time.time()
    for workload, n, extra in plan(args.quick):
        if args.workloads and workload not in args.workloads.split(","):
            continue
        for peer in peers:
            if not applies(workload, peer):
                continue
            server = Server(peer, server_cpu)
            cdf = os.path.join(OUT_DIR, "cdf", f"{workload}-{n}-{peer}.dat")
            argv = [WSBENCH, "--workload", workload, "--dialect", DIALECT[peer], "--port", str(server.port),
                    "--label", peer, "-n", str(n), "--timeout", "180", "--cdf", cdf] + extra
            shown = ["wsbench"] + argv[1:]
            shown[shown.index("--port") + 1] = "PORT"
            del shown[shown.index("--cdf"):shown.index("--cdf") + 2]
            commands.append(" ".join(shlex.quote(a) for a in shown) + " --server-pid PID")
            log(f"{workload} n={n} {peer}")
            proc = subprocess.run(pinned(gen_cpu, argv + ["--server-pid", str(server.proc.pid)]),
                                  capture_output=True, text=True, timeout=600)
            server.stop()
            if proc.returncode != 0:
                log(f"  FAILED: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
                result = {"workload": workload, "target": peer, "n": n, "failed": proc.stderr.strip()[-300:]}
            else:
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                result["cdf"] = os.path.relpath(cdf, ROOT)
                log("  " + summary(result))
            with open(results_path, "a") as f:
                f.write(json.dumps(result) + "\n")
    meta["elapsed_s"] = round(time.time() - started)
    meta["commands"] = sorted(set(commands), key=commands.index)
    meta["quick"] = args.quick
    with open(os.path.join(OUT_DIR, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)


def summary(r):
    keys = ["rate", "rtt_p50_us", "rtt_p99_us", "delivery_p99_us", "bytes_per_session", "storm_ms", "lost",
            "duplicates", "not_resumed", "gen_cpu", "server_cpu"]
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
        },
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller sizes and shorter windows")
    ap.add_argument("--peers", help="comma-separated subset of " + ",".join(PEER_ORDER))
    ap.add_argument("--workloads", help="comma-separated subset of roundtrip,fanout,idle,detached,storm,connrate")
    ap.add_argument("--report-only", action="store_true", help="rewrite docs/benchmarks.md from the last results")
    args = ap.parse_args()
    if not args.report_only:
        if not os.path.exists(WSBENCH):
            sys.exit(f"run_bench: {WSBENCH} missing: build the release preset first (scripts/bench does)")
        run_all(args)
    report(os.path.join(ROOT, "tools", "bench", "analysis.md"))


if __name__ == "__main__":
    main()
