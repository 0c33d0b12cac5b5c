#!/usr/bin/python3
"""The three-node example of docs/cluster.md behind Debian's nginx, run as the
page says: the nodes from docs/examples/cluster/{a,b,c}.toml, nginx with
docs/examples/cluster/nginx.conf under a prefix of its own, then a session
through /ws and each node's admin endpoints and dashboard through
/nodes/NAME/. The commands it runs are checked to be the ones the page shows.

Usage: nginx_example_test.py PATH_TO_WSVISOR SOURCE_DIR
Exits 0 when every check passes; prints what failed otherwise. The example's
ports are fixed (18080-18083, 17071-17073): ctest runs it alone
(RESOURCE_LOCK).
"""

import asyncio
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import websockets

TIMEOUT = 15
NGINX = "/usr/sbin/nginx"
NODES = {"a": 18081, "b": 18082, "c": 18083}
LB = 18080
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def get(path):
    """(status, body) of GET http://127.0.0.1:18080PATH."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{LB}{path}", timeout=TIMEOUT) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def eventually(pred, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return True
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    check(False, what)
    return False


def start_node(binary, source, name):
    # As in the C++ cluster suites (tests/support/cluster_nodes.cpp): no
    # LeakSanitizer exit check in nodes that carry cross-node traffic.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    proc = subprocess.Popen(
        [binary, "--config", f"docs/examples/cluster/{name}.toml"],
        cwd=source, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if re.search(r"\blistening address=", line):
            return proc
    raise RuntimeError(f"node {name} did not start")


async def session_through_nginx():
    async with websockets.connect(f"ws://127.0.0.1:{LB}/ws", subprotocols=["wsvisor.v1"]) as ws:
        await ws.send(json.dumps({"type": "hello"}))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        check(welcome.get("type") == "welcome", f"welcome through nginx: {welcome}")
        await ws.send(json.dumps({"type": "subscribe", "channel": "lb"}))
        sub = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        check(sub.get("type") == "subscribed", f"subscribed through nginx: {sub}")
        session = welcome.get("session", "")
        # Every node's cluster-wide list has it, holding node and all.
        for name in NODES:
            status, body = get(f"/nodes/{name}/api/sessions?scope=cluster&limit=1000")
            rows = json.loads(body).get("sessions", []) if status == 200 else []
            mine = [r for r in rows if r["id"] == session]
            check(len(mine) == 1 and mine[0]["node"] == session.split(".")[0],
                  f"{name}'s scope=cluster lists {session} once with its node: {status} {body[:300]}")


def main():
    binary, source = sys.argv[1], sys.argv[2]
    doc = open(os.path.join(source, "docs/cluster.md")).read()
    for name in NODES:
        check(f"build/release/app/wsvisor --config docs/examples/cluster/{name}.toml &" in doc,
              f"docs/cluster.md starts node {name} with the built binary's path")
    nginx_cmd = '/usr/sbin/nginx -p /tmp/wsvisor-lb/ -c "$PWD/docs/examples/cluster/nginx.conf" -e logs/error.log'
    check(nginx_cmd in doc and nginx_cmd + " -s quit" in doc,
          "docs/cluster.md runs nginx as this test does")

    prefix = tempfile.mkdtemp(prefix="wsvisor-lb-") + "/"
    os.makedirs(prefix + "logs")
    os.makedirs(prefix + "tmp")
    conf = os.path.join(source, "docs/examples/cluster/nginx.conf")
    nodes = {}
    nginx_started = False
    try:
        for name in NODES:
            nodes[name] = start_node(binary, source, name)
        for name in NODES:
            threading_drain(nodes[name])
        subprocess.run([NGINX, "-p", prefix, "-c", conf, "-e", "logs/error.log"], check=True)
        nginx_started = True

        eventually(lambda: get("/healthz")[0] == 200, "GET /healthz through nginx answers 200")
        # Each node's admin endpoints under /nodes/NAME/, each seeing the other two.
        for name in NODES:
            def joined(name=name):
                status, body = get(f"/nodes/{name}/api/cluster")
                view = json.loads(body)
                ups = sorted(m["node"] for m in view["members"] if m["state"] == "up")
                return status == 200 and view["node"] == name and ups == sorted(set(NODES) - {name})
            eventually(joined, f"/nodes/{name}/api/cluster is {name}'s view with both peers up")
            status, body = get(f"/nodes/{name}/api/supervision")
            check(status == 200 and json.loads(body)["node"] == name,
                  f"/nodes/{name}/api/supervision is {name}'s tree: {status}")
            status, body = get(f"/nodes/{name}/metrics")
            check(status == 200 and re.search(r"^wsvisor_cluster_peers 2$", body, re.M) is not None,
                  f"/nodes/{name}/metrics is {name}'s with 2 peers: {status}")
            status, body = get(f"/nodes/{name}/dashboard")
            check(status == 200 and 'src="static/dashboard.js"' in body,
                  f"/nodes/{name}/dashboard is the dashboard: {status}")
            status, body = get(f"/nodes/{name}/static/dashboard.js")
            check(status == 200 and "api/cluster" in body,
                  f"/nodes/{name}/static/dashboard.js is served: {status}")
        # The browser files gzip-compressed at build time, through nginx too.
        plain = urllib.request.urlopen(f"http://127.0.0.1:{NODES['a']}/client.js", timeout=TIMEOUT).read()
        request = urllib.request.Request(f"http://127.0.0.1:{LB}/nodes/a/client.js",
                                         headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=TIMEOUT) as r:
            check(r.headers.get("Content-Encoding") == "gzip", "/client.js is sent gzip-compressed")
            check(gzip.decompress(r.read()) == plain, "the compressed /client.js is the file")
        asyncio.run(session_through_nginx())
    finally:
        if nginx_started:
            subprocess.run([NGINX, "-p", prefix, "-c", conf, "-e", "logs/error.log", "-s", "quit"])
        for proc in nodes.values():
            proc.send_signal(signal.SIGTERM)
        for proc in nodes.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("the docs/cluster.md nginx example works as written")
    return 0


def threading_drain(proc):
    """Reads the node's stderr to the end in the background (a full pipe would stall it)."""
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
