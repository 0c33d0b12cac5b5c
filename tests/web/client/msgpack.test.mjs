// WsvisorClient's format: "msgpack" (wsvisor.v1.msgpack) against a real
// wsvisor, and its own MessagePack codec: binary data crosses between a
// MessagePack client and a JSON one (which decodes `data_msgpack` for its
// listeners), JSON data reaches the MessagePack client, a saved session with
// binary publishes resumes, and the codec agrees with the format's spec bytes.

import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { MsgpackExt, decodeMsgpack, encodeMsgpack } from "../../../web/client/wsvisor-client.js";
import { closeClients, makeClient } from "../support/client.mjs";
import WebSocket from "ws";
import { TEST_TIMEOUT_MS, collectMessages, eventually, nextState, useWsvisor } from "../support/wsvisor.mjs";

const server = useWsvisor();

afterEach(() => closeClients());

test("binary data crosses between a MessagePack client and a JSON one, both ways", { timeout: TEST_TIMEOUT_MS }, async () => {
  const mp = makeClient(server.url, { format: "msgpack" });
  const js = makeClient(server.url);
  await Promise.all([nextState(mp, "connected"), nextState(js, "connected")]);
  await Promise.all([mp.subscribe("bin"), js.subscribe("bin")]);
  const blob = { img: new Uint8Array([0, 1, 255]), n: 1, big: 2n ** 60n, ext: new MsgpackExt(7, new Uint8Array([9])) };
  const mpGot = collectMessages(mp, 2);
  const jsGot = collectMessages(js, 2);
  assert.equal(await mp.publish("bin", blob), 1);
  assert.equal(await js.publish("bin", { from: "json", list: [1, 2.5, null] }), 1);
  const [m1, m2] = await mpGot;
  const [j1, j2] = await jsGot;
  // The MessagePack client gets the data as published; the JSON client gets
  // it through data_msgpack, which the client decodes for its listeners.
  assert.deepEqual(m1.data, blob);
  assert.deepEqual(j1.data, blob);
  assert.deepEqual(m2.data, { from: "json", list: [1, 2.5, null] });
  assert.deepEqual(j2.data, { from: "json", list: [1, 2.5, null] });
});

test("the MessagePack client's frames are binary, on wsvisor.v1.msgpack", { timeout: TEST_TIMEOUT_MS }, async () => {
  // A raw connection offering both gets MessagePack: the first offered.
  const ws = new WebSocket(server.url, ["wsvisor.v1.msgpack", "wsvisor.v1"]);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  assert.equal(ws.protocol, "wsvisor.v1.msgpack");
  const frame = new Promise((resolve) => ws.once("message", (data, isBinary) => resolve({ data, isBinary })));
  ws.send(encodeMsgpack({ type: "hello" }));
  const { data, isBinary } = await frame;
  assert.equal(isBinary, true);
  const welcome = decodeMsgpack(data);
  assert.equal(welcome.type, "welcome");
  assert.equal(welcome.resumed, false);
  ws.terminate();
});

test("a saved MessagePack session resumes and sends the binary publish the last page could not", { timeout: TEST_TIMEOUT_MS }, async () => {
  const map = new Map();
  const storage = { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => map.set(k, String(v)), removeItem: (k) => map.delete(k) };
  const first = makeClient(server.url, { format: "msgpack", persist: "session", storage });
  await nextState(first, "connected");
  await first.subscribe("keep");
  first.suspend(60000);
  first.publish("keep", { raw: new Uint8Array([4, 2]) }).catch(() => {});
  const key = `wsvisor:${server.url}`;
  await eventually(() => JSON.parse(map.get(key) ?? "{}").pending?.length === 1, { what: "the unsent publish saved" });
  assert.equal(typeof JSON.parse(map.get(key)).pending[0].data_msgpack, "string");
  const saved = new Map(map);
  first.close();
  const second = makeClient(server.url, {
    format: "msgpack",
    persist: "session",
    storage: { getItem: (k) => saved.get(k) ?? null, setItem: (k, v) => saved.set(k, String(v)), removeItem: (k) => saved.delete(k) },
  });
  const got = collectMessages(second, 1);
  await nextState(second, "resumed");
  const [m] = await got;
  assert.deepEqual(m.data, { raw: new Uint8Array([4, 2]) });
});

test("the codec writes the spec's forms and reads what it writes", () => {
  const hex = (v) => Buffer.from(encodeMsgpack(v)).toString("hex");
  assert.equal(hex(null), "c0");
  assert.equal(hex(true), "c3");
  assert.equal(hex(127), "7f");
  assert.equal(hex(128), "cc80");
  assert.equal(hex(-32), "e0");
  assert.equal(hex(-33), "d0df");
  assert.equal(hex(65536), "ce00010000");
  assert.equal(hex(2 ** 32), "cf0000000100000000");
  assert.equal(hex(1.5), "cb3ff8000000000000");
  assert.equal(hex("a"), "a161");
  assert.equal(hex("x".repeat(32)), "d920" + "78".repeat(32));
  assert.equal(hex(new Uint8Array([1])), "c40101");
  assert.equal(hex([1, 2]), "920102");
  assert.equal(hex({ a: 1, u: undefined }), "81a16101");
  assert.equal(hex(new MsgpackExt(-1, new Uint8Array(4))), "d6ff00000000");
  for (const v of [0, -1, 255, -129, 65535, -32769, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 - 1, 0.1, "é€😀", "", [], {}, [[[]]],
    { nested: { deep: [1, { x: "y" }] } }, new Uint8Array(70000), "s".repeat(70000), 2n ** 63n, -(2n ** 63n)]) {
    assert.deepEqual(decodeMsgpack(encodeMsgpack(v)), v);
  }
  assert.deepEqual(decodeMsgpack(encodeMsgpack(new Map([[1, "one"]]))), new Map([[1, "one"]]));
  assert.throws(() => decodeMsgpack(new Uint8Array([0x92, 0x01])), /truncated/);
  assert.throws(() => decodeMsgpack(new Uint8Array([0x01, 0x02])), /bytes after/);
  assert.throws(() => decodeMsgpack(new Uint8Array([0xc1])), /not a MessagePack type/);
  assert.throws(() => encodeMsgpack(() => 1), TypeError);
});
