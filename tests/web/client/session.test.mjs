// WsvisorClient against a real wsvisor: the round trip, resume after drops and
// server-side cuts, reset after expiry, resend of unacknowledged publishes.

import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { closeClients, makeClient, recordStates } from "../support/client.mjs";
import { jwt } from "../support/jwt.mjs";
import { TEST_TIMEOUT_MS, collectMessages, eventually, httpJson, nextState, rawConnection, rawSubscriber, useWsvisor } from "../support/wsvisor.mjs";

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

/**
 * A connected client subscribed to `channel` whose first retry waits ~1 s
 * (random() = 0.999 of initialMs): long enough to publish while it is detached.
 */
async function slowRetryingSubscriber(url, channel) {
  const client = makeClient(url, { backoff: { initialMs: 1000, maxMs: 1000 }, random: () => 0.999 });
  const states = recordStates(client);
  await nextState(client, "connected");
  await client.subscribe(channel);
  return { client, states };
}

describe("WsvisorClient with a real wsvisor", () => {
  const server = useWsvisor({ config: '[session]\nresume_window = "30s"\n' });
  const raws = [];
  afterEach(() => {
    closeClients();
    for (const r of raws.splice(0)) r.close();
  });

  test("connects with hello, subscribes, publishes with an ack and receives other clients' messages", { timeout: TEST_TIMEOUT_MS }, async () => {
    const client = makeClient(server.url);
    const connected = await nextState(client, "connected");
    assert.match(connected.sessionId, /.+/);
    assert.equal(client.sessionId, connected.sessionId);
    await client.subscribe("room");

    const raw = await rawSubscriber(server.url, "room");
    raws.push(raw);
    const two = collectMessages(client, 2);
    raw.send({ type: "publish", channel: "room", data: { n: 1 }, cseq: 1 });
    raw.send({ type: "publish", channel: "room", data: "two", cseq: 2 });
    assert.deepEqual((await two).map((m) => [m.seq, m.channel, m.data]), [[1, "room", { n: 1 }], [2, "room", "two"]]);

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

  test("drop() while another client publishes: the resume delivers exactly the missed messages, in order, once", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { client, states } = await slowRetryingSubscriber(server.url, "feed");
    const publisher = await rawConnection(server.url);
    raws.push(publisher);
    await publisher.hello();
    const five = collectMessages(client, 5);
    await rawPublish(publisher, "feed", [0, 1, 2, 3, 4].map((i) => ({ i })));
    assert.deepEqual((await five).map((m) => m.seq), [1, 2, 3, 4, 5]);
    const id = client.sessionId;

    const received = [];
    client.on("message", (m) => received.push(m));
    const resumed = nextState(client, "resumed", { timeoutMs: 5000 });
    client.drop();
    assert.equal(client.state, "connecting");
    const N = 40;
    await rawPublish(publisher, "feed", Array.from({ length: N }, (_, k) => ({ i: 5 + k })), 6);
    const publishedAt = performance.now();
    const r = await resumed;
    assert.equal(r.sessionId, id);
    const resumedAt = states.find((e) => e.state === "resumed").at;
    assert.ok(publishedAt < resumedAt, "the publishes were all accepted while the client was detached");
    if (r.replay !== undefined) assert.equal(r.replay, N);

    await eventually(() => received.length >= N, { what: `${N} replayed messages` });
    // One more live message proves nothing else (no duplicate) was queued behind the replay.
    await rawPublish(publisher, "feed", [{ i: "live" }], 6 + N);
    await eventually(() => received.length >= N + 1, { what: "the live message" });
    assert.deepEqual(received.map((m) => m.seq), Array.from({ length: N + 1 }, (_, k) => 6 + k));
    assert.deepEqual(received.slice(0, N).map((m) => m.data.i), Array.from({ length: N }, (_, k) => 5 + k));
    assert.equal(received[N].data.i, "live");
    assert.equal(client.lastSeq, 6 + N);
    assert.equal(client.stats.drops, 1);
    assert.equal(client.stats.resumes, 1);
    assert.equal(client.stats.resets, 0);
  });

  test("a server-side cut (POST /api/sessions/ID/disconnect) is resumed with the messages sent meanwhile", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { client, states } = await slowRetryingSubscriber(server.url, "ops");
    const id = client.sessionId;
    const cut = nextState(client, "connecting", { filter: (e) => /4411/.test(e.reason ?? "") });
    const res = await httpJson(server.httpUrl, `/api/sessions/${id}/disconnect`, { method: "POST" });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await cut;
    const publisher = await rawConnection(server.url);
    raws.push(publisher);
    await publisher.hello();
    const got = collectMessages(client, 3);
    await rawPublish(publisher, "ops", ["a", "b", "c"]);
    const publishedAt = performance.now();
    assert.deepEqual((await got).map((m) => [m.seq, m.data]), [[1, "a"], [2, "b"], [3, "c"]]);
    const resumed = states.filter((e) => e.state === "resumed");
    assert.deepEqual(resumed.map((e) => e.sessionId), [id]);
    assert.ok(publishedAt < resumed[0].at, "the messages were published while the session was detached");
    assert.equal(client.sessionId, id);
    assert.equal(client.stats.resumes, 1);
  });

  test("publishes in flight when the connection drops are resent after the resume, acked and delivered once", { timeout: TEST_TIMEOUT_MS }, async () => {
    const client = makeClient(server.url);
    await nextState(client, "connected");
    const listener = await rawSubscriber(server.url, "orders");
    raws.push(listener);
    const acks = [1, 2, 3, 4, 5].map((n) => client.publish("orders", { n }));
    client.drop(); // some of them may have left, none has been acked yet
    assert.equal(client.pendingPublishes, 5);
    const later = client.publish("orders", { n: 6 }); // queued while disconnected
    assert.deepEqual(await Promise.all([...acks, later]), [1, 2, 3, 4, 5, 6]);
    assert.equal(client.stats.resumes, 1);
    assert.equal(client.lastCseq, 6);
    const marker = client.publish("orders", { n: "end" });
    const seen = await rawMessages(listener, 7);
    await marker;
    assert.deepEqual(seen.map((m) => m.data.n), [1, 2, 3, 4, 5, 6, "end"]);
    assert.equal(client.stats.acked, 7);
  });

  test("close() sends bye: the session ends at once instead of waiting for its resume window", { timeout: TEST_TIMEOUT_MS }, async () => {
    const client = makeClient(server.url);
    await nextState(client, "connected");
    const id = client.sessionId;
    assert.equal((await httpJson(server.httpUrl, `/api/sessions/${id}`)).status, 200);
    const closed = nextState(client, "closed");
    client.close();
    assert.equal((await closed).state, "closed");
    await eventually(async () => (await httpJson(server.httpUrl, `/api/sessions/${id}`)).status === 404, {
      what: "the session to be gone",
    });
    await assert.rejects(client.publish("x", 1), { code: "closed" });
  });
});

describe("WsvisorClient when its session expired", () => {
  const server = useWsvisor({ config: '[session]\nresume_window = "200ms"\n' });
  afterEach(() => closeClients());

  test("a resume after the resume window resets with reason expired, restores subscriptions and still delivers publishes", { timeout: TEST_TIMEOUT_MS }, async () => {
    const client = makeClient(server.url);
    await nextState(client, "connected");
    await client.subscribe("news");
    const oldId = client.sessionId;
    const listener = await rawSubscriber(server.url, "news");
    const own = collectMessages(client, 1);
    client.suspend(600); // well past the 200 ms window
    assert.equal(client.state, "offline");
    const queued = client.publish("news", "after the reset");
    const reset = await nextState(client, "reset", { timeoutMs: 5000 });
    assert.equal(reset.reason, "expired");
    assert.notEqual(reset.sessionId, oldId);
    assert.equal(await queued, 1, "renumbered from 1 in the new session");
    const [m] = await rawMessages(listener, 1);
    assert.equal(m.data, "after the reset");
    // The client re-subscribed, so its own publish reaches it as seq 1 of the new session.
    assert.deepEqual((await own).map((x) => [x.seq, x.data]), [[1, "after the reset"]]);
    assert.equal(client.stats.resets, 1);
    listener.close();
  });
});

describe("WsvisorClient on a node with [auth] when its session expired", () => {
  const secret = "client-test-secret-of-32-bytes-or-more";
  const server = useWsvisor({ config: `[auth]\nsecret = "${secret}"\n[session]\nresume_window = "200ms"\n` });
  afterEach(() => closeClients());

  test("sends its auth with the resume, so that the failed resume starts a new session instead of ending the client", { timeout: TEST_TIMEOUT_MS }, async () => {
    const auth = jwt(secret, { sub: "ada", channels: ["news"], exp: Math.floor(Date.now() / 1000) + 600 });
    const client = makeClient(server.url, { auth });
    await nextState(client, "connected");
    await client.subscribe("news");
    client.suspend(600); // well past the 200 ms window
    const reset = await nextState(client, "reset", { timeoutMs: 5000 });
    assert.equal(reset.reason, "expired");
    const own = collectMessages(client, 1);
    await client.publish("news", "still allowed");
    assert.deepEqual((await own).map((m) => m.data), ["still allowed"]);
    assert.equal(client.state, "reset");
  });
});

describe("WsvisorClient's subscriptions with a real wsvisor", () => {
  const server = useWsvisor({ config: "[limits]\nsubscriptions_per_session = 2\n" });
  afterEach(() => closeClients());

  test("a subscribe the server refuses rejects with its code; unsubscribe stops the messages of a channel", { timeout: TEST_TIMEOUT_MS }, async () => {
    const client = makeClient(server.url);
    await Promise.all([client.subscribe("a"), client.subscribe("b")]);
    await assert.rejects(client.subscribe("c"), { name: "WsvisorError", code: "too_many_subscriptions" });
    await assert.rejects(client.subscribe("no spaces"), { code: "bad_channel" });
    await client.unsubscribe("a");
    await client.subscribe("c"); // room again after the unsubscribe
    const got = collectMessages(client, 1);
    await client.publish("a", "not for us");
    await client.publish("c", "for us");
    assert.deepEqual((await got).map((m) => [m.seq, m.channel, m.data]), [[1, "c", "for us"]]);
  });
});
