// Test support shared by tests/web/client and tests/web/browser: starts a real
// wsvisor process (the binary named by WSVISOR_BIN) on a free loopback port and
// gives small helpers to await events with a timeout instead of sleeping.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import WebSocket from "ws";

/** A bound for one test (node --test has none by default): a hung await fails instead of hanging. */
export const TEST_TIMEOUT_MS = 20000;

/** The wsvisor binary under test; throws a clear error when WSVISOR_BIN is unset. */
export function wsvisorBinary() {
  const bin = process.env.WSVISOR_BIN;
  if (!bin) {
    throw new Error(
      "WSVISOR_BIN is not set: point it at the wsvisor binary, e.g. " +
        "WSVISOR_BIN=build/release/app/wsvisor node --test tests/web/client/",
    );
  }
  return bin;
}

/**
 * Starts wsvisor with a temporary TOML config and waits for its "listening" line.
 *
 * `server.listen` is set to 127.0.0.1:0 with `--set` (so `config` may hold its
 * own `[server]` table, without `listen`); the port is read from the line
 * `listening address=127.0.0.1:PORT` on stderr, as tests/support/process.cpp does.
 *
 * @param {object} [options]
 * @param {string} [options.config] extra TOML text written to the config file
 * @param {string[]} [options.args] extra command-line arguments (e.g. ["--set", "k=v"])
 * @param {Record<string,string>} [options.env] extra environment variables
 * @param {number} [options.timeoutMs] how long to wait for "listening" (default 10 s)
 * @returns {Promise<{url: string, httpUrl: string, port: number, pid: number,
 *   stop: (graceMs?: number) => Promise<{code: number|null, signal: string|null}>,
 *   kill: (signal?: string) => boolean, stderr: () => string,
 *   waitForStderr: (pattern: RegExp|string, timeoutMs?: number) => Promise<string>,
 *   exited: Promise<{code: number|null, signal: string|null}>}>}
 */
export async function startWsvisor({ config = "", args = [], env = {}, timeoutMs = 10000 } = {}) {
  const bin = wsvisorBinary();
  const dir = mkdtempSync(join(tmpdir(), "wsvisor-web-"));
  const file = join(dir, "wsvisor.toml");
  writeFileSync(file, config);
  const child = spawn(bin, ["--config", file, "--set", "server.listen=127.0.0.1:0", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let text = "";
  const watchers = new Set();
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    text += chunk;
    for (const w of [...watchers]) w();
  });
  const exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal });
      for (const w of [...watchers]) w();
    });
  });
  let hasExited = false;
  exited.then(() => (hasExited = true));

  function waitForStderr(pattern, waitMs = 5000) {
    const test = (line) => (typeof pattern === "string" ? line.includes(pattern) : pattern.test(line));
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = text.split("\n").find(test);
        if (line !== undefined) return done(() => resolve(line));
        if (hasExited || child.exitCode !== null || child.signalCode !== null) {
          return done(() => reject(new Error(`wsvisor exited before ${pattern}; stderr:\n${text}`)));
        }
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`no stderr line matching ${pattern} in ${waitMs} ms; stderr:\n${text}`))),
        waitMs,
      );
      const done = (fn) => {
        clearTimeout(timer);
        watchers.delete(check);
        fn();
      };
      watchers.add(check);
      check();
    });
  }

  let line;
  try {
    line = await waitForStderr(/\blistening address=127\.0\.0\.1:\d+/, timeoutMs);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)[1]);
  const pathMatch = /^\s*path\s*=\s*"([^"]*)"/m.exec(config);
  const path = pathMatch ? pathMatch[1] : "/ws";

  return {
    url: `ws://127.0.0.1:${port}${path}`,
    httpUrl: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    exited,
    stderr: () => text,
    waitForStderr,
    /** Sends a signal (default SIGTERM); false once the process has exited. */
    kill: (signal = "SIGTERM") => !hasExited && child.kill(signal),
    /** SIGTERM, then SIGKILL if it has not exited within graceMs; resolves with its exit. */
    async stop(graceMs = 3000) {
      if (hasExited) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/**
 * Runs one wsvisor for the enclosing `describe` (or file): started in a
 * `before` hook, stopped in an `after` hook. The returned object forwards
 * `url`, `httpUrl`, `port`, `stderr()`, `kill()` and `stop()` to it.
 */
export function useWsvisor(options) {
  let node;
  before(async () => {
    node = await startWsvisor(options);
  });
  after(() => node?.stop());
  return {
    get url() { return node.url; },
    get httpUrl() { return node.httpUrl; },
    get port() { return node.port; },
    stderr: () => node.stderr(),
    kill: (signal) => node.kill(signal),
    stop: (graceMs) => node.stop(graceMs),
  };
}

/**
 * Resolves with the first value `subscribe(listener)` passes to its listener for
 * which `filter` holds, or rejects after timeoutMs. `subscribe` returns an
 * unsubscribe function (as WsvisorClient.on does).
 */
export function nextEvent(subscribe, { filter = () => true, timeoutMs = 5000, what = "event" } = {}) {
  return new Promise((resolve, reject) => {
    let off = () => {};
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    off = subscribe((value) => {
      if (!filter(value)) return;
      clearTimeout(timer);
      off();
      resolve(value);
    });
  });
}

/** Waits for the client's `state` event with state `state` (and `filter`). */
export function nextState(client, state, { filter = () => true, timeoutMs = 5000 } = {}) {
  return nextEvent((fn) => client.on("state", fn), {
    filter: (e) => e.state === state && filter(e),
    timeoutMs,
    what: `state '${state}'`,
  });
}

/** Collects the client's `message` events until `count` have arrived. */
export function collectMessages(client, count, { timeoutMs = 5000 } = {}) {
  const got = [];
  return nextEvent(
    (fn) =>
      client.on("message", (m) => {
        got.push(m);
        fn(got);
      }),
    { filter: (all) => all.length >= count, timeoutMs, what: `${count} messages` },
  ).catch((err) => {
    err.message += ` (got ${got.length})`;
    throw err;
  });
}

/** Polls `check` (sync or async) until it returns a truthy value, or rejects after timeoutMs. */
export async function eventually(check, { timeoutMs = 5000, intervalMs = 20, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * A raw wsvisor.v1 connection over npm `ws` for driving a server from a test:
 * `send(obj)`, `next(type, timeoutMs)` (the next frame of that type, frames
 * are queued until asked for), `hello()` (resolves with the welcome), `close()`.
 */
export async function rawConnection(url, { protocols = ["wsvisor.v1"], timeoutMs = 5000 } = {}) {
  const ws = new WebSocket(url, protocols);
  const frames = [];
  const waiters = new Set();
  ws.on("message", (data) => {
    frames.push(JSON.parse(String(data)));
    for (const w of [...waiters]) w();
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const conn = {
    ws,
    frames,
    send: (obj) => ws.send(JSON.stringify(obj)),
    next(type, waitMs = timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const i = frames.findIndex((f) => f.type === type);
          if (i < 0) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(frames.splice(i, 1)[0]);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no '${type}' frame within ${waitMs} ms; got ${JSON.stringify(frames)}`));
        }, waitMs);
        waiters.add(check);
        check();
      });
    },
    async hello(auth) {
      conn.send(auth === undefined ? { type: "hello" } : { type: "hello", auth });
      return conn.next("welcome");
    },
    close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
    },
  };
  return conn;
}

/** A raw connection with a session, subscribed to `channel`. */
export async function rawSubscriber(url, channel) {
  const raw = await rawConnection(url);
  await raw.hello();
  raw.send({ type: "subscribe", channel });
  await raw.next("subscribed");
  return raw;
}

/** POSTs (or other method) to the node's HTTP API; resolves with { status, body }. */
export async function httpJson(httpUrl, path, { method = "GET", body, headers = {} } = {}) {
  const res = await fetch(httpUrl + path, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers };
}
