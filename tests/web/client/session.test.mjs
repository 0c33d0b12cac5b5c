// WsvisorClient against a real wsvisor: the round trip, resume after drops and
// server-side cuts, reset after expiry, resend of unacknowledged publishes.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { closeClients, makeClient, recordStates } from "../support/client.mjs";
import { collectMessages, eventually, httpJson, nextEvent, nextState, rawConnection, startWsvisor } from "../support/wsvisor.mjs";

/** A raw connection with a session, subscribed to `channel`. */
async function rawSubscriber(url, channel) {
  const raw = await rawConnection(url);
  await raw.hello();
  raw.send({ type: "subscribe", channel });
  await raw.next("subscribed");
  return raw;
}

/** Publishes `values` in order on a raw connection with a session; resolves when all are acked. */
async function rawPublish(raw, channel, values, firstCseq = 1) {
  values.forEach((data, i) => raw.send({ type: "publish", channel, data, cseq: firstCseq + i }));
  for (let i = 0; i < values.length; i++) await raw.next("ack");
}

/** The raw connection's messages until `count` have arrived. */
async function rawMessages(raw, count) {
  const got = [];
  while (got.length < count) got.push(await raw.next("message"));
  return got;
}

describe("WsvisorClient with a real wsvisor", () => {
  let server;
  const raws = [];
  before(async () => {
    server = await startWsvisor({ config: '[session]\nresume_window = "30s"\n' });
  });
  after(() => server.stop());
  afterEach(() => {
    closeClients();
    for (const r of raws.splice(0)) r.close();
  });

  test("connects with hello, subscribes, publishes with an ack and receives other clients' messages", async () => {
    const client = makeClient(server.url);
    const connected = await nextState(client, "connected");
    assert.match(connected.sessionId, /.+/);
    assert.equal(client.sessionId, connected.sessionId);
    await client.subscribe("room");

    const raw = await rawSubscriber(server.url, "room");
    raws.push(raw);
    raw.send({ type: "publish", channel: "room", data: { n: 1 }, cseq: 1 });
    raw.send({ type: "publish", channel: "room", data: "two", cseq: 2 });
    const got = await collectMessages(client, 2);
    assert.deepEqual(got.map((m) => [m.seq, m.channel, m.data]), [[1, "room", { n: 1 }], [2, "room", "two"]]);

    const own = collectMessages(client, 1); // subscribed to "room": its own publish comes back
    const cseq = await client.publish("room", { from: "client" });
    assert.equal(cseq, 1);
    assert.equal(client.lastCseq, 1);
    const seen = await rawMessages(raw, 3); // its own two, then the client's
    assert.deepEqual(seen[2].data, { from: "client" });
    assert.deepEqual((await own).map((m) => [m.seq, m.data]), [[3, { from: "client" }]]);
    assert.equal(client.lastSeq, 3);

    // Acks reach the server: the session's replay buffer drains.
    await eventually(async () => {
      const r = await httpJson(server.httpUrl, `/api/sessions/${client.sessionId}`);
      return r.status === 200 && r.body.replay.messages === 0;
    }, { what: "the replay buffer to drain (client acks)" });
    assert.equal(client.stats.published, 1);
    assert.equal(client.stats.acked, 1);
  });
});
