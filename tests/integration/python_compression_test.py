#!/usr/bin/python3
"""Interop: permessage-deflate ([server.compression]) with an independent
implementation, Debian's python3-websockets, which offers permessage-deflate
by default, compresses what it sends once negotiated and inflates what it
receives. Against a real wsvisor process: with compression enabled (context
takeover on, then off) a compressing publisher and subscriber exchange large
and small messages intact, in order, and the upgrade's answer names the
extension; a client that offers nothing gets none, on the same node; with
compression disabled (the default) an offer gets no extension.

Usage: python_compression_test.py PATH_TO_WSVISOR
Exits 0 when every check passes; prints what failed otherwise.
"""

import asyncio
import os
import signal
import sys

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
from python_session_test import TIMEOUT, drain, recv_type, send, start_server  # noqa: E402


def extension(ws):
    return ws.response_headers.get("Sec-WebSocket-Extensions", "")


async def exchange(url, compression, count=20):
    """A publisher and a subscriber, both with `compression` ("deflate" or
    None): `count` messages of growing size, every one received intact."""
    def connect():
        return websockets.connect(url, subprotocols=["wsvisor.v1"], compression=compression,
                                  max_size=None)

    pub, sub = await connect(), await connect()
    for ws in (pub, sub):
        await send(ws, type="hello")
        await recv_type(ws, "welcome")
    await send(sub, type="subscribe", channel="quotes")
    await recv_type(sub, "subscribed")
    for n in range(1, count + 1):
        data = {"n": n, "rows": [{"symbol": "ACME", "price": 100 + i / 4} for i in range(n * n)]}
        await send(pub, type="publish", channel="quotes", data=data, cseq=n)
        assert (await recv_type(pub, "ack"))["cseq"] == n
        m = await recv_type(sub, "message")
        assert (m["seq"], m["data"]) == (n, data), f"message {n} differs"
    headers = extension(pub), extension(sub)
    await pub.close()
    await sub.close()
    return headers


async def run_node(binary, extra, checks):
    proc, port = await start_server(binary, extra)
    drainer = asyncio.create_task(drain(proc))
    try:
        await checks(f"ws://127.0.0.1:{port}/ws")
    finally:
        proc.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(proc.wait(), TIMEOUT)
        await drainer
    assert status == 0, f"wsvisor exited with {status}"


async def main(binary):
    async def enabled(url):
        for ext in await exchange(url, "deflate"):
            assert ext.startswith("permessage-deflate"), ext
            assert "no_context_takeover" not in ext, ext
        for ext in await exchange(url, None):
            assert ext == "", ext

    async def without_takeover(url):
        for ext in await exchange(url, "deflate"):
            assert "server_no_context_takeover" in ext, ext
            assert "client_no_context_takeover" in ext, ext

    async def disabled(url):
        for ext in await exchange(url, "deflate", count=5):
            assert ext == "", ext

    await run_node(binary, ["--set", "server.compression.enabled=true"], enabled)
    await run_node(binary, ["--set", "server.compression.enabled=true",
                            "--set", "server.compression.context_takeover=false",
                            "--set", "server.compression.threshold=0B"], without_takeover)
    await run_node(binary, [], disabled)
    print("interop: 3 passed, 0 failed")


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1]))
    except Exception as e:  # report, then fail the ctest entry
        print(f"interop: FAILED: {type(e).__name__}: {e}")
        sys.exit(1)
