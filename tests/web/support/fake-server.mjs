// A scripted wsvisor.v1 server (npm `ws`) for behaviour a real wsvisor will not
// produce on demand: silence after the welcome, a goaway to another URL.

import { WebSocketServer } from "ws";

/**
 * Starts a WebSocket server on a free loopback port. `onFrame(conn, frame)` is
 * called for each JSON frame; `conn.send(obj)` answers. Every connection and
 * frame is recorded: `connections` (each `{ws, frames, send, closed}`) and
 * `nextConnection(timeoutMs)` awaits the next one (already made ones first).
 */
export async function startFakeServer(onFrame = () => {}) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (ps) => (ps.has("wsvisor.v1") ? "wsvisor.v1" : false) });
  await new Promise((resolve) => wss.once("listening", resolve));
  const connections = [];
  let handed = 0;
  const waiters = new Set();
  wss.on("connection", (ws) => {
    const conn = {
      ws,
      frames: [],
      closed: false,
      at: Date.now(),
      send: (obj) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(obj)),
    };
    connections.push(conn);
    ws.on("close", () => (conn.closed = true));
    ws.on("message", (data) => {
      const frame = JSON.parse(String(data));
      conn.frames.push(frame);
      onFrame(conn, frame);
      for (const w of [...waiters]) w();
    });
    for (const w of [...waiters]) w();
  });
  const port = wss.address().port;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    port,
    connections,
    /** The next connection not yet handed out that has sent its first frame. */
    nextConnection(timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const conn = connections[handed];
          if (!conn || conn.frames.length === 0) return;
          handed++;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(conn);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no new connection with a frame within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      for (const c of wss.clients) c.terminate();
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

/** A welcome frame for a fake session. */
export function welcome({ session = "fake-session", token = "fake-token", resumed = false, heartbeatMs = 25000, lastCseq = 0, reason } = {}) {
  const w = { type: "welcome", session, token, resumed, last_cseq: lastCseq, heartbeat_ms: heartbeatMs, resume_window_ms: 30000 };
  if (reason) w.reason = reason;
  return w;
}
