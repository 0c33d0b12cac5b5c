// WsvisorClient's presence (protocol.md, "Presence"): subscribe with
// { presence: true }, presence(channel) and the `presence` event, against a
// real wsvisor; presence events share the session's seq with messages, so the
// client must deliver, acknowledge, persist and resume them exactly as it does
// messages. A scripted fake server checks the order in which the client sends
// its queries (after the subscribes a reset renews) and what happens to a query
// whose connection is lost.

import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { closeClients, makeClient, recordStates } from "../support/client.mjs";
import { startFakeServer, welcome } from "../support/fake-server.mjs";
import { TEST_TIMEOUT_MS, eventually, httpJson, nextEvent, nextState, rawConnection, useWsvisor } from "../support/wsvisor.mjs";

const HEX24 = /^[0-9a-f]{24}$/;

/** Every `message` and `presence` event of `client`, in the order it emitted them: [{kind, ...payload}]. */
function recordNumbered(client) {
  const got = [];
  client.on("message", (m) => got.push({ kind: "message", ...m }));
  client.on("presence", (e) => got.push({ kind: "presence", ...e }));
  return got;
}

/** The next `presence` event of `client` with state `state` (about `member`, when given). */
function nextPresence(client, state, member) {
  return nextEvent((fn) => client.on("presence", fn), {
    filter: (e) => e.state === state && (member === undefined || e.member === member),
    what: `presence ${state}${member ? ` of ${member}` : ""}`,
  });
}

/** A connected client, subscribed to `channel` as a member. */
async function joinAsMember(url, channel, options = {}) {
  const client = makeClient(url, options);
  await nextState(client, "connected");
  await client.subscribe(channel, { presence: true });
  return client;
}

/** Members sorted by id, for comparing lists. */
const byMember = (members) => [...members].sort((x, y) => x.member.localeCompare(y.member));

/** The session as the server's admin API shows it. */
async function sessionOf(server, client) {
  const res = await httpJson(server.httpUrl, `/api/sessions/${client.sessionId}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

describe("presence with a real wsvisor", () => {
  const server = useWsvisor({ config: '[session]\nresume_window = "30s"\n' });
  const raws = [];
  afterEach(() => {
    closeClients();
    for (const r of raws.splice(0)) r.close();
  });

  test("a member sees another join, drop (away), come back (online) and leave (gone), each numbered in its seq, and the next message gets the next seq", { timeout: TEST_TIMEOUT_MS }, async () => {
    const a = await joinAsMember(server.url, "room");
    const statesA = recordStates(a);
    const gotA = recordNumbered(a);
    const [self] = await a.presence("room");
    assert.equal(self.state, "online");
    assert.match(self.member, HEX24);
    assert.equal(self.subject, null);

    const online = nextPresence(a, "online");
    // b's reconnect waits for a visibilitychange (its backoff is a minute): it
    // stays away, without timers, until the test lets it come back.
    const document = new EventTarget();
    document.visibilityState = "visible";
    const b = makeClient(server.url, { environment: { window: null, document }, backoff: { initialMs: 60000, maxMs: 60000 }, random: () => 0.999 });
    const gotB = recordNumbered(b);
    await b.subscribe("room", { presence: true });
    const joined = await online;
    assert.match(joined.member, HEX24);
    assert.notEqual(joined.member, self.member);
    assert.deepEqual(joined, { seq: 1, channel: "room", member: joined.member, subject: null, state: "online" });
    assert.equal(a.lastSeq, 1);

    // Both list both; the query works from either side.
    const expected = byMember([
      { member: self.member, subject: null, state: "online" },
      { member: joined.member, subject: null, state: "online" },
    ]);
    assert.deepEqual(byMember(await a.presence("room")), expected);
    assert.deepEqual(byMember(await b.presence("room")), expected);

    // b's connection is cut: away while its session waits, online once it resumes.
    const away = nextPresence(a, "away", joined.member);
    const back = nextPresence(a, "online", joined.member);
    const resumed = nextState(b, "resumed");
    b.drop();
    assert.equal((await away).seq, 2);
    assert.deepEqual(
      (await a.presence("room")).find((m) => m.member === joined.member),
      { member: joined.member, subject: null, state: "away" },
      "the list says away too while b is detached",
    );
    document.dispatchEvent(new Event("visibilitychange"));
    await resumed;
    assert.equal((await back).seq, 3);

    // b leaves: gone, and it is no longer listed.
    const gone = nextPresence(a, "gone", joined.member);
    await b.unsubscribe("room");
    assert.equal((await gone).seq, 4);
    assert.deepEqual(await a.presence("room"), [{ member: self.member, subject: null, state: "online" }]);

    // A message after the events is the next seq, delivered: no gap, no resume.
    const message = nextEvent((fn) => a.on("message", fn), { what: "the message after the events" });
    await b.publish("room", { after: "events" });
    assert.deepEqual(await message, { seq: 5, channel: "room", data: { after: "events" } });
    assert.deepEqual(
      gotA.map((e) => [e.seq, e.kind, e.state ?? e.data]),
      [[1, "presence", "online"], [2, "presence", "away"], [3, "presence", "online"], [4, "presence", "gone"], [5, "message", { after: "events" }]],
    );
    assert.equal(a.lastSeq, 5);
    assert.deepEqual(statesA.map((e) => e.state), [], "a never lost its connection (no seq gap, no resume loop)");
    assert.equal(a.stats.presenceEvents, 4);
    assert.equal(a.stats.received, 1);
    assert.equal(a.stats.duplicates, 0);
    assert.deepEqual(gotB, [], "a member gets no event about itself, and b was a member while a never changed");

    // a's acks cover the events: the server's replay buffer drains, and a
    // resume then replays nothing.
    await eventually(async () => (await sessionOf(server, a)).replay.messages === 0, { what: "a's replay buffer to drain (acks)" });
    const again = nextState(a, "resumed");
    a.drop();
    assert.equal((await again).replay, 0);
    assert.equal(a.lastSeq, 5);
  });

  test("events while a member is away are replayed on its resume, once and in seq order with the messages", { timeout: TEST_TIMEOUT_MS }, async () => {
    const window = new EventTarget(); // the client's online/offline events: holds it away without timers
    const a = makeClient(server.url, { environment: { window, document: null } });
    await nextState(a, "connected");
    await a.subscribe("lobby", { presence: true });
    const got = recordNumbered(a);
    window.dispatchEvent(new Event("offline"));
    assert.equal(a.state, "offline");
    await eventually(async () => (await sessionOf(server, a)).state === "detached", { what: "a's session detached" });

    const b = await joinAsMember(server.url, "lobby");
    await b.publish("lobby", "while a was away");
    await b.unsubscribe("lobby");
    await eventually(async () => (await sessionOf(server, a)).seq === 3, { what: "three events buffered for a" });

    const resumed = nextState(a, "resumed");
    window.dispatchEvent(new Event("online"));
    assert.equal((await resumed).replay, 3);
    await eventually(() => got.length >= 3, { what: "the replay" });
    assert.deepEqual(
      got.map((e) => [e.seq, e.kind, e.state ?? e.data]),
      [[1, "presence", "online"], [2, "message", "while a was away"], [3, "presence", "gone"]],
    );
    assert.equal(got[0].member, got[2].member);
    const message = nextEvent((fn) => a.on("message", fn), { what: "a live message" });
    await b.publish("lobby", "live");
    assert.equal((await message).seq, 4);
    assert.equal(a.stats.duplicates, 0);
    assert.equal(a.stats.resumes, 1);
  });

  test("presence() on a channel the session is not subscribed to rejects with not_subscribed; a plain subscriber may ask, but gets no events", { timeout: TEST_TIMEOUT_MS }, async () => {
    const member = await joinAsMember(server.url, "hall");
    const plain = makeClient(server.url);
    await nextState(plain, "connected");
    const events = recordNumbered(plain);
    await plain.subscribe("hall");
    // Answers come in order: the refusal is matched to the first query, the list to the second.
    const [refused, listed] = await Promise.allSettled([plain.presence("nowhere"), plain.presence("hall")]);
    assert.equal(refused.status, "rejected");
    assert.equal(refused.reason.name, "WsvisorError");
    assert.equal(refused.reason.code, "not_subscribed");
    assert.equal(listed.status, "fulfilled");
    assert.equal(listed.value.length, 1, "a plain subscriber is not a member");
    await assert.rejects(plain.presence("no spaces"), { code: "bad_channel" });

    // A member joining and leaving: the plain subscriber hears nothing, and
    // its next message still comes as seq 1.
    const other = await joinAsMember(server.url, "hall");
    await other.unsubscribe("hall");
    await member.publish("hall", "to everyone");
    await eventually(() => events.length >= 1, { what: "the message" });
    assert.deepEqual(events.map((e) => [e.kind, e.seq]), [["message", 1]]);
    assert.equal(plain.state, "connected");
  });

  test("a plain subscription becomes a membership with a later subscribe with presence", { timeout: TEST_TIMEOUT_MS }, async () => {
    const watcher = await joinAsMember(server.url, "stage");
    const client = makeClient(server.url);
    await nextState(client, "connected");
    await client.subscribe("stage");
    assert.equal((await watcher.presence("stage")).length, 1);
    const online = nextPresence(watcher, "online");
    await client.subscribe("stage", { presence: true });
    await online;
    assert.equal((await watcher.presence("stage")).length, 2);
    await client.subscribe("stage"); // a plain subscribe keeps the membership
    assert.equal((await watcher.presence("stage")).length, 2);
  });

  test("format msgpack: a MessagePack member gets the events numbered with its messages and can list the members", { timeout: TEST_TIMEOUT_MS }, async () => {
    const mp = await joinAsMember(server.url, "binary-room", { format: "msgpack" });
    const got = recordNumbered(mp);
    const json = makeClient(server.url);
    const online = nextPresence(mp, "online");
    await json.subscribe("binary-room", { presence: true });
    const joined = await online;
    assert.deepEqual(joined, { seq: 1, channel: "binary-room", member: joined.member, subject: null, state: "online" });
    assert.match(joined.member, HEX24);
    const members = await mp.presence("binary-room");
    assert.equal(members.length, 2);
    assert.ok(members.some((m) => m.member === joined.member && m.state === "online" && m.subject === null));
    const message = nextEvent((fn) => mp.on("message", fn), { what: "the message" });
    await json.publish("binary-room", { bytes: "none" });
    assert.equal((await message).seq, 2);
    assert.deepEqual(got.map((e) => e.kind), ["presence", "message"]);
    assert.equal(mp.lastSeq, 2);
    assert.equal(mp.stats.drops, 0);

    // close() says bye in MessagePack too: the session ends, and the other member sees it gone (not away).
    const own = members.find((m) => m.member !== joined.member).member;
    const left = nextEvent((fn) => json.on("presence", fn), { filter: (e) => e.member === own, what: "the MessagePack member leaving" });
    mp.close();
    assert.equal((await left).state, "gone");
  });

  test("a raw member's events reach the client: away on a cut, online on its resume", { timeout: TEST_TIMEOUT_MS }, async () => {
    const client = await joinAsMember(server.url, "raw-room");
    const raw = await rawConnection(server.url);
    raws.push(raw);
    const w = await raw.hello();
    const online = nextPresence(client, "online");
    raw.send({ type: "subscribe", channel: "raw-room", presence: true });
    await raw.next("subscribed");
    const { member } = await online;
    const away = nextPresence(client, "away", member);
    raw.close();
    await away;
    const back = nextPresence(client, "online", member);
    const again = await rawConnection(server.url);
    raws.push(again);
    again.send({ type: "resume", session: w.session, token: w.token, last_seq: 0 });
    assert.equal((await again.next("welcome")).resumed, true);
    await back;
    assert.equal(client.lastSeq, 3);
  });
});

describe("presence with a member limit", () => {
  const server = useWsvisor({ config: "[limits]\npresence_members = 1\n" });
  afterEach(() => closeClients());

  test("too_many_members rejects the subscribe; no subscription is made, and a plain one held before stays", { timeout: TEST_TIMEOUT_MS }, async () => {
    await joinAsMember(server.url, "full");
    const client = makeClient(server.url);
    await nextState(client, "connected");
    await assert.rejects(client.subscribe("full", { presence: true }), { name: "WsvisorError", code: "too_many_members" });
    await assert.rejects(client.presence("full"), { code: "not_subscribed" }, "no subscription was made");

    await client.subscribe("full");
    await assert.rejects(client.subscribe("full", { presence: true }), { code: "too_many_members" });
    assert.equal((await client.presence("full")).length, 1, "still subscribed, not a member");
    // A plain subscribe made while a refused membership is on its way is still made.
    const other = makeClient(server.url);
    await nextState(other, "connected");
    const [member, plain] = await Promise.allSettled([other.subscribe("full", { presence: true }), other.subscribe("full")]);
    assert.equal(member.status, "rejected");
    assert.equal(member.reason.code, "too_many_members");
    assert.equal(plain.status, "fulfilled");
    assert.equal((await other.presence("full")).length, 1);
    assert.equal(client.state, "connected");
    assert.equal(other.state, "connected");
  });
});

describe("presence across a reset", () => {
  const server = useWsvisor({ config: '[session]\nresume_window = "200ms"\n' });
  afterEach(() => closeClients());

  test("after a reset the client subscribes again with presence: the other members see it gone, then online as a new member", { timeout: TEST_TIMEOUT_MS }, async () => {
    const watcher = await joinAsMember(server.url, "reset-room");
    const online = nextPresence(watcher, "online");
    const client = await joinAsMember(server.url, "reset-room");
    const old = (await online).member;
    const gone = nextPresence(watcher, "gone", old);
    const fresh = nextPresence(watcher, "online");
    // Asked for in the reset's state event: sent after the renewed subscribe.
    const listed = new Promise((resolve, reject) => {
      const off = client.on("state", (e) => {
        if (e.state !== "reset") return;
        off();
        client.presence("reset-room").then(resolve, reject);
      });
    });
    client.suspend(600); // well past the 200 ms window
    const reset = await nextState(client, "reset", { timeoutMs: 5000 });
    assert.equal(reset.reason, "expired");
    await gone;
    const renewed = (await fresh).member;
    assert.notEqual(renewed, old, "a new session is a new member");
    const members = (await listed).map((m) => m.member).sort();
    assert.equal(members.length, 2);
    assert.ok(members.includes(renewed) && !members.includes(old));
    assert.deepEqual(members, (await watcher.presence("reset-room")).map((m) => m.member).sort());
  });

  test("a saved session (persist: \"session\") keeps its memberships: when its resume fails, the new session joins again", { timeout: TEST_TIMEOUT_MS }, async () => {
    const map = new Map();
    const storage = { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => map.set(k, String(v)), removeItem: (k) => map.delete(k) };
    const first = makeClient(server.url, { persist: "session", storage });
    await nextState(first, "connected");
    await first.subscribe("saved-room", { presence: true });
    await first.subscribe("saved-plain");
    const key = `wsvisor:${server.url}`;
    await eventually(() => JSON.parse(map.get(key) ?? "{}").presence?.length === 1, { what: "the membership saved" });
    const saved = JSON.parse(map.get(key));
    assert.deepEqual(saved.channels.sort(), ["saved-plain", "saved-room"]);
    assert.deepEqual(saved.presence, ["saved-room"]);
    first.suspend(60000);
    const id = first.sessionId;
    await eventually(async () => (await httpJson(server.httpUrl, `/api/sessions/${id}`)).status === 404, { what: "the saved session expired" });
    const copy = new Map(map);
    first.close();

    const watcher = await joinAsMember(server.url, "saved-room");
    const online = nextPresence(watcher, "online");
    const second = makeClient(server.url, {
      persist: "session",
      storage: { getItem: (k) => copy.get(k) ?? null, setItem: (k, v) => copy.set(k, String(v)), removeItem: (k) => copy.delete(k) },
    });
    assert.equal((await nextState(second, "reset")).reason, "expired");
    await online;
    assert.equal((await second.presence("saved-room")).length, 2);
    assert.deepEqual(await second.presence("saved-plain"), [], "saved-plain subscribed again, without presence");
  });
});

describe("presence queries against a scripted server", () => {
  const cleanups = [];
  afterEach(async () => {
    closeClients();
    for (const c of cleanups.splice(0)) await c();
  });

  /** A fake server that welcomes, answers subscribes, and leaves presence queries to `onPresence`. */
  async function fake(onPresence = () => {}) {
    const server = await startFakeServer((conn, f) => {
      if (f.type === "hello") conn.send(welcome());
      if (f.type === "resume") conn.send(welcome({ resumed: true }));
      if (f.type === "subscribe") conn.send({ type: "subscribed", channel: f.channel });
      if (f.type === "presence") onPresence(conn, f);
    });
    cleanups.push(() => server.close());
    return server;
  }

  test("queries made before the welcome are sent after the subscribes, one per channel; the answer resolves them all", { timeout: TEST_TIMEOUT_MS }, async () => {
    const members = [{ member: "0123456789abcdef01234567", subject: "ada", state: "away" }];
    const server = await fake((conn, f) => conn.send({ type: "presence", channel: f.channel, members }));
    const client = makeClient(server.url, { connect: false });
    const subscribed = client.subscribe("room", { presence: true });
    const asked = [client.presence("room"), client.presence("room")];
    client.connect();
    await subscribed;
    assert.deepEqual(await Promise.all(asked), [members, members]);
    const conn = server.connections[0];
    assert.deepEqual(conn.frames, [
      { type: "hello" },
      { type: "subscribe", channel: "room", presence: true },
      { type: "presence", channel: "room" },
    ]);
  });

  test("a query whose connection is lost rejects with disconnected; close() rejects with closed", { timeout: TEST_TIMEOUT_MS }, async () => {
    const server = await fake(); // never answers a query
    const client = makeClient(server.url, { backoff: { initialMs: 60000, maxMs: 60000 } });
    await nextState(client, "connected");
    await client.subscribe("room");
    const lost = client.presence("room");
    await eventually(() => server.connections[0].frames.some((f) => f.type === "presence"), { what: "the query sent" });
    client.drop();
    await assert.rejects(lost, { name: "WsvisorError", code: "disconnected" });
    const queued = client.presence("room"); // not connected: waits for the next welcome
    client.close();
    await assert.rejects(queued, { code: "closed" });
    await assert.rejects(client.presence("room"), { code: "closed" });

    const other = makeClient(server.url);
    await nextState(other, "connected");
    await other.subscribe("room");
    const unanswered = other.presence("room");
    other.close();
    await assert.rejects(unanswered, { code: "closed" });
  });

  test("a presence_event out of seq order is handled as a message's would be: a gap resumes, a duplicate is dropped", { timeout: TEST_TIMEOUT_MS }, async () => {
    const event = (seq, state) => ({ type: "presence_event", seq, member: "f31b0a9c2e7d4a6b8c1d2e3f", channel: "c", subject: null, state });
    const server = await startFakeServer((conn, f) => {
      if (f.type === "hello") {
        conn.send(welcome());
        conn.send(event(1, "online"));
        conn.send({ type: "message", seq: 2, channel: "c", data: "m" });
        conn.send(event(1, "online")); // duplicate
        conn.send(event(4, "gone")); // 3 is missing
      }
      if (f.type === "resume") {
        conn.send(welcome({ resumed: true }));
        conn.send(event(3, "away"));
        conn.send(event(4, "gone"));
      }
    });
    cleanups.push(() => server.close());
    const client = makeClient(server.url);
    const got = recordNumbered(client);
    const gap = nextState(client, "connecting", { filter: (e) => /seq gap \(got 4, expected 3\)/.test(e.reason ?? "") });
    await gap;
    await server.nextConnection();
    const resume = await server.nextConnection();
    assert.equal(resume.frames[0].last_seq, 2);
    await eventually(() => got.length >= 4, { what: "four numbered frames" });
    assert.deepEqual(got.map((e) => [e.seq, e.kind, e.state ?? e.data]), [[1, "presence", "online"], [2, "message", "m"], [3, "presence", "away"], [4, "presence", "gone"]]);
    assert.equal(client.stats.duplicates, 1);
    assert.equal(client.stats.presenceEvents, 3);
    await eventually(() => resume.frames.some((f) => f.type === "ack" && f.seq === 4), { what: "the ack of seq 4" });
  });
});
