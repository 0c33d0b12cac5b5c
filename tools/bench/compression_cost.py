#!/usr/bin/python3
"""What [server.compression] costs and saves (docs/configuration.md).

Starts a wsvisor (the release build by default) per variant, connects N
subscribers that offer permessage-deflate (raw sockets: every byte the
server sends is counted, compressed frames inflated with zlib and checked),
(and, as browsers do, compress each message they send themselves), then
publishes M messages of a realistic JSON stream (market ticks with a few
nested fields, about 280 bytes of JSON each) through one uncompressed
publisher. Per variant: bytes on the wire per delivered message, the server's
CPU per delivery (utime + stime of the process over the stream), and its
resident memory per subscriber (RSS minus before the subscribers connected,
divided by N) once each has one message, and after the stream once each has
acknowledged it (what the allocator kept of the stream's buffers is in
every variant's figure alike; the differences are the compressors).

Usage: compression_cost.py [--binary PATH] [-n SUBSCRIBERS] [-m MESSAGES]
"""

import argparse
import asyncio
import base64
import json
import os
import random
import re
import struct
import sys
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "integration"))
sys.dont_write_bytecode = True
from python_session_test import TIMEOUT, drain, start_server  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
VARIANTS = [
    ("off", []),
    ("on, context takeover", ["server.compression.enabled=true"]),
    ("on, no context takeover", ["server.compression.enabled=true",
                                 "server.compression.context_takeover=false"]),
    ("on, context takeover, window_bits 10", ["server.compression.enabled=true",
                                              "server.compression.window_bits=10"]),
]


def ticks(m, seed=7):
    rnd = random.Random(seed)
    symbols = ["ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI", "STARK", "WAYNE", "WONKA"]
    for i in range(m):
        s = rnd.choice(symbols)
        price = round(rnd.uniform(10, 500), 2)
        yield {"symbol": s, "exchange": "XNAS", "seq": i, "ts": 1765000000000 + i * 37,
               "bid": {"price": price, "size": rnd.randint(1, 900)},
               "ask": {"price": round(price + 0.01 * rnd.randint(1, 9), 2), "size": rnd.randint(1, 900)},
               "last": {"price": price, "size": rnd.randint(1, 500), "side": rnd.choice(["buy", "sell"])},
               "volume": rnd.randint(10_000, 9_000_000), "vwap": round(price * 0.998, 4),
               "flags": rnd.sample(["regular", "odd_lot", "intermarket", "opening", "derivative"], 2)}


class RawSubscriber:
    """A client that offers permessage-deflate and reads frames as sent."""

    def __init__(self):
        self.wire = 0          # bytes of message frames received, headers included
        self.compressed = 0    # frames with RSV1
        self.inflater = zlib.decompressobj(-15)

    async def open(self, port, offer=True, subscribe=True):
        self.r, self.w = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        ext = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if offer else ""
        self.w.write((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Sec-WebSocket-Protocol: wsvisor.v1\r\n{ext}\r\n").encode())
        head = await asyncio.wait_for(self.r.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.extension = re.search(rb"Sec-WebSocket-Extensions: (permessage-deflate[^\r]*)", head, re.I)
        await self.send({"type": "hello"})
        assert (await self.frame())["type"] == "welcome"
        if not subscribe:
            return
        await self.send({"type": "subscribe", "channel": "ticks"})
        assert (await self.frame())["type"] == "subscribed"

    async def send(self, obj):
        payload = json.dumps(obj).encode()
        first = 0x81
        if self.extension:  # as browsers do: every message compressed, on its own
            z = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = (z.compress(payload) + z.flush(zlib.Z_SYNC_FLUSH))[:-4]
            first |= 0x40
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        n = len(payload)
        head = struct.pack("!BB", first, 0x80 | n) if n < 126 else struct.pack("!BBH", first, 0xFE, n)
        self.w.write(head + mask + masked)

    async def frame(self):
        b0, b1 = await asyncio.wait_for(self.r.readexactly(2), TIMEOUT)
        n, extra = b1 & 0x7F, 0
        if n == 126:
            n, extra = struct.unpack("!H", await self.r.readexactly(2))[0], 2
        elif n == 127:
            n, extra = struct.unpack("!Q", await self.r.readexactly(8))[0], 8
        payload = await self.r.readexactly(n)
        self.wire += 2 + extra + n
        if b0 & 0x40:
            self.compressed += 1
            payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
        return json.loads(payload)

    async def messages(self, m):
        out = []
        while len(out) < m:
            f = await self.frame()
            if f["type"] == "message":
                out.append(f["data"])
                seq = f["seq"]
        await self.send({"type": "ack", "seq": seq})
        return out


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024


async def variant(binary, sets, n, m):
    extra = []
    for s in sets + ["limits.connections_per_ip=0", "limits.handshakes_per_second=0",
                     "limits.messages_per_second=0", "session.replay_buffer=100000",
                     "session.replay_buffer_bytes=1GiB"]:
        extra += ["--set", s]
    proc, port = await start_server(binary, extra)
    drainer = asyncio.create_task(drain(proc))
    try:
        publisher = RawSubscriber()
        await publisher.open(port, offer=False, subscribe=False)
        await asyncio.sleep(0.5)
        rss0 = rss_bytes(proc.pid)
        subs = [RawSubscriber() for _ in range(n)]
        for i in range(0, n, 50):
            await asyncio.gather(*(s.open(port) for s in subs[i:i + 50]))
        stream = list(ticks(m + 1))
        first, stream = stream[0], stream[1:]
        await publisher.send({"type": "publish", "channel": "ticks", "data": first, "cseq": 1})
        assert all(g == [first] for g in await asyncio.gather(*(s.messages(1) for s in subs)))
        await asyncio.sleep(0.5)
        rss_one = rss_bytes(proc.pid) - rss0
        for s in subs:
            s.wire = s.compressed = 0
        cpu0 = cpu_seconds(proc.pid)
        readers = [asyncio.create_task(s.messages(m)) for s in subs]
        for cseq, data in enumerate(stream, 2):
            await publisher.send({"type": "publish", "channel": "ticks", "data": data, "cseq": cseq})
            if cseq % 50 == 0:
                await publisher.w.drain()
        got = await asyncio.gather(*readers)
        cpu = cpu_seconds(proc.pid) - cpu0
        await asyncio.sleep(0.5)
        rss = rss_bytes(proc.pid) - rss0
        assert all(g == stream for g in got), "a subscriber's stream differs from what was published"
        json_bytes = sum(len(json.dumps(d)) for d in stream) / m
        return {"wire": sum(s.wire for s in subs) / (n * m), "json": json_bytes,
                "compressed": sum(s.compressed for s in subs) / (n * m),
                "cpu_us": cpu * 1e6 / (n * m), "rss_one": rss_one / n, "rss": rss / n,
                "extension": (subs[0].extension.group(1).decode() if subs[0].extension else "-")}
    finally:
        proc.kill()
        await proc.wait()
        drainer.cancel()


async def main(args):
    print(f"{args.n} subscribers, {args.m} messages each, {os.path.relpath(args.binary, ROOT)}")
    print("| variant | bytes on the wire per message | compressed | server CPU per delivery | "
          "RSS per subscriber after one message / after the stream | extension answered |")
    print("|---|---|---|---|---|---|")
    for name, sets in VARIANTS:
        r = await variant(args.binary, sets, args.n, args.m)
        print(f"| {name} | {r['wire']:.0f} (data alone {r['json']:.0f}) | {r['compressed']:.0%} | "
              f"{r['cpu_us']:.2f} µs | {r['rss_one']:,.0f} B / {r['rss']:,.0f} B | {r['extension']} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "release", "app", "wsvisor"))
    ap.add_argument("-n", type=int, default=200, help="subscribers")
    ap.add_argument("-m", type=int, default=2000, help="messages")
    asyncio.run(main(ap.parse_args()))
