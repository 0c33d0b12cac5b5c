// WsvisorClient's reconnect decisions: goaway, the heartbeat watchdog, pongs,
// full-jitter backoff, and the browser's online/offline and visibility events.

import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { closeClients, makeClient, recordStates } from "../support/client.mjs";
import { startFakeServer, welcome } from "../support/fake-server.mjs";
import { TEST_TIMEOUT_MS, eventually, nextEvent, nextState, startWsvisor } from "../support/wsvisor.mjs";

const cleanups = [];

// A timer is armed from libuv's loop clock, cached when the loop iteration
// began, and the instant a test reads (after an await) is a little later than
// the one the client armed its timer at: a 300 ms wait can measure 298.x ms
// (CI saw it). What these tests assert is that the client waits its ms rather
// than reconnecting at once or after its 60 s backoff, so a few ms of slack
// cannot hide a failure.
const TIMER_SLACK_MS = 25;
function assertWaited(since, ms, what) {
  const waited = performance.now() - since;
  assert.ok(waited >= ms - TIMER_SLACK_MS, `reconnected after ${waited.toFixed(1)} ms; ${what} is ${ms} ms`);
}
afterEach(async () => {
  closeClients();
  for (const c of cleanups.splice(0)) await c();
});

/** A fake server answering hello and resume with a welcome (resumed when the session matches). */
async function fakeWelcoming(options = {}) {
  const fake = await startFakeServer((conn, f) => {
    if (f.type === "hello") conn.send(welcome(options));
    if (f.type === "resume") conn.send(welcome({ ...options, resumed: f.session === (options.session ?? "fake-session") }));
  });
  cleanups.push(() => fake.close());
  return fake;
}

test("a goaway on SIGTERM is honoured: the client stays offline for retry_ms before it reconnects", { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startWsvisor();
  cleanups.push(() => server.stop());
  const client = makeClient(server.url);
  const states = recordStates(client);
  await nextState(client, "connected");
  const goaway = nextEvent((fn) => client.on("goaway", fn), { what: "goaway" });
  server.kill("SIGTERM");
  const g = await goaway;
  const goawayAt = performance.now();
  assert.equal(g.reason, "shutdown");
  assert.ok(Number.isInteger(g.retryMs) && g.retryMs >= 0, `retryMs ${g.retryMs}`);
  const offline = states.find((e) => e.state === "offline");
  assert.equal(offline.reason, "goaway");
  assert.ok(offline.retryMs >= g.retryMs);
  const again = await nextState(client, "connecting", { timeoutMs: g.retryMs + 5000 });
  assertWaited(goawayAt, g.retryMs, "a goaway's retry_ms");
  assert.equal(again.url, server.url);
});

test("a goaway with a url: the client waits retry_ms, then resumes its session at that url", { timeout: TEST_TIMEOUT_MS }, async () => {
  const second = await fakeWelcoming();
  const first = await startFakeServer((conn, f) => {
    if (f.type !== "hello") return;
    conn.send(welcome());
    conn.send({ type: "goaway", reason: "handover", retry_ms: 400, url: second.url });
  });
  cleanups.push(() => first.close());
  const client = makeClient(first.url);
  const goaway = nextEvent((fn) => client.on("goaway", fn), { what: "goaway" });
  const g = await goaway;
  const goawayAt = performance.now();
  assert.deepEqual(g, { reason: "handover", retryMs: 400, url: second.url });
  const conn = await second.nextConnection(5000);
  assertWaited(goawayAt, 400, "a goaway's retry_ms");
  assert.deepEqual(conn.frames[0], { type: "resume", session: "fake-session", token: "fake-token", last_seq: 0 });
  await nextState(client, "resumed");
  assert.equal(client.url, second.url);
});

test("the heartbeat watchdog: a server silent for heartbeat_ms plus the grace is dropped and the session resumed", { timeout: TEST_TIMEOUT_MS }, async () => {
  const fake = await fakeWelcoming({ heartbeatMs: 200 });
  const client = makeClient(fake.url, { heartbeatGraceMs: 100 });
  await nextState(client, "connected");
  const connectedAt = performance.now();
  const dead = await nextState(client, "connecting", { filter: (e) => /heartbeat_timeout/.test(e.reason ?? "") });
  assertWaited(connectedAt, 300, "heartbeat_ms + grace");
  assert.match(dead.reason, /no frame for 300 ms/);
  await fake.nextConnection(); // the hello
  const resume = await fake.nextConnection();
  assert.equal(resume.frames[0].type, "resume");
  await nextState(client, "resumed");
  assert.equal(client.stats.drops, 1);
});

test("pings are answered with pongs and keep the watchdog quiet: a short server heartbeat never drops the client", { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startWsvisor({
    config: '[session]\nheartbeat_interval = "100ms"\nheartbeat_timeout = "600ms"\n',
  });
  cleanups.push(() => server.stop(500));
  const client = makeClient(server.url, { heartbeatGraceMs: 300 });
  const states = recordStates(client);
  await nextState(client, "connected");
  // An observation window, not a synchronisation: several server timeouts long.
  await new Promise((r) => setTimeout(r, 2000));
  // (recorded from after connect())
  assert.deepEqual(states.map((e) => e.state), ["connected"], JSON.stringify(states));
  assert.equal(client.stats.drops, 0);
});

test("reconnect delays use full jitter: floor(random() × min(maxMs, initialMs × 2^attempt)), never sooner", { timeout: TEST_TIMEOUT_MS }, async () => {
  const fake = await startFakeServer();
  const url = fake.url;
  await fake.close(); // nothing listens there any more: every attempt fails
  const draws = [0.5, 0.999, 0, 0.25, 0.999, 0.75];
  let i = 0;
  const client = makeClient(url, { backoff: { initialMs: 40, maxMs: 200 }, random: () => draws[i++ % draws.length] });
  const retries = [];
  await nextEvent((fn) => client.on("state", (e) => {
    if (e.retryMs !== undefined) retries.push({ ...e, at: performance.now() });
    fn(retries.length);
  }), { filter: (n) => n >= draws.length, timeoutMs: 10000, what: "six retries" });
  const caps = [40, 80, 160, 200, 200, 200];
  assert.deepEqual(retries.map((e) => e.retryMs), caps.map((cap, k) => Math.floor(draws[k] * cap)));
  for (const [k, e] of retries.entries()) {
    assert.ok(e.retryMs >= 0 && e.retryMs <= caps[k]);
    assert.equal(e.attempt, k + 1);
    if (k > 0) assert.ok(e.at - retries[k - 1].at >= retries[k - 1].retryMs - 1, `retry ${k} came early`);
  }
  assert.deepEqual([client.stats.connects, client.stats.drops], [0, 0], "failed attempts are neither connects nor drops");
});

test("the backoff starts again from initialMs after a welcome", { timeout: TEST_TIMEOUT_MS }, async () => {
  const fake = await fakeWelcoming();
  const client = makeClient(fake.url, { backoff: { initialMs: 40, maxMs: 1000 }, random: () => 0.999 });
  await nextState(client, "connected");
  for (let k = 0; k < 3; k++) {
    const retry = nextState(client, "connecting", { filter: (e) => e.retryMs !== undefined });
    client.drop();
    assert.equal((await retry).retryMs, 39, `drop ${k}`);
    await nextState(client, "resumed");
  }
});

test("offline and online events of the environment: drop and stay offline, then reconnect at once and resume", { timeout: TEST_TIMEOUT_MS }, async () => {
  const fake = await fakeWelcoming();
  const window = new EventTarget();
  // A long backoff: only an immediate reconnect resumes within the test's time.
  const client = makeClient(fake.url, { environment: { window, document: null }, backoff: { initialMs: 60000, maxMs: 60000 }, random: () => 0.999 });
  await nextState(client, "connected");
  window.dispatchEvent(new Event("offline"));
  assert.equal(client.state, "offline");
  await eventually(() => fake.connections[0].closed, { what: "the socket to be cut" });
  assert.equal(fake.connections.length, 1, "no reconnect while offline");
  window.dispatchEvent(new Event("online"));
  assert.equal(client.state, "connecting", "reconnects synchronously on online");
  await nextState(client, "resumed");
  assert.equal(fake.connections[1].frames[0].type, "resume");
});

test("visibilitychange to visible while waiting for a backoff reconnects at once", { timeout: TEST_TIMEOUT_MS }, async () => {
  const fake = await fakeWelcoming();
  const document = new EventTarget();
  document.visibilityState = "hidden";
  const client = makeClient(fake.url, { environment: { window: null, document }, backoff: { initialMs: 60000, maxMs: 60000 }, random: () => 0.999 });
  await nextState(client, "connected");
  const retry = nextState(client, "connecting", { filter: (e) => e.retryMs !== undefined });
  client.drop();
  assert.equal((await retry).retryMs, 59940);
  document.dispatchEvent(new Event("visibilitychange")); // still hidden: nothing happens
  assert.equal(fake.connections.length, 1);
  document.visibilityState = "visible";
  document.dispatchEvent(new Event("visibilitychange"));
  await nextState(client, "resumed");
  assert.equal(client.stats.resumes, 1);
});

test("suspend(ms) stays offline for ms, then resumes without backoff", { timeout: TEST_TIMEOUT_MS }, async () => {
  const fake = await fakeWelcoming();
  const client = makeClient(fake.url, { backoff: { initialMs: 60000, maxMs: 60000 }, random: () => 0.999 });
  await nextState(client, "connected");
  const offline = nextState(client, "offline");
  const suspendedAt = performance.now();
  client.suspend(300);
  assert.deepEqual(await offline, { state: "offline", reason: "suspend", retryMs: 300 });
  await nextState(client, "resumed");
  assertWaited(suspendedAt, 300, "suspend(300)");
  assert.equal(fake.connections.length, 2);
});

test("a message at or below lastSeq is dropped as a duplicate; a seq gap resumes from lastSeq", { timeout: TEST_TIMEOUT_MS }, async () => {
  const fake = await startFakeServer((conn, f) => {
    if (f.type === "hello") {
      conn.send(welcome());
      for (const seq of [1, 2, 2, 1, 3, 5]) conn.send({ type: "message", seq, channel: "c", data: seq });
    }
    if (f.type === "resume") {
      conn.send(welcome({ resumed: true }));
      for (const seq of [3, 4, 5]) conn.send({ type: "message", seq, channel: "c", data: seq });
    }
  });
  cleanups.push(() => fake.close());
  const client = makeClient(fake.url);
  const seqs = [];
  client.on("message", (m) => seqs.push(m.seq));
  const gap = nextState(client, "connecting", { filter: (e) => /seq gap/.test(e.reason ?? "") });
  await gap;
  await fake.nextConnection();
  const resume = await fake.nextConnection();
  assert.equal(resume.frames[0].last_seq, 3);
  await eventually(() => seqs.length >= 5, { what: "five messages" });
  assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
  assert.equal(client.stats.duplicates, 3); // 2, 1 on the first connection, 3 replayed again
});

test("close code 4409 (the session was resumed elsewhere) stops the client: closed, no reconnect, publishes rejected", { timeout: TEST_TIMEOUT_MS }, async () => {
  const fake = await startFakeServer((conn, f) => {
    if (f.type === "hello") conn.send(welcome());
    if (f.type === "publish") conn.ws.close(4409, "resumed elsewhere");
  });
  cleanups.push(() => fake.close());
  const client = makeClient(fake.url);
  await nextState(client, "connected");
  const closed = nextState(client, "closed");
  const refused = client.publish("c", 1);
  await assert.rejects(refused, { code: "closed" });
  assert.match((await closed).reason, /resumed elsewhere.*4409/);
  assert.equal(fake.connections.length, 1);
  assert.equal(client.state, "closed");
});

test("unauthorized in answer to hello ends the client: retrying the same auth cannot help", { timeout: TEST_TIMEOUT_MS }, async () => {
  const fake = await startFakeServer((conn, f) => {
    if (f.type === "hello") conn.send({ type: "error", code: "unauthorized", message: "bad token" });
  });
  cleanups.push(() => fake.close());
  const client = makeClient(fake.url, { auth: "not-a-jwt" });
  const errors = [];
  client.on("error", (e) => errors.push(e));
  const closed = await nextState(client, "closed");
  assert.equal(closed.reason, "unauthorized: bad token");
  assert.deepEqual(fake.connections[0].frames, [{ type: "hello", auth: "not-a-jwt" }]);
  assert.deepEqual(errors.map((e) => e.code), ["unauthorized"]);
  assert.equal(fake.connections.length, 1);
});
