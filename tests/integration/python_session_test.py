#!/usr/bin/python3
"""Interop: the hello / subscribe / publish / drop / resume scenario of
docs/protocol.md, driven by an independent WebSocket implementation (Debian's
python3-websockets) against a real wsvisor process; with --tls, over wss://
to a node with [server.tls], trusting a certificate made for the run (and
checking that an untrusting client is refused).

Usage: python_session_test.py PATH_TO_WSVISOR [--tls PATH_TO_MAKE_TEST_CERT]
Exits 0 when every check passes; prints what failed otherwise.
"""

import asyncio
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile

import websockets

TIMEOUT = 10


async def start_server(binary, extra_args):
    proc = await asyncio.create_subprocess_exec(
        binary, "--set", "server.listen=127.0.0.1:0",
        "--set", "session.resume_window=30s", *extra_args,
        stderr=asyncio.subprocess.PIPE)
    while True:
        line = await asyncio.wait_for(proc.stderr.readline(), TIMEOUT)
        if not line:
            raise RuntimeError("wsvisor exited before listening")
        m = re.search(rb"listening address=127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))


async def drain(proc):
    while await proc.stderr.readline():
        pass


async def recv(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def recv_type(ws, wanted):
    """Next frame that is not a ping (answering pings as a client must)."""
    while True:
        frame = await recv(ws)
        if frame["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        assert frame["type"] == wanted, f"expected {wanted}, got {frame}"
        return frame


async def send(ws, **frame):
    await ws.send(json.dumps(frame))


async def scenario(url, tls):
    def connect():
        return websockets.connect(url, subprotocols=["wsvisor.v1"], ssl=tls)

    pub = await connect()
    assert pub.subprotocol == "wsvisor.v1", pub.subprotocol
    sub = await connect()

    await send(sub, type="hello")
    welcome = await recv_type(sub, "welcome")
    assert welcome["resumed"] is False and welcome["last_cseq"] == 0, welcome
    assert len(welcome["session"]) >= 16 and len(welcome["token"]) >= 16, welcome
    assert welcome["heartbeat_ms"] > 0 and welcome["resume_window_ms"] == 30000, welcome
    await send(sub, type="subscribe", channel="chat")
    assert (await recv_type(sub, "subscribed"))["channel"] == "chat"

    await send(pub, type="hello")
    await recv_type(pub, "welcome")
    await send(pub, type="publish", channel="chat", data={"n": 1}, cseq=1)
    assert (await recv_type(pub, "ack"))["cseq"] == 1
    m1 = await recv_type(sub, "message")
    assert (m1["seq"], m1["channel"], m1["data"]) == (1, "chat", {"n": 1}), m1

    # Drop the subscriber abruptly (no close frame), publish while it is gone.
    sub.transport.abort()
    for n in (2, 3):
        await send(pub, type="publish", channel="chat", data={"n": n}, cseq=n)
        assert (await recv_type(pub, "ack"))["cseq"] == n

    sub = await connect()
    await send(sub, type="resume", session=welcome["session"], token=welcome["token"], last_seq=1)
    resumed = await recv_type(sub, "welcome")
    assert resumed["resumed"] is True and resumed["session"] == welcome["session"], resumed
    for seq, n in ((2, 2), (3, 3)):
        m = await recv_type(sub, "message")
        assert (m["seq"], m["data"]) == (seq, {"n": n}), m

    # Live traffic continues; a resent publish is acknowledged, not delivered twice.
    await send(pub, type="publish", channel="chat", data={"n": 3}, cseq=3)
    assert (await recv_type(pub, "ack"))["cseq"] == 3
    await send(pub, type="publish", channel="chat", data={"n": 4}, cseq=4)
    assert (await recv_type(pub, "ack"))["cseq"] == 4
    m4 = await recv_type(sub, "message")
    assert (m4["seq"], m4["data"]) == (4, {"n": 4}), m4

    # Errors leave the connection usable.
    await sub.send("not json")
    assert (await recv_type(sub, "error"))["code"] == "bad_json"
    await send(sub, type="ack", seq=4)
    await send(sub, type="bye")
    try:
        await asyncio.wait_for(sub.recv(), TIMEOUT)
        raise AssertionError("expected the server to close after bye")
    except websockets.ConnectionClosed as closed:
        assert closed.code == 1000, closed.code
    await pub.close()


async def refused_without_the_ca(url):
    """A client trusting only the system's CAs fails verification at once."""
    try:
        ws = await asyncio.wait_for(
            websockets.connect(url, subprotocols=["wsvisor.v1"],
                               ssl=ssl.create_default_context()), TIMEOUT)
        await ws.close()
        raise AssertionError("an untrusting client was not refused")
    except ssl.SSLCertVerificationError:
        pass


async def main(binary, make_cert, workdir):
    extra_args, url, tls = [], "ws://127.0.0.1:{port}/ws", None
    if make_cert:
        subprocess.run([make_cert, workdir], check=True)
        cert, key = f"{workdir}/cert.pem", f"{workdir}/key.pem"
        extra_args = ["--set", f"server.tls.cert={cert}", "--set", f"server.tls.key={key}"]
        url, tls = "wss://127.0.0.1:{port}/ws", ssl.create_default_context(cafile=cert)
    proc, port = await start_server(binary, extra_args)
    drainer = asyncio.create_task(drain(proc))
    try:
        if tls:
            await refused_without_the_ca(url.format(port=port))
        await scenario(url.format(port=port), tls)
    finally:
        proc.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(proc.wait(), TIMEOUT)
        await drainer
    assert status == 0, f"wsvisor exited with {status}"
    print("interop: 1 passed, 0 failed")


if __name__ == "__main__":
    tls_cert_tool = sys.argv[3] if len(sys.argv) == 4 and sys.argv[2] == "--tls" else None
    try:
        with tempfile.TemporaryDirectory() as workdir:
            asyncio.run(main(sys.argv[1], tls_cert_tool, workdir))
    except Exception as e:  # report, then fail the ctest entry
        print(f"interop: FAILED: {type(e).__name__}: {e}")
        sys.exit(1)
