// wsvisor.v1.msgpack in Debian's chromium: the page loads the client wsvisor
// serves (/client.js) and runs two clients on one channel, one with
// format: "msgpack" and one with JSON. Binary data published by the first
// reaches both as the same bytes (the JSON one through data_msgpack, which
// the client decodes), and JSON data reaches the MessagePack one; the
// MessagePack client's socket really negotiated wsvisor.v1.msgpack and
// received binary frames.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startWsvisor } from "../support/wsvisor.mjs";
import { launchChromium, newPage } from "../support/browser.mjs";

/** In the page: the two clients' exchange; what each received, as plain values. */
async function exchangeInPage({ url }) {
  const { WsvisorClient } = await import("/client.js");
  // Watch the sockets the clients open: their subprotocol and frame kinds.
  const sockets = [];
  class Watched extends WebSocket {
    constructor(...args) {
      super(...args);
      const info = { binary: 0, text: 0, protocol: "" };
      sockets.push(info);
      this.addEventListener("open", () => (info.protocol = this.protocol));
      this.addEventListener("message", (e) => (typeof e.data === "string" ? info.text++ : info.binary++));
    }
  }
  const mp = new WsvisorClient(url, { format: "msgpack", WebSocket: Watched });
  const js = new WsvisorClient(url, { WebSocket: Watched });
  const received = (client, n) =>
    new Promise((resolve) => {
      const got = [];
      client.on("message", (m) => {
        got.push(m.data);
        if (got.length === n) resolve(got);
      });
    });
  const ready = (client) => new Promise((resolve) => client.on("state", (e) => e.state === "connected" && resolve()));
  const both = [ready(mp), ready(js)];
  mp.connect();
  js.connect();
  await Promise.all(both);
  await Promise.all([mp.subscribe("bin"), js.subscribe("bin")]);
  const mpGot = received(mp, 2);
  const jsGot = received(js, 2);
  await mp.publish("bin", { png: new Uint8Array([137, 80, 78, 71]), n: 1 });
  await js.publish("bin", { text: "from json", n: 2 });
  const [m, j] = await Promise.all([mpGot, jsGot]);
  mp.close();
  js.close();
  const bytes = (d) => (d?.png instanceof Uint8Array ? Array.from(d.png) : null);
  return {
    mpBytes: bytes(m[0]),
    jsBytes: bytes(j[0]),
    mpJson: m[1],
    jsJson: j[1],
    sockets,
  };
}

describe("wsvisor.v1.msgpack with chromium", () => {
  let browser;
  let node;
  before(async () => {
    browser = await launchChromium();
    node = await startWsvisor();
  });
  after(async () => {
    await browser?.close();
    await node?.stop();
  });

  test("binary data crosses between a MessagePack client and a JSON one in the page", async () => {
    const { context, page } = await newPage(browser);
    await page.goto(`${node.httpUrl}/`);
    const r = await page.evaluate(exchangeInPage, { url: node.url });
    assert.deepEqual(page.problems, []);
    await context.close();
    assert.deepEqual(r.mpBytes, [137, 80, 78, 71]);
    assert.deepEqual(r.jsBytes, [137, 80, 78, 71]);
    assert.deepEqual(r.mpJson, { text: "from json", n: 2 });
    assert.deepEqual(r.jsJson, { text: "from json", n: 2 });
    const [mpSocket, jsSocket] = r.sockets;
    assert.equal(mpSocket.protocol, "wsvisor.v1.msgpack");
    assert.ok(mpSocket.binary > 0 && mpSocket.text === 0, JSON.stringify(mpSocket));
    assert.equal(jsSocket.protocol, "wsvisor.v1");
    assert.ok(jsSocket.text > 0 && jsSocket.binary === 0, JSON.stringify(jsSocket));
  });
});
