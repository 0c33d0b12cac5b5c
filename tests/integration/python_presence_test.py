#!/usr/bin/python3
"""Interop: presence (docs/protocol.md, "Presence") driven by independent
clients (Debian's python3-websockets, python3-msgpack) against a real wsvisor
process: a JSON member and a MessagePack member of one channel, their
presence_event frames numbered with the messages, the query from a plain
subscriber, away and online across a dropped connection and a resume, gone
after unsubscribe, and the errors.

Usage: python_presence_test.py PATH_TO_WSVISOR
Exits 0 when every check passes; prints what failed otherwise.
"""

import asyncio
import os
import sys

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_compression_test import run_node  # noqa: E402
from python_msgpack_test import mp_recv_type, mp_send  # noqa: E402
from python_session_test import recv_type, send  # noqa: E402


def connect(url, subprotocol):
    return websockets.connect(url, subprotocols=[subprotocol], max_size=None)


async def members(ws, channel):
    await send(ws, type="presence", channel=channel)
    answer = await recv_type(ws, "presence")
    assert answer["channel"] == channel, answer
    return {m["member"]: (m["subject"], m["state"]) for m in answer["members"]}


async def scenario(url):
    js = await connect(url, "wsvisor.v1")
    await send(js, type="hello")
    w_js = await recv_type(js, "welcome")
    await send(js, type="subscribe", channel="room", presence=True)
    await recv_type(js, "subscribed")

    mp = await connect(url, "wsvisor.v1.msgpack")
    await mp_send(mp, type="hello")
    w_mp = await mp_recv_type(mp, "welcome")
    await mp_send(mp, type="subscribe", channel="room", presence=True)
    await mp_recv_type(mp, "subscribed")

    # The JSON member hears the MessagePack one join, numbered 1.
    joined = await recv_type(js, "presence_event")
    assert (joined["seq"], joined["channel"], joined["state"], joined["subject"]) == \
        (1, "room", "online", None), joined
    mp_member = joined["member"]
    assert len(mp_member) == 24 and mp_member not in w_mp["session"], joined

    # A plain subscriber may ask; it sees both, online.
    plain = await connect(url, "wsvisor.v1")
    await send(plain, type="hello")
    await recv_type(plain, "welcome")
    await send(plain, type="presence", channel="room")
    refused = await recv_type(plain, "error")
    assert refused["code"] == "not_subscribed", refused
    await send(plain, type="subscribe", channel="room", presence="yes")
    assert (await recv_type(plain, "error"))["code"] == "bad_frame"
    await send(plain, type="subscribe", channel="room")
    await recv_type(plain, "subscribed")
    listed = await members(plain, "room")
    assert len(listed) == 2 and listed[mp_member] == (None, "online"), listed

    # The MessagePack member asks over MessagePack: the same answer as a map.
    await mp_send(mp, type="presence", channel="room")
    answer = await mp_recv_type(mp, "presence")
    assert {m["member"]: (m["subject"], m["state"]) for m in answer["members"]} == listed, answer

    # The JSON member's connection drops: the MessagePack member sees away.
    await js.close()
    away = await mp_recv_type(mp, "presence_event")
    js_member = away["member"]
    assert (away["seq"], away["state"]) == (1, "away") and js_member in listed, away
    assert (await members(plain, "room"))[js_member] == (None, "away")

    # It resumes: online; what it missed (nothing about itself) is replayed.
    js = await connect(url, "wsvisor.v1")
    await send(js, type="resume", session=w_js["session"], token=w_js["token"], last_seq=1)
    w = await recv_type(js, "welcome")
    assert w["resumed"] is True and w["replay"] == 0, w
    back = await mp_recv_type(mp, "presence_event")
    assert (back["seq"], back["member"], back["state"]) == (2, js_member, "online"), back

    # Messages share the seq: the next one is 3 for the MessagePack member.
    await send(plain, type="publish", channel="room", cseq=1, data={"n": 1})
    await recv_type(plain, "ack")
    assert (await mp_recv_type(mp, "message"))["seq"] == 3
    assert (await recv_type(js, "message"))["seq"] == 2
    assert (await recv_type(plain, "message"))["seq"] == 1

    # The MessagePack member leaves: gone for the JSON one, and no longer listed.
    await mp_send(mp, type="unsubscribe", channel="room")
    await mp_recv_type(mp, "unsubscribed")
    gone = await recv_type(js, "presence_event")
    assert (gone["seq"], gone["member"], gone["state"]) == (3, mp_member, "gone"), gone
    assert mp_member not in await members(plain, "room")
    for ws in (js, mp, plain):
        await ws.close()


async def main(binary):
    await run_node(binary, [], scenario)
    print("interop: 1 passed, 0 failed")


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1]))
    except Exception as e:  # report, then fail the ctest entry
        print(f"interop: FAILED: {type(e).__name__}: {e!r}")
        sys.exit(1)
