#!/usr/bin/python3
"""Resume through a round-robin load balancer (docs/cluster.md).

Needs python3-websockets (Debian's 10.4 is enough). Usage:
    resume_demo.py [ws://127.0.0.1:18080/ws] [path/to/nginx/access.log]

Each connection carries a label in its query string (?c=LABEL; wsvisor
ignores the query) so that nginx's access log shows which node served it.
"""

import asyncio
import json
import sys
import time

import websockets

URL = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:18080/ws"
ACCESS_LOG = sys.argv[2] if len(sys.argv) > 2 else None
CHANNEL = "demo"


def show(who, frame):
    print(f"{who:>8} <- {json.dumps(frame)}")


async def connect(label):
    return await websockets.connect(f"{URL}?c={label}", subprotocols=["wsvisor.v1"])


async def send(ws, who, frame):
    print(f"{who:>8} -> {json.dumps(frame)}")
    await ws.send(json.dumps(frame))


async def expect(ws, who, type_):
    """The next frame that is not a ping; it must be of type `type_`."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] == "ping":
            await ws.send('{"type":"pong"}')
            continue
        show(who, frame)
        assert frame["type"] == type_, f"expected {type_}, got {frame}"
        return frame


async def publish(ws, cseq, n):
    await send(ws, "pub", {"type": "publish", "channel": CHANNEL, "data": {"n": n}, "cseq": cseq})
    assert (await expect(ws, "pub", "ack"))["cseq"] == cseq


async def messages(ws, who, first, last):
    """Receives messages first..last: seq and data must match exactly."""
    for seq in range(first, last + 1):
        m = await expect(ws, who, "message")
        assert (m["seq"], m["data"]["n"]) == (seq, seq), f"wanted seq {seq}, got {m}"


async def main():
    # 1. A subscriber, through the load balancer.
    sub = await connect("sub")
    await send(sub, "sub", {"type": "hello"})
    w = await expect(sub, "sub", "welcome")
    session, token = w["session"], w["token"]
    print(f"session {session} is homed on node {session.split('.')[0]!r}")
    await send(sub, "sub", {"type": "subscribe", "channel": CHANNEL})
    await expect(sub, "sub", "subscribed")

    # 2. A publisher: round robin puts it on the next node.
    pub = await connect("pub")
    await send(pub, "pub", {"type": "hello"})
    await expect(pub, "pub", "welcome")
    for n in (1, 2, 3):
        await publish(pub, n, n)
    await messages(sub, "sub", 1, 3)

    # 3. The subscriber's connection drops (no close frame: TCP just goes).
    sub.transport.abort()
    print("     sub    connection dropped; publishing while the session is detached")
    for n in (4, 5, 6):
        await publish(pub, n, n)

    # 4. Resume through the load balancer: the third node this time.
    res = await connect("resume")
    await send(res, "resume", {"type": "resume", "session": session, "token": token, "last_seq": 3})
    w = await expect(res, "resume", "welcome")
    assert w["resumed"] is True and w["session"] == session
    await messages(res, "resume", 4, 6)  # the replay, exactly
    await publish(pub, 7, 7)
    await messages(res, "resume", 7, 7)  # then live traffic

    # 5. Resume once more: round robin is back at the home node, which takes
    #    the session back; the connection on the other node is closed (4409).
    back = await connect("back")
    await send(back, "back", {"type": "resume", "session": session, "token": token, "last_seq": 7})
    w = await expect(back, "back", "welcome")
    assert w["resumed"] is True
    try:
        await asyncio.wait_for(res.recv(), 10)
        raise AssertionError("the moved connection stayed open")
    except websockets.ConnectionClosed as e:
        print(f"  resume    closed: code {e.code} {e.reason!r}")
        assert e.code == 4409
    await publish(pub, 8, 8)
    await messages(back, "back", 8, 8)

    await send(back, "back", {"type": "bye"})
    await back.close()
    await pub.close()
    print("OK: replay exact, live traffic continued, session kept across nodes")

    if ACCESS_LOG:
        time.sleep(0.5)  # nginx logs a WebSocket when it ends
        print("nginx access log (which node served each connection):")
        with open(ACCESS_LOG) as f:
            for line in f:
                if "/ws?c=" in line:
                    print("  " + line.rstrip())


asyncio.run(main())
