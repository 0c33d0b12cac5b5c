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
import shutil
import socket
import subprocess
import sys
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


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


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


def applies(workload, peer):
    if peer in SCHEDULER_VARIANTS:
        return workload in VARIANT_WORKLOADS
    return workload not in ("storm", "detached") or peer in SESSIONS


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


# ---- report ------------------------------------------------------------------

def load():
    with open(os.path.join(OUT_DIR, "results.jsonl")) as f:
        results = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(OUT_DIR, "meta.json")) as f:
        meta = json.load(f)
    return results, meta


def find(results, workload, peer, n=None):
    for r in results:
        if r.get("workload") == workload and r.get("target") == peer and (n is None or r.get("n") == n):
            return r
    return None


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def rfmt(x):
    return "–" if x is None else f"{x:.2f}×"


def gen_mark(r):
    """† when the generator used ≥ 90 % of its CPU: that figure may be capped by it."""
    return " †" if r and r.get("gen_cpu", 0) >= 0.9 else ""


def table(results, peers, workload, ns, columns, main, na_reason):
    """One markdown table: a row per peer and N. `main` is the figure the
    ratio is taken on (wsvisor ÷ peer)."""
    head = "| server | N | " + " | ".join(c[0] for c in columns) + " | wsvisor ÷ server |"
    lines = [head, "|" + "---|" * (len(columns) + 3)]
    for n in ns:
        base = find(results, workload, "wsvisor", n)
        for p in peers:
            r = find(results, workload, p, n)
            if not applies(workload, p):
                lines.append(f"| {p} | {n:,} | " + " | ".join("–" for _ in columns) + f" | {na_reason} |")
                continue
            if r is None or "failed" in r:
                why = (r or {}).get("failed", "not run").splitlines()[-1:] or ["not run"]
                lines.append(f"| {p} | {n:,} | " + " | ".join("–" for _ in columns) + f" | failed: {why[0][:80]} |")
                continue
            cells = [c[1](r) for c in columns]
            rel = "1.00×" if p == "wsvisor" else rfmt(ratio(base and base.get(main), r.get(main)))
            lines.append(f"| {p} | {n:,} | " + " | ".join(cells) + gen_mark(r) + f" | {rel} |")
    return "\n".join(lines)


def num(key, unit="", scale=1.0):
    def cell(r):
        v = r.get(key)
        if v is None:
            return "–"
        if isinstance(v, int) and scale == 1.0:
            return f"{v:,}{unit}"
        v = v / scale
        return (f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.1f}") + unit
    return cell


def ms(key):
    return num(key, " ms", 1000.0)


def plots(results, peers):
    """Latency CDFs and rate against N, with gnuplot."""
    if not shutil.which("gnuplot"):
        log("gnuplot missing: no plots")
        return []
    made = []
    plot_dir = OUT_DIR

    def cdf_plot(name, title, workload, n, who):
        series = [(p, find(results, workload, p, n)) for p in who]
        series = [(p, r) for p, r in series if r and "cdf" in r and os.path.exists(os.path.join(ROOT, r["cdf"]))]
        if not series:
            return
        png = os.path.join(plot_dir, name)
        cmds = [
            "set terminal pngcairo size 900,520 font 'DejaVu Sans,10'",
            f"set output '{png}'", f"set title '{title}'", "set logscale x", "set grid",
            "set xlabel 'latency (microseconds, log scale)'", "set ylabel 'percentile'", "set key bottom right",
            "plot " + ", ".join(f"'{os.path.join(ROOT, r['cdf'])}' using 2:1 with lines lw 2 title '{p}'"
                                for p, r in series),
        ]
        subprocess.run(["gnuplot"], input="\n".join(cmds), text=True, check=True)
        made.append(name)

    def rate_plot(name, title, workload, ylabel):
        data = os.path.join(WORK, f"{workload}-rate.dat")
        ns = sorted({r["n"] for r in results if r.get("workload") == workload and "rate" in r})
        if not ns:
            return
        with open(data, "w") as f:
            f.write("# n " + " ".join(peers) + "\n")
            for n in ns:
                row = [str(n)]
                for p in peers:
                    r = find(results, workload, p, n)
                    row.append(str(r["rate"]) if r and "rate" in r else "NaN")
                f.write(" ".join(row) + "\n")
        png = os.path.join(plot_dir, name)
        cmds = [
            "set terminal pngcairo size 900,520 font 'DejaVu Sans,10'",
            f"set output '{png}'", f"set title '{title}'", "set logscale x", "set grid",
            "set xlabel 'connections (log scale)'", f"set ylabel '{ylabel}'", "set key outside right",
            "set format y '%.0s%c'", "set yrange [0:*]",
            "plot " + ", ".join(f"'{data}' using 1:{i + 2} with linespoints lw 2 pt 7 title '{p}'"
                                for i, p in enumerate(peers)),
        ]
        subprocess.run(["gnuplot"], input="\n".join(cmds), text=True, check=True)
        made.append(name)

    rt_ns = sorted({r["n"] for r in results if r.get("workload") == "roundtrip"})
    fo_ns = sorted({r["n"] for r in results if r.get("workload") == "fanout"})
    st_ns = sorted({r["n"] for r in results if r.get("workload") == "storm"})
    rate_plot("roundtrip-rate.png", "Round trip: messages per second against connections", "roundtrip", "messages/s")
    rate_plot("fanout-rate.png", "Fan-out: deliveries per second against subscribers", "fanout", "deliveries/s")
    if 100 in rt_ns or rt_ns:
        n = 100 if 100 in rt_ns else rt_ns[-1]
        cdf_plot("roundtrip-cdf.png", f"Round trip latency CDF, {n} connections", "roundtrip", n, peers)
    if fo_ns:
        cdf_plot("fanout-cdf.png", f"Fan-out delivery latency CDF, {fo_ns[-1]:,} subscribers", "fanout", fo_ns[-1], peers)
    if st_ns:
        cdf_plot("storm-cdf.png", f"Reconnect storm: resume latency CDF, {st_ns[-1]:,} sessions", "storm", st_ns[-1],
                 [p for p in peers if p in SESSIONS])
    return made


def targets(results):
    """The issue's targets, as ratios from this run."""
    rows = []

    def row(what, value, ok, cmp):
        if value is None:
            rows.append(f"| {what} | – | {cmp} | not measured |")
        else:
            rows.append(f"| {what} | {value:.2f} | {cmp} | {'met' if ok(value) else '**missed**'} |")

    def get(w, p, n, k):
        r = find(results, w, p, n)
        return r.get(k) if r and "failed" not in r else None

    def rt(p):
        return ratio(get("roundtrip", "wsvisor", 100, "rate"), get("roundtrip", p, 100, "rate"))

    row("round trip, 100 connections: wsvisor ÷ raw Beast", rt("beast"), lambda v: v >= 0.7, "≥ 0.70")
    row("round trip, 100 connections: wsvisor ÷ Node ws", rt("node-ws"), lambda v: v >= 1, "≥ 1.00")
    row("round trip, 100 connections: wsvisor ÷ Socket.IO", rt("socket.io"), lambda v: v >= 2.5, "≥ 2.50")
    for n in (10, 1000):
        row(f"round trip, {n:,} connections: wsvisor ÷ Node ws",
            ratio(get("roundtrip", "wsvisor", n, "rate"), get("roundtrip", "node-ws", n, "rate")),
            lambda v: v >= 1, "≥ 1.00")

    def fo(p):
        return ratio(get("fanout", "wsvisor", 10000, "rate"), get("fanout", p, 10000, "rate"))

    row("fan-out, 10,000 subscribers: wsvisor ÷ Node ws", fo("node-ws"), lambda v: v >= 1, "≥ 1.00")
    row("fan-out, 10,000 subscribers: wsvisor ÷ raw Beast", fo("beast"), lambda v: v >= 1, "≥ 1.00")
    row("fan-out, 10,000 subscribers: wsvisor ÷ Socket.IO", fo("socket.io"), lambda v: v >= 1.5, "≥ 1.50")

    def mem(p):
        return ratio(get("idle", "wsvisor", 10000, "bytes_per_session"), get("idle", p, 10000, "bytes_per_session"))

    row("idle memory per connected client: wsvisor ÷ Node ws", mem("node-ws"), lambda v: v <= 1.2, "≤ 1.20")
    det = get("detached", "wsvisor", 10000, "bytes_per_session")
    row("detached session: wsvisor bytes ÷ 1.5 KiB", None if det is None else det / 1536, lambda v: v <= 1, "≤ 1.00")
    storm = find(results, "storm", "wsvisor", 10000)
    clean = storm and "failed" not in storm and storm.get("lost") == 0 and storm.get("duplicates") == 0 \
        and storm.get("not_resumed") == 0 and storm.get("all_resumed")
    rows.append(f"| storm of 10,000: wsvisor loses nothing, repeats nothing, resumes all | "
                f"{'yes' if clean else 'no'} | all | {'met' if clean else '**missed**'} |")
    row("storm of 10,000: wsvisor ÷ Socket.IO time to all resumed",
        ratio(get("storm", "wsvisor", 10000, "storm_ms"), get("storm", "socket.io", 10000, "storm_ms")),
        lambda v: v <= 1 / 3, "≤ 0.33")
    row("new sessions per second: wsvisor ÷ Node ws",
        ratio(get("connrate", "wsvisor", 32, "rate"), get("connrate", "node-ws", 32, "rate")),
        lambda v: v >= 1.2, "≥ 1.20")
    return "| target | measured | wanted | |\n|---|---|---|---|\n" + "\n".join(rows)


def report(analysis_path):
    results, meta = load()
    peers = [p for p in PEER_ORDER if any(r.get("target") == p for r in results)]
    made = plots(results, peers)
    ns = lambda w: sorted({r["n"] for r in results if r.get("workload") == w})  # noqa: E731
    no_sessions = "n/a: no sessions"
    v = meta["versions"]
    out = []
    out.append("# Benchmarks\n")
    out.append("<!-- Written by scripts/bench (tools/bench/run_bench.py); edit tools/bench/analysis.md "
               "for the prose that follows the tables. -->\n")
    out.append("wsvisor against a raw Beast server (the ceiling of our own stack), WebSocket++, Node `ws` and "
               "Socket.IO with connection state recovery, all driven by the same load generator "
               "(`tools/bench/wsbench`) in the same run. **Ratios are the headline**: the machine is shared "
               "and noisy, so absolute figures move between runs while ratios from one run hold up. "
               "The last column of every table is wsvisor's figure divided by that server's: above 1 "
               "is wsvisor's advantage for rates, below 1 for memory and times.\n")
    out.append("Reproduce with `./scripts/bench` (about "
               f"{max(1, round(meta['elapsed_s'] / 60))} minutes here); "
               "`./scripts/bench --quick` runs a smaller version in about two minutes.\n")
    out.append("## This run\n")
    out.append(f"- Date: {meta['date']}{' (quick run)' if meta.get('quick') else ''}")
    out.append(f"- Machine: {meta['cpu']}, {meta['cpus']} CPUs, {meta['mem_gib']} GiB, Linux {meta['kernel']}")
    out.append(f"- Pinning: {meta['pinning']}. Every server gets one CPU, the generator the other; each "
               "measurement starts a fresh server.")
    out.append("- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    out.append("- wsvisor's configuration: `io_threads = 1` (one CPU), "
               "`max_connections = 30000`, `resume_window = \"10m\"`, log level `warn`, `actor_scheduler = \"io\"` "
               "(the default: the actors run on the I/O thread); the rows `wsvisor-sharing` and "
               "`wsvisor-stealing` (round trip and fan-out only) run CAF's own schedulers instead, "
               "`actor_scheduler = \"sharing\"` / `\"stealing\"` with `actor_threads = 1`; `[limits]` `connections_per_ip`, "
               "`messages_per_second` and `handshakes_per_second` off (the peers have no such limits); everything else "
               "is the built-in default (replay buffer 1,024 messages, send queue 1 MiB).")
    out.append("- Payload: 64 bytes. A figure marked † was taken while the generator used ≥ 90 % of its "
               "CPU: it may be capped by the generator rather than the server.\n")

    out.append("## Targets\n")
    out.append(targets(results) + "\n")

    out.append("## 1. Round trip\n")
    out.append("N connections, each publishing to its own channel and waiting for its message to come back "
               "before sending the next (wsvisor: `publish` → `message`, with the `ack` it also gets; raw "
               "peers: echo on `/echo`; Socket.IO: an `echo` event answered by the server). Messages per "
               "second over the measured window, and round-trip percentiles.\n")
    out.append(table(results, peers, "roundtrip", ns("roundtrip"),
                     [("messages/s", num("rate")), ("p50", ms("rtt_p50_us")), ("p99", ms("rtt_p99_us")),
                      ("server CPU", num("server_cpu")), ("generator CPU", num("gen_cpu"))],
                     "rate", no_sessions) + "\n")
    if "roundtrip-rate.png" in made:
        out.append("![round trip rate](bench/roundtrip-rate.png)\n")
    if "roundtrip-cdf.png" in made:
        out.append("![round trip CDF](bench/roundtrip-cdf.png)\n")

    out.append("## 2. Fan-out\n")
    out.append("One publisher, N subscribers on one channel (raw peers: `/broadcast`; Socket.IO: "
               "`socket.broadcast.emit`). The publisher keeps at most 4 messages in flight (a message "
               "is complete when every subscriber has it), so queues stay bounded while the pipeline stays "
               "full. Deliveries per second, and delivery latency from the timestamp in the payload.\n")
    out.append(table(results, peers, "fanout", ns("fanout"),
                     [("deliveries/s", num("rate")), ("p50", ms("delivery_p50_us")),
                      ("p99", ms("delivery_p99_us")), ("lost", num("lost")), ("dup", num("duplicates")),
                      ("server CPU", num("server_cpu")), ("generator CPU", num("gen_cpu"))],
                     "rate", no_sessions) + "\n")
    if "fanout-rate.png" in made:
        out.append("![fan-out rate](bench/fanout-rate.png)\n")
    if "fanout-cdf.png" in made:
        out.append("![fan-out CDF](bench/fanout-cdf.png)\n")

    out.append("## 3. Idle memory\n")
    out.append("Server RSS (from `/proc/PID/status`) after N idle sessions (wsvisor: `hello` answered; "
               "Socket.IO: connected to `/`; raw peers: upgraded), minus the RSS before, divided by N. "
               "The RSS before is read after 20 warm-up sessions, so that what a server pays once (code "
               "and libraries paged in on first use, a JIT) is not charged to each session. "
               "Detached: N sessions opened in batches of 100 whose connections are then cut, so at most "
               "one batch of connection buffers is counted in; raw peers have no sessions to keep.\n")
    out.append(table(results, peers, "idle", ns("idle"),
                     [("bytes per connected session", num("bytes_per_session")),
                      ("RSS before (KiB)", num("rss_base_kib")), ("RSS after (KiB)", num("rss_kib"))],
                     "bytes_per_session", no_sessions) + "\n")
    out.append(table(results, peers, "detached", ns("detached"),
                     [("bytes per detached session", num("bytes_per_session")),
                      ("RSS before (KiB)", num("rss_base_kib")), ("RSS after (KiB)", num("rss_kib"))],
                     "bytes_per_session", no_sessions) + "\n")

    out.append("## 4. Reconnect storm\n")
    out.append("N sessions subscribed to one channel with steady traffic (a publisher on its own "
               "connection, about 20,000 deliveries a second in all); every subscriber connection is cut at "
               "once (TCP reset) and reconnects immediately, resuming (wsvisor: `resume` with `last_seq`; "
               "Socket.IO: `40{pid, offset}`). Time from the cut until the last session has resumed, resume "
               "latency (connect to `welcome` / connect reply), and the check that every subscriber got every "
               "message exactly once.\n")
    out.append(table(results, peers, "storm", ns("storm"),
                     [("all resumed after", num("storm_ms", " ms")), ("resume p50", ms("resume_p50_us")),
                      ("resume p99", ms("resume_p99_us")), ("not resumed", num("not_resumed")),
                      ("lost", num("lost")), ("dup", num("duplicates")), ("sent", num("sent"))],
                     "storm_ms", no_sessions) + "\n")
    if "storm-cdf.png" in made:
        out.append("![storm CDF](bench/storm-cdf.png)\n")

    out.append("## 5. Connection rate\n")
    out.append("32 clients in a loop: connect, upgrade, start a session (wsvisor: `hello` → `welcome`; "
               "Socket.IO: open packet, `40` → connect reply; raw peers: the upgrade), then leave politely "
               "(wsvisor `bye`; Socket.IO `41`; a close handshake). New sessions per second and setup "
               "latency.\n")
    out.append(table(results, peers, "connrate", ns("connrate"),
                     [("sessions/s", num("rate")), ("setup p50", ms("setup_p50_us")),
                      ("setup p99", ms("setup_p99_us")), ("server CPU", num("server_cpu")),
                      ("generator CPU", num("gen_cpu"))],
                     "rate", no_sessions) + "\n")

    out.append("## Commands\n")
    out.append("Each server was started fresh on a free port, then (PORT and PID filled in):\n")
    out.append("```\n" + "\n".join(meta["commands"]) + "\n```\n")
    if os.path.exists(analysis_path):
        with open(analysis_path) as f:
            out.append(f.read())
    with open(os.path.join(ROOT, "docs", "benchmarks.md"), "w") as f:
        f.write("\n".join(out))
    log("wrote docs/benchmarks.md" + (f" and {len(made)} plots in docs/bench/" if made else ""))


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
