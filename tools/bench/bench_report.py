"""The report of the side-by-side benchmark: docs/benchmarks.md (tables,
targets, the run's machine and commands, then tools/bench/analysis.md) and its
plots in docs/bench/, from the results run_bench.py kept there."""

import json
import os
import shutil
import subprocess

from bench_common import (CLUSTER_NODES, CLUSTER_PEERS, CLUSTER_WORKLOADS, COMPRESSION_PEERS, OUT_DIR, PEER_ORDER,
                          ROOT, SESSIONS, WORK, applies, log)


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
    ratio is taken on (wsvisor ÷ peer); None: a last column for notes only."""
    head = "| server | N | " + " | ".join(c[0] for c in columns) + (" | wsvisor ÷ server |" if main else " | |")
    lines = [head, "|" + "---|" * (len(columns) + 3)]
    for n in ns:
        base = find(results, workload, "wsvisor", n)
        for p in peers:
            r = find(results, workload, p, n)
            if not applies(workload, p):
                lines.append(f"| {p} | {n:,} | " + " | ".join("–" for _ in columns) + f" | {na_reason} |")
                continue
            if r is not None and "skipped" in r:
                lines.append(f"| {p} | {n:,} | " + " | ".join("–" for _ in columns) + f" | skipped: {r['skipped'][:80]} |")
                continue
            if r is None or "failed" in r:
                why = (r or {}).get("failed", "not run").splitlines()[-1:] or ["not run"]
                lines.append(f"| {p} | {n:,} | " + " | ".join("–" for _ in columns) + f" | failed: {why[0][:80]} |")
                continue
            cells = [c[1](r) for c in columns]
            if not main:
                rel = ""
            else:
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


def links(r):
    """Peer links lost, and any node found dead that the workload did not kill."""
    dead = [n for n in r.get("nodes_dead", []) if not (r.get("workload") == "failover" and n == "n1")]
    return num("peer_links_lost")(r) + (f" ({', '.join(dead)} dead)" if dead else "")


def recovered(r):
    """The killed node's sessions resumed with all they missed, of those it carried."""
    if r.get("recovered") is None:
        return "–"
    return f"{r['recovered']:,} of {r.get('killed_sessions', 0):,}"


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
    row("cluster round trip, 100 connections: replicas on ÷ off",
        ratio(get("cluster_roundtrip", "wsvisor", 100, "rate"),
              get("cluster_roundtrip", "wsvisor-noreplicas", 100, "rate")),
        lambda v: v >= 0.7, "≥ 0.70")
    row("cluster idle memory per session, 10,000 sessions: replicas on ÷ off",
        ratio(get("cluster_idle", "wsvisor", 10000, "bytes_per_session"),
              get("cluster_idle", "wsvisor-noreplicas", 10000, "bytes_per_session")),
        lambda v: v <= 2, "≤ 2.00")
    fo = find(results, "failover", "wsvisor", 3000)
    clean = fo and "failed" not in fo and fo.get("killed_sessions") and fo.get("all_back") \
        and fo.get("recovered") == fo.get("killed_sessions") and fo.get("lost") == 0 and fo.get("duplicates") == 0
    rows.append(f"| kill -9 of one node of 3 under traffic, 3,000 sessions: wsvisor recovers every session of it, "
                f"loses nothing, repeats nothing | {'yes' if clean else 'no'} | all | "
                f"{'met' if clean else '**missed**'} |")
    return "| target | measured | wanted | |\n|---|---|---|---|\n" + "\n".join(rows)


def per_subscriber_kib(r):
    """The server's RSS over its subscribers: an upper bound of the memory
    per connection (the RSS before the clients is in it, a few KiB each at
    1,000)."""
    if r.get("server_rss_kib") is None or not r.get("n"):
        return "–"
    return f"{r['server_rss_kib'] / r['n']:,.1f}"


def compression_section(results):
    """2b. Fan-out with compression."""
    out = ["### Fan-out with compression\n"]
    out.append("The fan-out above with what compression meets in practice: each message's payload is about 280 "
               "bytes of text shaped like a market-data stream (`wsbench --filler ticks`: symbols, prices, "
               "sizes, sides, every message different), and every subscriber offers `permessage-deflate` "
               "(`--deflate on`: Beast's client inflates what it receives and compresses its acks, as browsers "
               "do). Three wsvisor servers, each fresh: `wsvisor` with `[server.compression]` off (the "
               "default: the offer is not answered), `wsvisor-deflate` with `enabled = true` (level 1, "
               "`window_bits` 15, context takeover: each connection keeps its own compressor), and "
               "`wsvisor-deflate-nct` with `context_takeover = false` as well (each message compressed alone: "
               "one compression of the shared body per I/O thread, whatever the subscribers; "
               "[configuration.md](configuration.md#servercompression)). *Bytes on the wire*: what the "
               "subscribers' sockets received once subscribed (`TCP_INFO` `tcpi_bytes_received`: frame headers, "
               "pings and all) over the deliveries. *RSS per subscriber*: the server's RSS at the end over N "
               "(an upper bound: what the server holds without clients is in it). The last column is off ÷ "
               "that server.\n")
    ns = sorted({r["n"] for r in results if r.get("workload") == "fanout_deflate"})
    if not ns:
        out.append("Not in this run's results.\n")
        return "\n".join(out)
    out.append(table(results, COMPRESSION_PEERS, "fanout_deflate", ns,
                     [("deliveries/s", num("rate")), ("bytes on the wire per delivery", num("wire_bytes_per_delivery")),
                      ("p50", ms("delivery_p50_us")), ("p99", ms("delivery_p99_us")), ("lost", num("lost")),
                      ("dup", num("duplicates")), ("compressed connections", num("compressed_connections")),
                      ("server CPU", num("server_cpu")), ("RSS per subscriber (KiB)", per_subscriber_kib),
                      ("generator CPU", num("gen_cpu"))],
                     "rate", "n/a") + "\n")
    return "\n".join(out)


NUMBER_WORDS = {2: "Two", 3: "Three", 4: "Four", 5: "Five"}


def cluster_section(results, meta):
    """6. Cluster: the cluster stage's workloads."""
    k = CLUSTER_NODES
    ns = lambda w: sorted({r["n"] for r in results if r.get("workload") == w})  # noqa: E731
    peers = lambda w: [p for p in CLUSTER_PEERS if applies(w, p)]  # noqa: E731
    out = ["## 6. Cluster\n"]
    out.append(f"{NUMBER_WORDS.get(k, k)} nodes of each system on this machine, started together for each measurement and "
               "stopped together. **Every process of a cluster is pinned to the server's CPU**, the generator "
               "to the other, as in the single-server stages: together the nodes get the one CPU that one server "
               "gets elsewhere, so these rows show what running as a cluster costs, not how a cluster scales. "
               "Server CPU and memory are those of every process of the cluster, summed.\n")
    out.append(f"- **wsvisor**: {k} `wsvisor` processes, each with the configuration of [This run](#this-run) "
               "(`io_threads = 1`, scheduler `io`) plus a `[cluster]` table: `node = \"n1\"` … "
               f"`\"n{k}\"`, `listen` on a free loopback port, `peers` = the other nodes, `public_url` = its own "
               "`ws://` URL, `heartbeat_interval = \"200ms\"`, `peer_timeout = \"1s\"`, `replicas = 1` (the "
               "default: every session keeps a replica on one of the other nodes, which adopts it if its node "
               "dies; [cluster.md](cluster.md#replicas)). The nodes talk to each other directly, through CAF's "
               f"middleman. Measured once every node's `GET /api/cluster` lists the {k - 1} others as `up`.")
    out.append("- **wsvisor-noreplicas** (all but the loss of a node): the same cluster with `replicas = 0`, no "
               "session kept anywhere but on its own node: beside the `wsvisor` rows, what replication costs. "
               "The last column of its rows is wsvisor (replicas on) ÷ wsvisor-noreplicas.")
    out.append(f"- **Socket.IO**: {k} `socketio_peer.js --redis URL` processes (Socket.IO 4.8 with "
               "`@socket.io/redis-streams-adapter` on node-redis, connection state recovery on; its sessions "
               "are then kept in Redis) sharing one Debian `redis-server` that the bench starts on a free loopback "
               "port without persistence (`--save \"\" --appendonly no`) and stops afterwards. A broadcast is "
               "appended to a Redis stream that every node reads (`XREAD`) and delivers to its own sockets. "
               f"Measured once Redis counts {k} blocked clients (every node reading the stream). Its server "
               "CPU and memory include Redis's.\n")
    out.append("*Peer links lost* (wsvisor only): `wsvisor_cluster_peers_lost_total` summed over the live nodes "
               "after the run (less the killed node's loss, which each survivor counts once); above 0, a node "
               "was taken for dead meanwhile (three nodes on one busy CPU can be starved past `peer_timeout`), "
               "and that row's figures are suspect. A node found dead that the workload did not kill is named "
               "there too.\n")

    def section(title, text, workload, columns, main):
        out.append(f"### {title}\n")
        out.append(text + "\n")
        if ns(workload):
            out.append(table(results, peers(workload), workload, ns(workload), columns, main, "n/a") + "\n")
        else:
            out.append("Not in this run's results.\n")

    section("Cross-node fan-out",
            f"One publisher on node 1 and N subscribers on one channel, spread round robin over the {k} nodes "
            f"(subscriber i on node i mod {k}), so that {k - 1} deliveries in {k} cross between nodes. The "
            "rest is as in [2. Fan-out](#2-fan-out): at most 4 messages in flight, deliveries per second, "
            "delivery latency from the timestamp in the payload, and the check that every subscriber got every "
            "message once. With `replicas = 1` a message reaches a subscriber only once that subscriber's "
            "replica holds it: every delivery also sends the message to another node.",
            "cluster_fanout",
            [("deliveries/s", num("rate")), ("p50", ms("delivery_p50_us")), ("p99", ms("delivery_p99_us")),
             ("lost", num("lost")), ("dup", num("duplicates")), ("server CPU", num("server_cpu")),
             ("server RSS (MiB)", num("server_rss_kib", "", 1024.0)), ("generator CPU", num("gen_cpu")),
             ("peer links lost", links)],
            "rate")
    section("Round trip, replication on and off",
            f"N connections spread round robin over the {k} nodes, each publishing to its own channel and "
            "waiting for its message to come back before sending the next, as in [1. Round trip](#1-round-trip). "
            "With `replicas = 1` the message reaches its client, and the publish its `ack`, only once the "
            "session's replica on another node holds them: a round trip between nodes in every one. The last "
            "column of the `wsvisor-noreplicas` row is replicas on ÷ off, the share of the round-trip rate that "
            "replication leaves (target: at least 0.70, a cost of 30 % at most). Socket.IO's `echo` is "
            "answered with `socket.emit` by the node the client is connected to, which neither Redis nor the "
            f"other nodes see: its row is {k} Socket.IO servers sharing a CPU, nothing replicated.",
            "cluster_roundtrip",
            [("messages/s", num("rate")), ("p50", ms("rtt_p50_us")), ("p99", ms("rtt_p99_us")),
             ("server CPU", num("server_cpu")), ("generator CPU", num("gen_cpu")), ("peer links lost", links)],
            "rate")
    section("Memory per session, replication on and off",
            f"N idle sessions (wsvisor: `hello` answered; Socket.IO: connected) spread round robin over the {k} "
            "nodes; the RSS of every process of the cluster, summed, after the sessions minus before them, "
            "divided by N, as in [3. Idle memory](#3-idle-memory) (the RSS before is read after 20 warm-up "
            "sessions). With `replicas = 1` every session also has its replica on another node; the last "
            "column of the `wsvisor-noreplicas` row is replicas on ÷ off (target: 2.00 at most). Socket.IO "
            "writes a session to Redis only when its connection closes (recovery's `persistSession`), so its "
            "row holds no copy of a connected session.",
            "cluster_idle",
            [("bytes per session", num("bytes_per_session")), ("RSS before (KiB)", num("rss_base_kib")),
             ("RSS after (KiB)", num("rss_kib")), ("peer links lost", links)],
            "bytes_per_session")
    fo = next((r for r in results if r.get("workload") == "failover" and "rate" in r), {})
    rate, before, after = (f"{fo[key]:,.0f}" if key in fo else "?"
                           for key in ("rate", "traffic_before_s", "traffic_after_s"))
    deliveries = f"{fo['rate'] * fo['n']:,.0f}" if fo else "?"
    section("Loss of a node under traffic (kill -9)",
            f"N sessions spread round robin over the {k} nodes, all on one channel (Socket.IO: the default "
            "namespace, which `socket.broadcast.emit` reaches), and a publisher on node 2 sending numbered "
            f"messages, {rate} a second ({deliveries} deliveries a second in all: compare the cross-node "
            f"fan-out's rates above), for the whole run. After {before} s of traffic wsbench kills node 1 "
            "(`SIGKILL`; the bench gives it that node's PID with `--kill-pid`). The clients that were on it "
            "reconnect at once to the other nodes in turn and resume: wsvisor `resume` with `last_seq`, "
            "tried again after 100–200 ms when closed with 4503 (the session's adoption by its replica's "
            "node is not done yet); Socket.IO `40{pid, offset}`. The publisher goes on for "
            f"{after} s after the last of them is back, then stops, and every client checks its numbered "
            "stream. *Recovered*: the killed node's sessions that resumed with all they missed (wsvisor "
            "`resumed: true`; Socket.IO recovered, the same `sid`), of those it carried; the others come back "
            "as new sessions, which subscribe again. *All back after*: from the kill until the last of them "
            "had its session again (its `welcome` or connect reply; a new session: subscribed again), "
            "recovered or not; *back p50/p99* the same per client. *Lost* and *dup* count every client's "
            "stream, those on the surviving nodes too; *lost on n2, n3* those alone. *Told to retry*: "
            "resumes closed with 4503. Server CPU is that of the surviving processes from the kill until the "
            "publisher stops.",
            "failover",
            [("recovered", recovered), ("all back after", num("back_ms", " ms")),
             ("back p50", ms("back_p50_us")), ("back p99", ms("back_p99_us")),
             ("told to retry", num("told_to_retry")), ("sent", num("sent")), ("lost", num("lost")),
             ("dup", num("duplicates")), ("lost on n2, n3", num("lost_other_nodes")),
             ("server CPU", num("server_cpu")), ("peer links lost", links)],
            None)

    shown = meta.get("cluster_commands", {})
    gen = [c for c in meta.get("commands", []) if " --ports " in c]
    if shown or gen:
        out.append("How the clusters were started (ports and PIDs are filled in by the bench), then the generator:\n")
        lines = []
        for peer in CLUSTER_PEERS:
            if peer in shown:
                lines += [f"# {peer}"] + shown[peer]
        if lines and gen:
            lines.append("")
        out.append("```\n" + "\n".join(lines + gen) + "\n```\n")
    return "\n".join(out)


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
               "Socket.IO with connection state recovery, and a cluster of three wsvisor nodes against three "
               "Socket.IO nodes sharing Redis ([6. Cluster](#6-cluster)), all driven by the same load generator "
               "(`tools/bench/wsbench`) in the same run. **Ratios are the headline**: the machine is shared "
               "and noisy, so absolute figures move between runs while ratios from one run hold up. "
               "The last column of every table is wsvisor's figure divided by that server's: above 1 "
               "is wsvisor's advantage for rates, below 1 for memory and times.\n")
    out.append("Reproduce with `./scripts/bench` (about "
               f"{max(1, round(meta['elapsed_s'] / 60))} minutes here); "
               "`./scripts/bench --quick` runs a smaller version in about two minutes; "
               f"`--workloads {','.join(CLUSTER_WORKLOADS)}` (the cluster stage) or any of "
               "`roundtrip,fanout,fanout_deflate,idle,detached,storm,connrate` runs only those.\n")
    out.append("## This run\n")
    out.append(f"- Date: {meta['date']}{' (quick run)' if meta.get('quick') else ''}")
    out.append(f"- Machine: {meta['cpu']}, {meta['cpus']} CPUs, {meta['mem_gib']} GiB, Linux {meta['kernel']}")
    out.append(f"- Pinning: {meta['pinning']}. Every server gets one CPU, the generator the other; each "
               "measurement starts a fresh server (a cluster: all its processes share the server's CPU).")
    out.append("- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    out.append("- wsvisor's configuration: `io_threads = 1` (one CPU), "
               "`max_connections = 30000`, `resume_window = \"10m\"`, log level `warn`, `actor_scheduler = \"io\"` "
               "(the default: the actors run on the I/O thread); the rows `wsvisor-sharing` and "
               "`wsvisor-stealing` (round trip and fan-out only) run CAF's own schedulers instead, "
               "`actor_scheduler = \"sharing\"` / `\"stealing\"` with `actor_threads = 1`; the row `wsvisor-msgpack` "
               "(round trip and fan-out only) is the default wsvisor with clients on `wsvisor.v1.msgpack` "
               "(`wsbench --format msgpack`: every frame a MessagePack map in a binary message, "
               "[protocol.md](protocol.md#messagepack-wsvisorv1msgpack)); `[limits]` `connections_per_ip`, "
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
    out.append(compression_section(results))

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

    out.append(cluster_section(results, meta))

    out.append("## Commands\n")
    out.append("Each server was started fresh on a free port, then (PORT and PID filled in):\n")
    out.append("```\n" + "\n".join(c for c in meta["commands"] if " --ports " not in c) + "\n```\n")
    if meta.get("cluster_commands"):
        out.append("The clusters' commands are in [6. Cluster](#6-cluster).\n")
    if os.path.exists(analysis_path):
        with open(analysis_path) as f:
            out.append(f.read())
    with open(os.path.join(ROOT, "docs", "benchmarks.md"), "w") as f:
        f.write("\n".join(out))
    log("wrote docs/benchmarks.md" + (f" and {len(made)} plots in docs/bench/" if made else ""))
