"""The servers the benchmark measures, each started fresh for one measurement
and pinned with taskset: one server (Server), or the nodes of a cluster with
what they share, started together and stopped together (WsvisorCluster,
SocketIoCluster; start_cluster picks one). run_bench.py drives them."""

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

from bench_common import (BUILD, CLUSTER_NODES, COMPRESSION_VARIANTS, NODE_DIR, REPLICA_VARIANTS, SCHEDULER_VARIANTS,
                          WORK)

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

# Appended to WSVISOR_CONFIG for a node of the wsvisor cluster
# (docs/cluster.md): every node lists the two others. replicas = 1 is the
# default, written out because the wsvisor-noreplicas cluster writes 0.
CLUSTER_TABLE = """[cluster]
enabled = true
node = "{node}"
listen = "127.0.0.1:{listen}"
peers = [{peers}]
public_url = "ws://127.0.0.1:{port}/ws"
heartbeat_interval = "200ms"
peer_timeout = "1s"
replicas = {replicas}
"""

READY_S = 30  # bound on a cluster's start: processes listening, nodes joined


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu, argv):
    """Prefix argv with taskset when there are CPUs to separate."""
    if cpu is None:
        return argv
    return ["taskset", "-c", str(cpu)] + argv


def shown_pinned(cpu, argv):
    return " ".join(shlex.quote(a) for a in pinned(cpu, argv))


class Process:
    """One pinned process, its output in build/bench/logs/NAME.log."""

    def __init__(self, name, argv, cpu, cwd=None):
        self.name = name
        os.makedirs(os.path.join(WORK, "logs"), exist_ok=True)
        self.logfile = open(os.path.join(WORK, "logs", f"{name}.log"), "a")
        self.proc = subprocess.Popen(pinned(cpu, argv), stdout=self.logfile, stderr=subprocess.STDOUT, cwd=cwd)

    def wait_accepting(self, port, timeout=15):
        """Returns once `port` accepts; raises if the process exits first."""
        deadline = time.time() + timeout
        while True:
            self.check()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"{self.name} did not listen on {port} within {timeout} s")
                time.sleep(0.05)

    def check(self):
        if not self.alive():
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.logfile.name}")

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig=signal.SIGTERM):
        if self.alive():  # one the failover workload killed is dead already
            self.proc.send_signal(sig)

    def reap(self, timeout=10):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logfile.close()

    def stop(self):
        self.signal()
        self.reap()


class Server(Process):
    """One server of the single-server stages, on a free port."""

    def __init__(self, name, cpu):
        self.port = free_port()
        os.makedirs(WORK, exist_ok=True)  # for the wsvisor configuration
        super().__init__(name, self.argv(name), cpu)
        self.wait_accepting(self.port)

    def argv(self, name):
        if name.startswith("wsvisor"):
            cfg = os.path.join(WORK, f"{name}.toml")
            with open(cfg, "w") as f:
                f.write(WSVISOR_CONFIG.format(port=self.port, scheduler=SCHEDULER_VARIANTS.get(name, "io")))
                if name in COMPRESSION_VARIANTS:
                    f.write("[server.compression]\n" + COMPRESSION_VARIANTS[name])
            return [os.path.join(BUILD, "app", "wsvisor"), "--config", cfg]
        if name == "beast":
            return [os.path.join(BUILD, "tools", "bench", "beast_peer"), "--port", str(self.port)]
        if name == "websocketpp":
            return [os.path.join(BUILD, "tools", "bench", "wspp_peer"), "--port", str(self.port)]
        if name == "node-ws":
            return ["node", os.path.join(NODE_DIR, "ws_peer.js"), "--port", str(self.port)]
        if name == "socket.io":
            return ["node", os.path.join(NODE_DIR, "socketio_peer.js"), "--port", str(self.port)]
        raise ValueError(name)


class Cluster:
    """The nodes of one cluster and what they share, each pinned to `cpu`,
    started together and stopped together. `ports`: the nodes' client ports,
    node 1 first; `node_pids`: their processes, in the same order. `pids`:
    every process whose CPU and memory count as the server's (the nodes, and
    a store they share). `shown`: how they were started, with placeholders
    for ports, for the report. Subclasses start the processes (`start`) and
    say when the cluster is ready to measure. A node may be dead by the time
    the cluster is stopped (the failover workload kills node 1)."""

    stop_signal = signal.SIGTERM

    def __init__(self, name, cpu, nodes=CLUSTER_NODES):
        self.name, self.cpu, self.nodes = name, cpu, nodes
        self.procs, self.node_procs, self.ports, self.shown = [], [], [], []
        os.makedirs(WORK, exist_ok=True)
        try:
            self.start()
        except BaseException:
            self.stop()
            raise

    @property
    def pids(self):
        return [p.proc.pid for p in self.procs]

    @property
    def node_pids(self):
        return [p.proc.pid for p in self.node_procs]

    @property
    def shown_pids(self):
        """PID1,PID2,... for the nodes, RPID for Redis, as the report shows them."""
        names = [p.name.rsplit("-", 1)[-1] for p in self.procs]
        return ",".join("RPID" if n == "redis" else "PID" + n.lstrip("n") for n in names)

    def spawn(self, name, argv, cwd=None, node=True):
        p = Process(f"cluster-{self.name}-{name}", argv, self.cpu, cwd=cwd)
        self.procs.append(p)
        if node:
            self.node_procs.append(p)
        return p

    def stop(self):
        """Signals every process still alive at once, then waits for each."""
        for p in self.procs:
            p.signal(self.stop_signal)
        for p in self.procs:
            p.reap()
        self.procs, self.node_procs = [], []

    def start(self):
        raise NotImplementedError

    def health(self):
        """Figures about the cluster itself after a measurement, for its
        result. nodes_dead: the nodes no longer running (n1 after failover)."""
        return {"nodes_dead": [p.name.rsplit("-", 1)[-1] for p in self.node_procs if not p.alive()]}


def until(done, what, timeout=READY_S, check=None):
    deadline = time.time() + timeout
    while not done():
        if check:
            check()
        if time.time() > deadline:
            raise RuntimeError(f"{what} within {timeout} s")
        time.sleep(0.1)


class WsvisorCluster(Cluster):
    """wsvisor nodes n1..nK, each the single-server configuration plus a
    [cluster] table listing the others (replicas = 1, or 0 for
    wsvisor-noreplicas); ready once every node's GET /api/cluster lists the
    K-1 others as "up". Stopped with SIGKILL: on
    SIGTERM every node would drain, handing its sessions (the generator's,
    detached by now) to peers that are draining too, which fails after
    seconds of retries and proves nothing once the measurement is over."""

    stop_signal = signal.SIGKILL

    def start(self):
        k = self.nodes
        replicas = REPLICA_VARIANTS.get(self.name, 1)
        self.ports = [free_port() for _ in range(k)]
        links = [free_port() for _ in range(k)]
        binary = os.path.join(BUILD, "app", "wsvisor")
        for i in range(k):
            node = f"n{i + 1}"
            peers = ", ".join(f'"127.0.0.1:{links[j]}"' for j in range(k) if j != i)
            cfg = os.path.join(WORK, f"cluster-{self.name}-{node}.toml")
            with open(cfg, "w") as f:
                f.write(WSVISOR_CONFIG.format(port=self.ports[i], scheduler="io")
                        + CLUSTER_TABLE.format(node=node, listen=links[i], peers=peers, port=self.ports[i],
                                               replicas=replicas))
            self.spawn(node, [binary, "--config", cfg])
        for p, port in zip(self.procs, self.ports):
            p.wait_accepting(port)
        for p, port in zip(self.procs, self.ports):
            until(lambda: self.members_up(port) >= k - 1, f"{p.name}: fewer than {k - 1} peers up", check=p.check)
        others = ", ".join(f'"127.0.0.1:LINK{j}"' for j in range(2, k + 1))
        if replicas == 1:
            table = ["# n1.toml (n2, n3 alike): WSVISOR_CONFIG of tools/bench/bench_servers.py on PORT1, then"] \
                + CLUSTER_TABLE.format(node="n1", listen="LINK1", peers=others, port="PORT1",
                                       replicas=replicas).splitlines()
        else:
            table = [f"# n1.toml, n2.toml, n3.toml as for wsvisor but with replicas = {replicas}"]
        self.shown = table + [shown_pinned(self.cpu, ["wsvisor", "--config", f"n{i + 1}.toml"]) for i in range(k)] \
            + [f"# ready once GET /api/cluster on every node lists the {k - 1} others as \"up\""]

    def health(self):
        """Also peer_links_lost: wsvisor_cluster_peers_lost_total summed over
        the nodes still alive, less the loss of each dead node (killed by
        the failover workload), which every survivor counts once; above 0, a
        live node was taken for dead during the run (starved past
        peer_timeout, say) and the figures are suspect."""
        out = super().health()
        lost, live = 0, [(p, port) for p, port in zip(self.node_procs, self.ports) if p.alive()]
        for p, port in live:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    text = r.read().decode()
            except OSError:
                return {**out, "peer_links_lost": None}
            for line in text.splitlines():
                if line.startswith("wsvisor_cluster_peers_lost_total"):
                    lost += int(float(line.split()[-1]))
        return {**out, "peer_links_lost": lost - len(out["nodes_dead"]) * len(live)}

    @staticmethod
    def members_up(port):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/cluster", timeout=2) as r:
                body = json.load(r)
        except (OSError, ValueError):
            return 0
        return sum(1 for m in body.get("members", []) if m.get("state") == "up")


def redis_command(port, *args):
    """One command over RESP; the reply's text (simple, error or bulk)."""
    frame = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(frame.encode())
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("redis closed the connection")
            buf += chunk
            head, sep, rest = buf.partition(b"\r\n")
            if not sep:
                continue
            if head[:1] != b"$":
                return head.decode()
            size = int(head[1:])
            if size < 0:
                return None
            if len(rest) >= size + 2:
                return rest[:size].decode()


class SocketIoCluster(Cluster):
    """A redis-server without persistence, then socketio_peer.js --redis on it
    for each node (@socket.io/redis-streams-adapter, recovery on); ready once
    every node blocks reading the stream (Redis counts K blocked clients), so
    that none misses the first broadcast."""

    def start(self):
        k = self.nodes
        redis_port = free_port()
        redis = ["redis-server", "--save", "", "--appendonly", "no", "--port", str(redis_port), "--bind", "127.0.0.1"]
        r = self.spawn("redis", redis, cwd=WORK, node=False)
        r.wait_accepting(redis_port)
        until(lambda: self.redis_answers(redis_port, "PING") == "+PONG", "redis-server did not answer PING",
              check=r.check)
        url = f"redis://127.0.0.1:{redis_port}"
        for i in range(k):
            self.ports.append(free_port())
            self.spawn(f"n{i + 1}", ["node", os.path.join(NODE_DIR, "socketio_peer.js"), "--port", str(self.ports[-1]),
                                     "--redis", url])
        for p, port in zip(self.node_procs, self.ports):
            p.wait_accepting(port)
        until(lambda: self.blocked_clients(redis_port) >= k, f"fewer than {k} Socket.IO nodes reading the stream",
              check=lambda: [p.check() for p in self.procs])
        self.shown = [shown_pinned(self.cpu, ["redis-server", "--save", "", "--appendonly", "no", "--port", "RPORT",
                                              "--bind", "127.0.0.1"])] \
            + [shown_pinned(self.cpu, ["node", "tools/bench/node/socketio_peer.js", "--port", f"PORT{i + 1}",
                                       "--redis", "redis://127.0.0.1:RPORT"]) for i in range(k)] \
            + [f"# ready once Redis counts {k} blocked clients (each node's XREAD of the stream)"]

    @staticmethod
    def redis_answers(port, *args):
        try:
            return redis_command(port, *args)
        except (OSError, ValueError):
            return None

    @classmethod
    def blocked_clients(cls, port):
        info = cls.redis_answers(port, "INFO", "clients") or ""
        for line in info.splitlines():
            if line.startswith("blocked_clients:"):
                return int(line.split(":", 1)[1])
        return 0


def cluster_unavailable(peer):
    """Why the cluster of `peer` cannot run here, or None."""
    if peer == "socket.io":
        if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "@socket.io", "redis-streams-adapter")):
            return "tools/bench/node/node_modules lacks @socket.io/redis-streams-adapter (npm ci --prefix tools/bench/node)"
        if not shutil.which("redis-server"):
            return "redis-server missing (Debian's redis-server package)"
    return None


def start_cluster(peer, cpu):
    kind = SocketIoCluster if peer == "socket.io" else WsvisorCluster
    return kind(peer, cpu)
