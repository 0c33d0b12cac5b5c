// WsvisorClient's persist: "session" against a real wsvisor: what a page keeps
// in sessionStorage lets the next page load (a new client on the same storage)
// resume the session, get what was published meanwhile exactly once and send
// the publishes the last load could not; the default keeps nothing.

import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { WsvisorClient, closeClients, makeClient } from "../support/client.mjs";
import { TEST_TIMEOUT_MS, collectMessages, eventually, httpJson, nextState, rawConnection, rawSubscriber, useWsvisor } from "../support/wsvisor.mjs";

const server = useWsvisor();

afterEach(() => closeClients());

/** sessionStorage's interface over a Map. */
function memoryStorage(entries = []) {
  const map = new Map(entries);
  return {
    map,
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => map.set(k, String(v)),
    removeItem: (k) => map.delete(k),
  };
}

test("a new client on the saved storage resumes the session, gets what it missed once and sends what the last one could not", { timeout: TEST_TIMEOUT_MS }, async () => {
  const storage = memoryStorage();
  const first = makeClient(server.url, { persist: "session", storage });
  await nextState(first, "connected");
  await first.subscribe("persist");
  const publisher = await rawConnection(server.url);
  await publisher.hello();
  for (let cseq = 1; cseq <= 2; cseq++) publisher.send({ type: "publish", channel: "persist", data: cseq, cseq });
  const seen = await collectMessages(first, 2);
  assert.deepEqual(seen.map((m) => m.data), [1, 2]);
  await eventually(() => JSON.parse(storage.getItem(`wsvisor:${server.url}`) ?? "{}").lastSeq === 2, { what: "lastSeq 2 saved" });
  const session = first.sessionId;

  // The page goes away: the socket drops (no bye, no reconnect); a publish
  // made meanwhile stays unsent.
  first.suspend(60000);
  const unsent = first.publish("persist", "from the page that left");
  unsent.catch(() => {}); // its page is gone: nobody awaits it
  const key = `wsvisor:${server.url}`;
  await eventually(() => JSON.parse(storage.getItem(key)).pending.length === 1, { what: "the unsent publish saved" });
  const saved = new Map(storage.map); // what the tab kept when the page went
  const watcher = await rawSubscriber(server.url, "persist");
  for (let cseq = 3; cseq <= 4; cseq++) publisher.send({ type: "publish", channel: "persist", data: cseq, cseq });
  await eventually(async () => (await httpJson(server.httpUrl, `/api/sessions/${session}`)).body.state === "detached", {
    what: "the first client's session detached",
  });
  first.close(); // the old page's object, gone with it: forgets its own storage only

  const second = makeClient(server.url, { persist: "session", storage: memoryStorage(saved), connect: false });
  // Listening before it connects: the replay may come in the welcome's read.
  const resumedState = nextState(second, "resumed");
  const messages = collectMessages(second, 3);
  second.connect();
  const resumed = await resumedState;
  assert.equal(resumed.sessionId, session);
  assert.equal(resumed.replay, 2, "messages 3 and 4 replayed");
  const after = await messages;
  assert.deepEqual(
    after.map((m) => m.seq),
    [3, 4, 5],
  );
  assert.deepEqual(after.slice(0, 2).map((m) => m.data), [3, 4]);
  assert.equal(after[2].data, "from the page that left");
  // The resent publish reached the other subscriber exactly once.
  const others = [];
  while (others.length < 3) others.push(await watcher.next("message"));
  assert.equal(others.filter((m) => m.data === "from the page that left").length, 1);
  await eventually(() => second.pendingPublishes === 0, { what: "the resent publish acknowledged" });
  watcher.close();
  publisher.close();
});

test("close() ends the session and forgets it: the next client starts a new one", { timeout: TEST_TIMEOUT_MS }, async () => {
  const storage = memoryStorage();
  const first = makeClient(server.url, { persist: "session", storage });
  await nextState(first, "connected");
  await eventually(() => storage.map.size === 1, { what: "the session saved" });
  first.close();
  assert.equal(storage.map.size, 0);
  const second = makeClient(server.url, { persist: "session", storage });
  const connected = await nextState(second, "connected");
  assert.notEqual(connected.sessionId, first.sessionId);
});

test("unreadable saved state starts a new session; the default persist keeps nothing; a bad persist is a TypeError", { timeout: TEST_TIMEOUT_MS }, async () => {
  const storage = memoryStorage([[`wsvisor:${server.url}`, "{not json"]]);
  const client = makeClient(server.url, { persist: "session", storage });
  await nextState(client, "connected");
  await eventually(() => JSON.parse(storage.getItem(`wsvisor:${server.url}`)).session === client.sessionId, {
    what: "the new session saved over the unreadable one",
  });

  const untouched = memoryStorage();
  const plain = makeClient(server.url, { storage: untouched });
  await nextState(plain, "connected");
  await plain.subscribe("nothing-kept");
  assert.equal(untouched.map.size, 0);

  assert.throws(() => new WsvisorClient(server.url, { persist: "local" }), TypeError);
  assert.throws(() => new WsvisorClient(server.url, { persist: "session", storage: null, WebSocket: class {} }), TypeError);
});
