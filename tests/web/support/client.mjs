// Makes WsvisorClient instances for Node tests (npm `ws` as the WebSocket) and
// closes them after each test.

import WebSocket from "ws";
import { WsvisorClient } from "../../../web/client/wsvisor-client.js";

export { WsvisorClient };

/** Clients made by `makeClient`, closed by `closeClients`. */
const made = new Set();

/** A client with npm ws and a short default backoff, connect()ed unless `connect: false`. */
export function makeClient(url, { connect = true, ...options } = {}) {
  const client = new WsvisorClient(url, {
    WebSocket,
    backoff: { initialMs: 50, maxMs: 500 },
    environment: { window: null, document: null },
    ...options,
  });
  made.add(client);
  if (connect) client.connect();
  return client;
}

/** Closes every client made since the last call (use in afterEach). */
export function closeClients() {
  for (const c of made) c.close();
  made.clear();
}

/** Records every `state` event of a client with its time: `{state, at, ...}`. */
export function recordStates(client) {
  const states = [];
  client.on("state", (e) => states.push({ ...e, at: performance.now() }));
  return states;
}
