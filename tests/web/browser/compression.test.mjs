// permessage-deflate ([server.compression], docs/configuration.md) with
// Debian's chromium, whose WebSocket offers it by default, compresses what it
// sends once negotiated and inflates what it receives: the page's socket
// reports the negotiated extension (`WebSocket.extensions`), and large
// messages cross both ways intact, in order, with and without context
// takeover; a node with compression off answers no extension.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startWsvisor } from "../support/wsvisor.mjs";
import { launchChromium, newPage } from "../support/browser.mjs";

/**
 * In the page: one socket says hello and subscribes, sends `count` publishes
 * of growing JSON to its own channel and collects what comes back. Returns
 * the negotiated extensions and, per message, whether it matched.
 */
function exchangeInPage({ url, count }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, "wsvisor.v1");
    const sent = [];
    const got = [];
    const send = (frame) => ws.send(JSON.stringify(frame));
    const row = (i) => ({ symbol: "ACME", price: 100 + i / 4 });
    const data = (n) => ({ n, rows: Array.from({ length: n * n }, (_, i) => row(i)) });
    ws.onerror = () => reject(new Error("socket error"));
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "welcome") send({ type: "subscribe", channel: "ticks" });
      if (frame.type === "subscribed") {
        for (let n = 1; n <= count; n++) {
          sent.push(data(n));
          send({ type: "publish", channel: "ticks", cseq: n, data: data(n) });
        }
      }
      if (frame.type === "message") {
        const same = JSON.stringify(frame.data) === JSON.stringify(sent[frame.seq - 1]);
        got.push(same && frame.seq === got.length + 1);
        if (got.length === count) {
          ws.close(1000);
          resolve({ extensions: ws.extensions, got });
        }
      }
    };
    ws.onopen = () => send({ type: "hello" });
  });
}

describe("permessage-deflate with chromium", () => {
  let browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  async function exchange(config, count = 20) {
    const node = await startWsvisor({ config });
    try {
      const { context, page } = await newPage(browser);
      // The page stays about:blank: the socket is all it needs.
      const result = await page.evaluate(exchangeInPage, { url: node.url, count });
      assert.deepEqual(page.problems, []);
      await context.close();
      assert.equal(result.got.length, count);
      assert.ok(result.got.every(Boolean), `every message intact and in order: ${result.got}`);
      return result.extensions;
    } finally {
      await node.stop();
    }
  }

  test("negotiated with context takeover when enabled", async () => {
    const ext = await exchange("[server.compression]\nenabled = true\n");
    assert.match(ext, /^permessage-deflate/);
    assert.doesNotMatch(ext, /no_context_takeover/);
  });

  test("without context takeover every message stands alone, both ways", async () => {
    const ext = await exchange(
      "[server.compression]\nenabled = true\ncontext_takeover = false\nthreshold = 0\n",
    );
    assert.match(ext, /server_no_context_takeover/);
    assert.match(ext, /client_no_context_takeover/);
  });

  test("not negotiated when disabled (the default)", async () => {
    const ext = await exchange("", 5);
    assert.equal(ext, "");
  });
});
