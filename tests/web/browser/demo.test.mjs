// The demo page (/) in Debian's chromium against a real wsvisor: messages
// published while the page is cut off or offline all show up once, in order,
// after the resume, and the page's log says how many were replayed; the list
// of the channel's members follows another member online, away, back and gone.
// Each test chats on a channel of its own: the page is a presence member of its
// channel, and another test's page coming and going would be numbered in its
// seq among the messages.
//
// The page's JavaScript clock is Playwright's (page.clock): pausing it holds
// the client's reconnect timer, so the test knows the page is away while it
// publishes, and the server's admin API tells when the messages are buffered.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eventually, httpJson, rawConnection, startWsvisor } from "../support/wsvisor.mjs";
import { launchChromium, newPage, screenshot } from "../support/browser.mjs";
import { jwt } from "../support/jwt.mjs";

const WAIT = { timeout: 10000 };

/** The chat as the page shows it: [{seq, who, text}] in DOM order. */
function chatOf(page) {
  return page.$$eval("#messages li", (items) =>
    items.map((li) => ({
      seq: Number(li.dataset.seq),
      who: li.querySelector(".who")?.textContent,
      text: li.querySelector(".text")?.textContent,
      replayed: li.classList.contains("replayed"),
    })),
  );
}

/** Asserts the chat holds exactly `texts`, once each, in order, with seqs 1..n. */
async function assertChat(page, texts) {
  const chat = await chatOf(page);
  assert.deepEqual(
    chat.map((m) => m.text),
    texts,
    "every message shown exactly once, in publish order",
  );
  assert.deepEqual(
    chat.map((m) => m.seq),
    texts.map((_, i) => i + 1),
    "seqs 1..n without gaps or repeats",
  );
  return chat;
}

function waitForState(page, state) {
  return page.waitForSelector(`#state[data-state="${state}"]`, WAIT);
}

function waitForChatLength(page, n) {
  return page.waitForFunction((count) => document.querySelectorAll("#messages li").length >= count, n, WAIT);
}

describe("the demo page", () => {
  let node;
  let browser;
  let publisher;
  let cseq = 0;

  before(async () => {
    node = await startWsvisor();
    browser = await launchChromium();
    publisher = await rawConnection(node.url);
    await publisher.hello();
  });

  after(async () => {
    publisher?.close();
    await browser?.close();
    await node?.stop();
  });

  /** Publishes chat lines to `channel` from another client (a raw wsvisor.v1 connection) and awaits their acks. */
  async function publish(channel, texts) {
    for (const text of texts) {
      cseq += 1;
      publisher.send({ type: "publish", channel, cseq, data: { name: "bot", text } });
      const ack = await publisher.next("ack");
      assert.equal(ack.cseq, cseq);
    }
  }

  /** The page's session as the server sees it (GET /api/sessions/ID). */
  async function sessionOf(page) {
    const id = (await page.textContent("#session")).trim();
    const res = await httpJson(node.httpUrl, `/api/sessions/${id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  }

  /** Waits until the server has produced `seq` messages for the page's session while it is detached. */
  async function awaitBuffered(page, seq) {
    await eventually(
      async () => {
        const s = await sessionOf(page);
        return s.state === "detached" && s.seq === seq;
      },
      { timeoutMs: 10000, what: `the page's session detached with seq ${seq}` },
    );
  }

  async function openDemo(channel) {
    const { context, page } = await newPage(browser);
    await page.clock.install();
    await page.goto(`${node.httpUrl}/?channel=${channel}`);
    await waitForState(page, "connected");
    await page.waitForFunction(() => document.getElementById("session").textContent.length > 8, null, WAIT);
    return { context, page };
  }

  async function sendFromPage(page, name, text) {
    await page.fill("#name", name);
    await page.fill("#text", text);
    await page.press("#text", "Enter");
  }

  test("shows every message published while the connection was cut exactly once, in order, and logs how many were replayed", async () => {
    const { context, page } = await openDemo("chat");
    await sendFromPage(page, "ada", "hello from the browser");
    await sendFromPage(page, "ada", "anyone here?");
    await waitForChatLength(page, 2);
    await page.waitForFunction(() => document.querySelectorAll("#outbox li").length === 0, null, WAIT);

    // Hold the client's timers so that it stays away until the messages are buffered.
    await page.clock.pauseAt(Date.now() + 1000);
    await page.click("#cut");
    await waitForState(page, "connecting");
    const cut = ["while you were away 1", "while you were away 2", "while you were away 3", "while you were away 4", "while you were away 5"];
    await publish("chat", cut);
    await awaitBuffered(page, 7);
    await page.clock.resume();

    await waitForState(page, "resumed");
    await waitForChatLength(page, 7);
    const resumed = page.locator('#log li[data-kind="resumed"]').last();
    await resumed.waitFor(WAIT);
    assert.equal(await resumed.getAttribute("data-replay"), "5");
    assert.match(await resumed.textContent(), /resumed session after [\d.]+ s: 5 messages replayed/);
    assert.match(await page.locator('#log li[data-kind="drop"]').last().textContent(), /you cut the connection/);

    const chat = await assertChat(page, ["hello from the browser", "anyone here?", ...cut]);
    assert.deepEqual(
      chat.map((m) => m.replayed),
      [false, false, true, true, true, true, true],
      "the replayed messages are marked",
    );
    assert.equal(await page.textContent("#last-seq"), "7");
    assert.equal(await page.textContent("#last-cseq"), "2");
    assert.equal(await page.textContent("#stat-replayed"), "5");
    await screenshot(page, "demo-resume");
    assert.deepEqual(page.problems, []);
    await context.close();
  });

  test("loses and repeats nothing over the offline button and the browser going offline and online", async () => {
    const { context, page } = await openDemo("offline");
    const expected = [];

    // The "go offline for N s" button: the client stays away for N s (of the page's clock).
    await page.fill("#offline-seconds", "30");
    await page.click("#offline");
    await waitForState(page, "offline");
    const first = ["offline 1", "offline 2", "offline 3"];
    await publish("offline", first);
    expected.push(...first);
    await awaitBuffered(page, 3);
    // Written while offline: queued, sent after the resume, shown once.
    await sendFromPage(page, "ada", "typed while offline");
    expected.push("typed while offline");
    await page.waitForSelector("#outbox li", WAIT);
    await page.clock.fastForward(30000);
    await waitForState(page, "resumed");
    await waitForChatLength(page, 4);
    await page.waitForFunction(() => document.querySelectorAll("#outbox li").length === 0, null, WAIT);
    assert.equal(await page.locator('#log li[data-kind="resumed"]').last().getAttribute("data-replay"), "3");
    assert.match(await page.locator('#log li[data-kind="offline"]').last().textContent(), /you went offline for 30 seconds/);
    await assertChat(page, expected);

    // The browser itself goes offline (navigator.onLine, the offline event) and back.
    await context.setOffline(true);
    await waitForState(page, "offline");
    const second = ["network down 1", "network down 2"];
    await publish("offline", second);
    expected.push(...second);
    await eventually(async () => (await sessionOf(page)).seq === 6, { timeoutMs: 10000, what: "seq 6 produced" });
    await context.setOffline(false);
    await waitForState(page, "resumed");
    await waitForChatLength(page, 6);
    assert.equal(await page.locator('#log li[data-kind="resumed"]').last().getAttribute("data-replay"), "2");
    assert.match(await page.locator('#log li[data-kind="offline"]').last().textContent(), /the browser went offline/);
    await assertChat(page, expected);

    // And live traffic still flows afterwards.
    await publish("offline", ["back online"]);
    expected.push("back online");
    await waitForChatLength(page, 7);
    await assertChat(page, expected);
    assert.equal(await page.textContent("#stat-resumes"), "2");
    assert.deepEqual(page.problems, []);
    await context.close();
  });

  test("a reload resumes the tab's session from sessionStorage and shows what was published meanwhile", async () => {
    const { context, page } = await newPage(browser);
    await page.goto(`${node.httpUrl}/?channel=reload`);
    await waitForState(page, "connected");
    await page.waitForFunction(() => document.getElementById("session").textContent.length > 8, null, WAIT);
    await sendFromPage(page, "ada", "before the reload");
    await waitForChatLength(page, 1);
    await page.waitForFunction(() => document.querySelectorAll("#outbox li").length === 0, null, WAIT);
    const before = await sessionOf(page);
    const stored = await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith("wsvisor:")));
    assert.equal(stored.length, 1, "the session is kept in sessionStorage");

    // The page goes away (no bye): the session waits for a resume.
    await page.goto("about:blank");
    const missed = ["during the reload 1", "during the reload 2", "during the reload 3"];
    await eventually(async () => (await httpJson(node.httpUrl, `/api/sessions/${before.id}`)).body.state === "detached", {
      timeoutMs: 10000,
      what: "the page's session detached",
    });
    await publish("reload", missed);
    await eventually(async () => (await httpJson(node.httpUrl, `/api/sessions/${before.id}`)).body.seq === before.seq + 3, {
      timeoutMs: 10000,
      what: "the missed messages buffered",
    });

    await page.goto(`${node.httpUrl}/?channel=reload`);
    await waitForState(page, "resumed");
    assert.equal((await page.textContent("#session")).trim(), before.id);
    const resumed = page.locator('#log li[data-kind="resumed"]').last();
    await resumed.waitFor(WAIT);
    assert.equal(await resumed.getAttribute("data-replay"), "3");
    await waitForChatLength(page, 3);
    const chat = await chatOf(page);
    assert.deepEqual(
      chat.map((m) => m.text),
      missed,
    );
    assert.deepEqual(
      chat.map((m) => m.seq),
      [before.seq + 1, before.seq + 2, before.seq + 3],
    );
    assert.ok(chat.every((m) => m.replayed), "marked as replayed");
    await screenshot(page, "demo-after-reload");

    // A plain reload resumes too, with nothing to replay.
    await page.reload();
    await waitForState(page, "resumed");
    assert.equal((await page.textContent("#session")).trim(), before.id);
    assert.equal(await page.locator('#log li[data-kind="resumed"]').last().getAttribute("data-replay"), "0");
    assert.deepEqual(page.problems, []);
    await context.close();
  });

  test("lists the channel's members: another one online, away while cut off, online again after its resume (replayed to the page too), gone when it leaves", async () => {
    const channel = "members";
    const { context, page } = await openDemo(channel);
    // The page is the channel's first member.
    const first = page.locator('#members li[data-state="online"]');
    await first.waitFor(WAIT);
    const self = await first.getAttribute("data-member");
    assert.match(self, /^[0-9a-f]{24}$/);
    assert.equal(await page.textContent("#member-count"), "1 online");

    const other = await rawConnection(node.url);
    const session = await other.hello();
    other.send({ type: "subscribe", channel, presence: true });
    await other.next("subscribed");
    const row = page.locator(`#members li:not([data-member="${self}"])`);
    await row.waitFor(WAIT);
    const member = await row.getAttribute("data-member");
    assert.match(member, /^[0-9a-f]{24}$/);
    const shown = (state) => page.waitForSelector(`#members li[data-member="${member}"][data-state="${state}"]`, WAIT);
    await shown("online");
    assert.equal(await page.textContent("#member-count"), "2 online");

    // Its connection is cut without bye: away while its session waits.
    other.close();
    await shown("away");
    assert.equal(await page.textContent("#member-count"), "1 online, 1 away");
    assert.match(await row.textContent(), /away/);
    await screenshot(page, "demo-members");

    // The page's own connection is cut too, and the other member comes back
    // meanwhile: the page learns it from the replay.
    await page.clock.pauseAt(Date.now() + 1000);
    await page.click("#cut");
    await waitForState(page, "connecting");
    const back = await rawConnection(node.url);
    back.send({ type: "resume", session: session.session, token: session.token, last_seq: 0 });
    assert.equal((await back.next("welcome")).resumed, true);
    await awaitBuffered(page, 3);
    await page.clock.resume();
    await waitForState(page, "resumed");
    await shown("online");
    assert.equal(await page.locator('#log li[data-kind="resumed"]').last().getAttribute("data-replay"), "1");
    assert.equal(await page.textContent("#member-count"), "2 online");

    // It leaves: gone from the list.
    back.send({ type: "unsubscribe", channel });
    await back.next("unsubscribed");
    await page.waitForFunction((m) => !document.querySelector(`#members li[data-member="${m}"]`), member, WAIT);
    assert.equal(await page.textContent("#member-count"), "1 online");
    // The four events are numbered like messages, and none is a chat line.
    assert.equal(await page.textContent("#last-seq"), "4");
    assert.equal(await page.locator("#messages li").count(), 0);
    back.close();
    assert.deepEqual(page.problems, []);
    await context.close();
  });
});

describe("the demo page on a node with [auth]", () => {
  const secret = "demo-page-test-secret-of-32-bytes-or-more";
  let node;
  let browser;

  before(async () => {
    node = await startWsvisor({ config: `[auth]\nsecret = "${secret}"\n` });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await node?.stop();
  });

  test("chats with the token given as ?auth= and says unauthorized without one", async () => {
    const token = jwt(secret, { sub: "ada", channels: ["chat"], exp: Math.floor(Date.now() / 1000) + 600 });
    const { context, page } = await newPage(browser);
    await page.goto(`${node.httpUrl}/?auth=${encodeURIComponent(token)}`);
    await waitForState(page, "connected");
    await page.fill("#text", "signed in");
    await page.press("#text", "Enter");
    await waitForChatLength(page, 1);
    await assertChat(page, ["signed in"]);
    const session = await httpJson(node.httpUrl, `/api/sessions/${(await page.textContent("#session")).trim()}`);
    assert.equal(session.body.subject, "ada");
    // Members are listed by their token's subject.
    await page.locator('#members li[data-state="online"]', { hasText: "ada" }).waitFor(WAIT);
    assert.deepEqual(page.problems, []);

    const anonymous = await context.newPage();
    await anonymous.goto(`${node.httpUrl}/`);
    await waitForState(anonymous, "closed");
    await anonymous.locator('#log li[data-kind="error"]', { hasText: "error unauthorized" }).waitFor(WAIT);
    assert.match(await anonymous.locator('#log li[data-kind="closed"]').textContent(), /unauthorized/);
    await context.close();
  });
});

describe("the demo page when the node shuts down", () => {
  test("logs the server's goaway", async () => {
    const node = await startWsvisor();
    const browser = await launchChromium();
    try {
      const { page } = await newPage(browser);
      await page.goto(`${node.httpUrl}/`);
      await waitForState(page, "connected");
      // Every state the indicator shows from now on: "offline" lasts only
      // retry_ms (1 s or more), which a slow machine can miss by polling.
      await page.evaluate(() => {
        const state = document.querySelector("#state");
        window.seenStates = [];
        new MutationObserver(() => window.seenStates.push(state.dataset.state)).observe(state, {
          attributes: true,
          attributeFilter: ["data-state"],
        });
      });
      node.kill("SIGTERM");
      const entry = page.locator('#log li[data-kind="goaway"]');
      await entry.waitFor(WAIT);
      assert.match(await entry.textContent(), /goaway \(\w+\): reconnecting in \d+ ms/);
      await page.waitForFunction(() => window.seenStates.includes("offline"), null, WAIT);
    } finally {
      await browser.close();
      await node.stop();
    }
  });
});
