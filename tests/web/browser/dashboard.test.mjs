// The dashboard (/dashboard) in Debian's chromium against a real wsvisor: it
// draws the node's supervision tree live (an upstream pointed at a dead port
// is restarting, with a countdown), the session and resume charts follow real
// clients, and with [api] token set the page asks for the token first.

import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { rawConnection, startWsvisor } from "../support/wsvisor.mjs";
import { launchChromium, newPage, screenshot } from "../support/browser.mjs";

const WAIT = { timeout: 10000 };
const TOKEN = "dashboard-test-token-0123456789";

/** A loopback port nobody listens on (it was free a moment ago). */
async function deadPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An upstream that can never connect, restarted every 4 s (no jitter). */
async function deadUpstreamConfig() {
  return `
[policies.slow]
backoff_min = "4s"
backoff_max = "4s"
jitter = "none"
max_restarts = 0

[[upstream]]
name = "feed"
url = "ws://127.0.0.1:${await deadPort()}/feed"
channel = "feed"
policy = "slow"
`;
}

/**
 * Cluster nodes run without LeakSanitizer's exit check, as in the C++ cluster
 * suites (tests/support/cluster_nodes.cpp says why): in about one exit in ten
 * of a node that carried cross-node traffic, LSan reports a cycle inside CAF
 * 0.17's BASP broker, and abort_on_error turns exit 0 into SIGABRT.
 */
const clusterNodeEnv = {
  ASAN_OPTIONS: [process.env.ASAN_OPTIONS, "detect_leaks=0"].filter(Boolean).join(":"),
};

function node(page, name) {
  return page.locator(`#tree svg g.node[data-name="${name}"]`);
}

describe("the dashboard", () => {
  let browser;

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  test("draws the supervision tree live, with a dead upstream restarting behind a countdown, and charts real sessions and resumes", async (t) => {
    const wsvisor = await startWsvisor({ config: await deadUpstreamConfig() });
    const clients = [];
    t.after(async () => {
      for (const c of clients) c.close();
      await wsvisor.stop();
    });
    const { context, page } = await newPage(browser, { height: 760 });
    await page.goto(`${wsvisor.httpUrl}/dashboard`);

    // The root supervisor, its children, and the upstream links' supervisor below `upstreams`.
    await node(page, "root").waitFor(WAIT);
    assert.equal(await node(page, "root").getAttribute("data-kind"), "supervisor");
    await page.waitForSelector('#tree g.node[data-name="sessions"][data-state="running"]', WAIT);
    await page.waitForSelector('#tree g.node[data-name="upstreams"][data-state="running"]', WAIT);
    assert.equal(await node(page, "upstream_links").getAttribute("data-kind"), "supervisor");
    assert.equal(await page.textContent("#node"), "local");

    // The dead upstream: restarting, a countdown under 4 s that goes down between polls.
    // On a busy machine the first poll may come when the restart is already
    // due ("restart due"): wait for a poll that shows a countdown.
    const shown = await page.waitForFunction(
      () => {
        const t = document.querySelector('#tree g.node[data-name="feed"][data-state="restarting"] text.countdown');
        const m = t && /^restart in (\d+\.\d) s$/.exec(t.textContent);
        return m && Number(m[1]);
      },
      null,
      WAIT,
    );
    const first = await shown.jsonValue();
    assert.ok(first > 0 && first <= 4, `countdown within the 4 s backoff, got ${first}`);
    await page.waitForFunction(
      (was) => {
        const t = document.querySelector('#tree g.node[data-name="feed"] text.countdown');
        const m = t && /restart in (\d+\.\d) s/.exec(t.textContent);
        return m && Number(m[1]) < was;
      },
      first,
      WAIT,
    );
    // A restart happens and is counted; the upstream's state strip shows it is not up.
    await page.waitForFunction(
      () => Number(document.querySelector('#tree g.node[data-name="feed"]')?.dataset.restarts) >= 1,
      null,
      { timeout: 15000 },
    );
    const upstream = page.locator('#upstreams .upstream-row[data-upstream="feed"]');
    await upstream.waitFor(WAIT);
    assert.match(await upstream.getAttribute("data-state"), /^(down|connecting)$/);
    await page.locator('#channels .channel-row[data-channel="feed"]').waitFor(WAIT);

    // Sessions: three attached, then one detached; a resume and a refused one.
    for (let i = 0; i < 3; i++) {
      const c = await rawConnection(wsvisor.url);
      clients.push(c);
      await c.hello();
      c.send({ type: "subscribe", channel: i === 2 ? "news" : "chat" });
      await c.next("subscribed");
    }
    await page.waitForFunction(() => document.getElementById("attached").textContent === "3", null, WAIT);
    await page.locator('#channels .channel-row[data-channel="chat"]').waitFor(WAIT);
    // A fourth leaves without bye (detached), comes back with a resume; a stranger's resume is refused.
    const leaving = await rawConnection(wsvisor.url);
    const { session, token } = await leaving.hello();
    await page.waitForFunction(() => document.getElementById("attached").textContent === "4", null, WAIT);
    leaving.close();
    await page.waitForFunction(
      () => document.getElementById("attached").textContent === "3" && document.getElementById("detached").textContent === "1",
      null,
      WAIT,
    );
    const back = await rawConnection(wsvisor.url);
    clients.push(back);
    back.send({ type: "resume", session, token, last_seq: 0 });
    assert.equal((await back.next("welcome")).resumed, true);
    const stranger = await rawConnection(wsvisor.url);
    clients.push(stranger);
    stranger.send({ type: "resume", session: "no-such-session", token: "x", last_seq: 0 });
    assert.equal((await stranger.next("welcome")).resumed, false);
    await page.waitForFunction(() => document.getElementById("resume-rate").textContent === "50 %", null, WAIT);
    assert.match(await page.textContent("#resume-totals"), /1 resumed, 1 unknown, 0 expired, 0 overflow/);
    assert.equal(await page.textContent("#attached"), "5");
    assert.ok((await page.locator("#sessions-chart rect.s-attached").count()) > 0, "the sessions chart has bars");
    assert.ok((await page.locator("#resumes-chart rect.s-resumed").count()) > 0, "the resumes chart has a bar");

    await screenshot(page, "dashboard", { fullPage: true });
    assert.deepEqual(page.problems, []);
    await context.close();
  });

  test("names the cluster's peers with their state and switches the channels between this node and the cluster", async (t) => {
    const [portA, portB] = [await deadPort(), await deadPort()];
    const clusterConfig = (name, own, peer) => `
[cluster]
enabled = true
node = "${name}"
listen = "127.0.0.1:${own}"
peers = ["127.0.0.1:${peer}"]
public_url = "ws://${name}.example/ws"
heartbeat_interval = "200ms"
peer_timeout = "1s"

[policies.cluster]
backoff_min = "50ms"
backoff_max = "200ms"
max_restarts = 0
`;
    const a = await startWsvisor({ config: clusterConfig("a", portA, portB), env: clusterNodeEnv });
    const b = await startWsvisor({ config: clusterConfig("b", portB, portA), env: clusterNodeEnv });
    const clients = [];
    t.after(async () => {
      for (const c of clients) c.close();
      await a.stop();
      await b.stop();
    });
    for (const [wsvisor, count] of [[a, 1], [b, 2]]) {
      for (let i = 0; i < count; i++) {
        const c = await rawConnection(wsvisor.url);
        clients.push(c);
        c.send({ type: "hello" });
        await c.next("welcome");
        c.send({ type: "subscribe", channel: "both" });
        await c.next("subscribed");
      }
    }
    const { context, page } = await newPage(browser, { height: 760 });
    await page.goto(`${a.httpUrl}/dashboard`);
    await page.waitForSelector('#peer-list li[data-peer="b"][data-state="up"]', WAIT);
    assert.equal(await page.textContent("#node"), "a");

    // This node's channels, then every node's, each row naming its node.
    await page.waitForSelector('#channels .channel-row[data-channel="both"][data-node="a"]', WAIT);
    assert.equal(await page.locator('#channels .channel-row[data-node="b"]').count(), 0);
    await page.selectOption("#scope", "cluster");
    await page.waitForSelector('#channels .channel-row[data-channel="both"][data-node="b"]', WAIT);
    assert.match(await page.textContent('#channels .channel-row[data-node="b"] .mono'), /^2/);
    await screenshot(page, "dashboard-cluster");

    // b drains and leaves: shown as left, not as lost.
    for (const c of clients.splice(1)) c.close();
    const exit = await b.stop(20000);
    assert.equal(exit.code, 0, `b exited with ${JSON.stringify(exit)}; its log:\n${b.stderr().slice(-4000)}`);
    await page.waitForSelector('#peer-list li[data-peer="b"][data-state="left"]', WAIT);
    assert.equal(await page.textContent("#peers-lost"), "0");
    await context.close();
  });

  test("asks for the admin token when [api] token is set, refuses a wrong one, and shows the dashboard after login", async (t) => {
    const wsvisor = await startWsvisor({ config: `[api]\ntoken = "${TOKEN}"\n` });
    t.after(() => wsvisor.stop());
    const { context, page } = await newPage(browser);

    const first = await page.goto(`${wsvisor.httpUrl}/dashboard`);
    assert.equal(first.status(), 401);
    await page.locator("form#login").waitFor(WAIT);
    assert.equal(await page.locator("#tree").count(), 0, "no dashboard before login");
    await screenshot(page, "dashboard-login");

    // A wrong token: the node answers the login page again, which says so.
    await page.fill("#token", "not-the-token-at-all-0000");
    const [wrong] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    assert.equal(wrong.status(), 401);
    await page.locator("#login-problem").waitFor({ state: "visible", ...WAIT });

    await page.fill("#token", TOKEN);
    const [right] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    assert.equal(right.status(), 200);
    await node(page, "root").waitFor(WAIT);
    await page.waitForSelector('#tree g.node[data-name="sessions"][data-state="running"]', WAIT);
    await page.waitForSelector('#poll[data-state="ok"]', WAIT);
    assert.equal(await page.isHidden("#banner"), true, "no error banner: the API took the bearer token");
    const cookie = (await context.cookies()).find((c) => c.name === "wsvisor_token");
    assert.equal(cookie?.value, TOKEN);
    assert.equal(cookie.path, "/");
    assert.equal(cookie.sameSite, "Strict");

    // Logging out forgets the token: the login page again.
    const [out] = await Promise.all([page.waitForNavigation(), page.click("#logout")]);
    assert.equal(out.status(), 401);
    await page.locator("form#login").waitFor(WAIT);
    await context.close();
  });
});
