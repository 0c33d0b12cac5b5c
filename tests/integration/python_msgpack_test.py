#!/usr/bin/python3
"""Interop: the wsvisor.v1.msgpack subprotocol with independent
implementations, Debian's python3-websockets and python3-msgpack, against a
real wsvisor process (compression on, so that MessagePack frames are also
compressed and inflated by a client that is not ours):

- the server picks the first offered subprotocol it speaks;
- every frame a MessagePack client receives is one binary message holding
  one map with the JSON frame's fields and types;
- binary data published over MessagePack reaches MessagePack subscribers as
  it was and JSON subscribers as `data_msgpack` (base64 of its MessagePack);
  data with a JSON equivalent reaches both as the same value; JSON-published
  data reaches MessagePack subscribers as the equivalent value;
- a text frame on MessagePack gets `text_unsupported`, garbage gets
  `bad_msgpack`, and the connection stays usable;
- a MessagePack session resumes with exact replay;
- POST /api/publish with Content-Type application/msgpack.

Usage: python_msgpack_test.py PATH_TO_WSVISOR
Exits 0 when every check passes; prints what failed otherwise.
"""

import asyncio
import base64
import json
import os
import sys
import urllib.request

import msgpack
import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
from python_compression_test import run_node  # noqa: E402
from python_session_test import TIMEOUT, recv_type, send  # noqa: E402

BOTH = ["wsvisor.v1.msgpack", "wsvisor.v1"]


async def mp_send(ws, **frame):
    await ws.send(msgpack.packb(frame, use_bin_type=True))


async def mp_recv(ws):
    """The next frame other than ping (answered), decoded; asserts binary."""
    while True:
        raw = await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert isinstance(raw, bytes), f"a text frame on wsvisor.v1.msgpack: {raw!r}"
        frame = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        assert isinstance(frame, dict), f"not a map: {frame!r}"
        if frame.get("type") == "ping":
            await mp_send(ws, type="pong")
            continue
        return frame


async def mp_recv_type(ws, wanted):
    frame = await mp_recv(ws)
    assert frame.get("type") == wanted, f"expected {wanted}, got {frame}"
    return frame


def connect(url, subprotocols):
    return websockets.connect(url, subprotocols=subprotocols, compression="deflate", max_size=None)


async def negotiation(url):
    async with connect(url, BOTH) as ws:
        assert ws.subprotocol == "wsvisor.v1.msgpack", ws.subprotocol
        await mp_send(ws, type="hello")
        w = await mp_recv_type(ws, "welcome")
        assert isinstance(w["session"], str) and isinstance(w["token"], str), w
        assert w["resumed"] is False and isinstance(w["heartbeat_ms"], int), w
    async with connect(url, ["wsvisor.v1", "wsvisor.v1.msgpack"]) as ws:
        assert ws.subprotocol == "wsvisor.v1", ws.subprotocol
        await send(ws, type="hello")
        await recv_type(ws, "welcome")


async def mixed_channel(url, port):
    pub, mp_sub, js_sub = (await connect(url, BOTH), await connect(url, BOTH),
                           await connect(url, ["wsvisor.v1"]))
    for ws in (pub, mp_sub):
        await mp_send(ws, type="hello")
        await mp_recv_type(ws, "welcome")
    await send(js_sub, type="hello")
    await recv_type(js_sub, "welcome")
    await mp_send(mp_sub, type="subscribe", channel="mix")
    await mp_recv_type(mp_sub, "subscribed")
    await send(js_sub, type="subscribe", channel="mix")
    await recv_type(js_sub, "subscribed")

    # 1. Binary data: as it was over MessagePack, data_msgpack over JSON.
    blob = {"img": bytes(range(256)), "n": 1, "tags": ["a", b"\x00"]}
    await mp_send(pub, type="publish", channel="mix", cseq=1, data=blob)
    assert (await mp_recv_type(pub, "ack"))["cseq"] == 1
    m = await mp_recv_type(mp_sub, "message")
    assert (m["seq"], m["channel"], m["data"]) == (1, "mix", blob), m
    j = await recv_type(js_sub, "message")
    assert "data" not in j, j
    assert msgpack.unpackb(base64.b64decode(j["data_msgpack"]), raw=False) == blob, j

    # 2. Data with a JSON equivalent: the same value for both.
    plain = {"a": [1, -2, 2.5, "x", None, True], "nested": {"k": "v"}}
    await mp_send(pub, type="publish", channel="mix", cseq=2, data=plain)
    await mp_recv_type(pub, "ack")
    assert (await mp_recv_type(mp_sub, "message"))["data"] == plain
    assert (await recv_type(js_sub, "message"))["data"] == plain

    # 3. JSON-published data reaches MessagePack subscribers as MessagePack.
    await send(js_sub, type="publish", channel="mix", cseq=1, data={"from": "json", "n": 3})
    await recv_type(js_sub, "ack")
    assert (await recv_type(js_sub, "message"))["data"] == {"from": "json", "n": 3}
    assert (await mp_recv_type(mp_sub, "message"))["data"] == {"from": "json", "n": 3}

    # 4. POST /api/publish with a MessagePack body, binary data and all.
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/publish", method="POST",
                                 data=msgpack.packb({"channel": "mix", "data": {"raw": b"\x01\x02"}}),
                                 headers={"Content-Type": "application/msgpack"})
    with urllib.request.urlopen(req, timeout=TIMEOUT) as res:
        assert json.loads(res.read())["sessions"] == 2
    assert (await mp_recv_type(mp_sub, "message"))["data"] == {"raw": b"\x01\x02"}
    j = await recv_type(js_sub, "message")
    assert msgpack.unpackb(base64.b64decode(j["data_msgpack"])) == {"raw": b"\x01\x02"}, j
    bad = urllib.request.Request(f"http://127.0.0.1:{port}/api/publish", method="POST", data=b"\xc1",
                                 headers={"Content-Type": "application/msgpack"})
    try:
        urllib.request.urlopen(bad, timeout=TIMEOUT)
        raise AssertionError("a body that is not MessagePack was accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 400 and json.loads(e.read())["error"] == "bad_msgpack", e

    # 5. The wrong kind of frame, and garbage: an error, the connection stays.
    await pub.send('{"type":"publish"}')
    e = await mp_recv_type(pub, "error")
    assert e["code"] == "text_unsupported", e
    await pub.send(b"\xc1")
    assert (await mp_recv_type(pub, "error"))["code"] == "bad_msgpack"
    await pub.send(msgpack.packb([1, 2]))
    assert (await mp_recv_type(pub, "error"))["code"] == "bad_msgpack"
    await mp_send(pub, type="subscribe", channel=b"mix")
    e = await mp_recv_type(pub, "error")
    assert (e["code"], e["message"]) == ("bad_frame", 'subscribe: field "channel" must be a string'), e
    await js_sub.send(msgpack.packb({"type": "hello"}))
    assert (await recv_type(js_sub, "error"))["code"] == "binary_unsupported"

    # 6. A MessagePack session resumes with exact replay.
    async with connect(url, BOTH) as first:
        await mp_send(first, type="hello")
        w = await mp_recv_type(first, "welcome")
        session, token = w["session"], w["token"]
        await mp_send(first, type="subscribe", channel="mix")
        await mp_recv_type(first, "subscribed")
    for k in range(3, 6):
        await mp_send(pub, type="publish", channel="mix", cseq=k, data={"k": k, "b": bytes([k])})
        await mp_recv_type(pub, "ack")
    async with connect(url, BOTH) as back:
        await mp_send(back, type="resume", session=session, token=token, last_seq=0)
        w = await mp_recv_type(back, "welcome")
        assert w["resumed"] is True and w["replay"] == 3, w
        for k in range(3, 6):
            m = await mp_recv_type(back, "message")
            assert (m["seq"], m["data"]) == (k - 2, {"k": k, "b": bytes([k])}), m
    for ws in (pub, mp_sub, js_sub):
        await ws.close()


async def main(binary):
    async def checks(url):
        await negotiation(url)
        await mixed_channel(url, int(url.rsplit(":", 1)[1].split("/", 1)[0]))

    await run_node(binary, ["--set", "server.compression.enabled=true"], checks)
    print("interop: 2 passed, 0 failed")


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1]))
    except Exception as e:  # report, then fail the ctest entry
        print(f"interop: FAILED: {type(e).__name__}: {e}")
        sys.exit(1)
