// The demo page (/): a chat on one channel over WsvisorClient, with buttons
// that cut the connection or keep the client offline for a while, a log of
// what the client did about it (drops, resumes with their replayed messages,
// resets, goaways), and who is on the channel: the page joins it as a presence
// member, lists the members once (client.presence) and keeps the list up to
// date from the `presence` events.
//
// Query parameters: ?channel=NAME (default "chat"), ?auth=JWT (sent in hello
// when the node has [auth] on), ?url=ws://HOST/PATH (default: this host, at
// the node's server.path, which /site.json names).
//
// The session lives in this tab's sessionStorage (persist: "session"): a
// reload resumes it and shows what was published meanwhile.

import { WsvisorClient } from "/client.js";

const params = new URLSearchParams(location.search);
const channel = params.get("channel") || "chat";
const auth = params.get("auth") || undefined;

/** The node's WebSocket path (server.path); /ws if the node does not say. */
async function wsPath() {
  try {
    const res = await fetch("/site.json", { cache: "no-store" });
    if (res.ok) {
      const { ws_path: path } = await res.json();
      if (typeof path === "string" && path.startsWith("/")) return path;
    }
  } catch {}
  return "/ws";
}

const url = params.get("url") || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${await wsPath()}`;

const $ = (id) => document.getElementById(id);
const ui = {
  state: $("state"),
  channel: $("channel"),
  session: $("session"),
  lastSeq: $("last-seq"),
  lastCseq: $("last-cseq"),
  messages: $("messages"),
  outbox: $("outbox"),
  log: $("log"),
  form: $("send"),
  name: $("name"),
  text: $("text"),
  cut: $("cut"),
  offline: $("offline"),
  offlineSeconds: $("offline-seconds"),
  members: $("members"),
  memberCount: $("member-count"),
};

const client = new WsvisorClient(url, { persist: "session", ...(auth === undefined ? {} : { auth }) });

ui.channel.textContent = channel;
ui.name.value = localStorage.getItem("wsvisor-demo-name") || `guest-${Math.floor(Math.random() * 9000 + 1000)}`;
ui.name.addEventListener("change", () => localStorage.setItem("wsvisor-demo-name", ui.name.value.trim()));

// Messages (and presence events: they are numbered and replayed alike) still
// to come from the replay that the last resume announced: the messages are
// marked in the chat so that the replay is visible.
let replayLeft = 0;
// The channel's members: member id -> {member, subject, state}. Null until
// the first list arrives, and again when one is needed (after a reset, or when
// the connection was lost before the answer).
let members = null;
// When the connection was last lost (for "resumed after 1.2 s").
let lostAt = null;
let previous = null;

function stamp() {
  return new Date().toLocaleTimeString([], { hour12: false });
}

function log(kind, text) {
  const li = document.createElement("li");
  li.dataset.kind = kind;
  const time = document.createElement("time");
  time.textContent = stamp();
  li.append(time, text);
  ui.log.append(li);
  ui.log.scrollTop = ui.log.scrollHeight;
  return li;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function refresh() {
  ui.session.textContent = client.sessionId || "–";
  ui.lastSeq.textContent = String(client.lastSeq ?? 0);
  ui.lastCseq.textContent = String(client.lastCseq ?? 0);
  const stats = client.stats || {};
  for (const key of ["connects", "drops", "resumes", "resets", "replayed"]) {
    $(`stat-${key}`).textContent = String(stats[key] ?? 0);
  }
}

/** The member list as the page shows it: a line per member, by name. */
function renderMembers() {
  const list = members === null ? [] : [...members.values()];
  const name = (m) => m.subject ?? m.member.slice(0, 8);
  list.sort((x, y) => name(x).localeCompare(name(y)) || x.member.localeCompare(y.member));
  ui.members.replaceChildren(
    ...list.map((m) => {
      const li = document.createElement("li");
      li.dataset.member = m.member;
      li.dataset.state = m.state;
      li.title = `member ${m.member}${m.subject === null ? "" : ` (${m.subject})`}`;
      const who = document.createElement("span");
      who.className = "name";
      who.textContent = name(m);
      const state = document.createElement("span");
      state.className = "state";
      state.textContent = m.state;
      li.append(who, state);
      return li;
    }),
  );
  const online = list.filter((m) => m.state === "online").length;
  ui.memberCount.textContent = members === null ? "" : `${online} online${list.length > online ? `, ${list.length - online} away` : ""}`;
}

/**
 * Asks the server who is on the channel (sent after the subscribe, answered in
 * order); the answer replaces the list, and presence events update it from there.
 */
function loadMembers() {
  client
    .presence(channel)
    .then((list) => {
      members = new Map(list.map((m) => [m.member, m]));
      renderMembers();
    })
    .catch((err) => {
      // Lost with the connection: asked again once the session is back.
      if (err?.code === "disconnected" || err?.code === "closed") return;
      log("error", `presence ${channel}: ${err?.message || err}`);
    });
}

function showState(state) {
  ui.state.dataset.state = state;
  ui.state.textContent = state;
}

// Why the connection went away, in the log's words.
function lostBecause(reason, retryMs) {
  if (reason === "drop") return "you cut the connection";
  if (reason === "suspend") return `you went offline for ${plural(Math.round(retryMs / 1000), "second")}`;
  if (reason === "offline") return "the browser went offline";
  return `connection lost${reason ? ` (${reason})` : ""}`;
}

client.on("state", (event) => {
  const { state, reason, replay, retryMs } = event;
  const wasUp = previous === "connected" || previous === "resumed";
  previous = state;
  showState(state);
  refresh();
  if (state === "connected") {
    log("connected", `connected: new session ${client.sessionId}`);
  } else if (state === "resumed") {
    const after = lostAt === null ? "" : ` after ${((performance.now() - lostAt) / 1000).toFixed(1)} s`;
    lostAt = null;
    if (members === null) loadMembers(); // the last list was lost with its connection
    if (typeof replay !== "number") return void log("resumed", `resumed session${after}`);
    replayLeft = replay;
    log("resumed", `resumed session${after}: ${plural(replay, "message")} replayed`).dataset.replay = String(replay);
  } else if (state === "reset") {
    lostAt = null;
    // A new session: the old list is stale (events went to the old session).
    members = null;
    renderMembers();
    loadMembers(); // sent after the client subscribes the channel again
    log("reset", `session reset (${reason || "unknown"}): new session ${client.sessionId}, subscriptions renewed; messages sent meanwhile are lost`);
  } else if (state === "offline" || (wasUp && state === "connecting")) {
    if (wasUp) lostAt = performance.now();
    if (reason === "goaway") return; // the goaway event has its own entry
    const retry = state === "connecting" && typeof retryMs === "number" ? `; reconnecting in ${Math.round(retryMs)} ms` : "";
    log(state === "offline" ? "offline" : "drop", `${lostBecause(reason, retryMs)}${retry}`);
  } else if (state === "closed") {
    log("closed", `closed${reason ? ` (${reason})` : ""}`);
  }
});

client.on("message", ({ seq, channel: from, data }) => {
  const li = document.createElement("li");
  li.dataset.seq = String(seq);
  if (replayLeft > 0) {
    li.classList.add("replayed");
    li.title = "replayed after the resume";
    replayLeft -= 1;
  }
  const seqEl = document.createElement("span");
  seqEl.className = "seq";
  seqEl.textContent = String(seq);
  const who = document.createElement("span");
  who.className = "who";
  const text = document.createElement("span");
  text.className = "text";
  if (data && typeof data === "object" && typeof data.text === "string") {
    who.textContent = String(data.name || "anonymous");
    text.textContent = data.text;
  } else {
    who.textContent = from;
    text.textContent = JSON.stringify(data);
  }
  li.append(seqEl, who, text);
  const atBottom = ui.messages.scrollTop + ui.messages.clientHeight >= ui.messages.scrollHeight - 4;
  ui.messages.append(li);
  if (atBottom) ui.messages.scrollTop = ui.messages.scrollHeight;
  refresh();
});

client.on("presence", ({ member, subject, state }) => {
  if (replayLeft > 0) replayLeft -= 1;
  if (members !== null) {
    if (state === "gone") members.delete(member);
    else members.set(member, { member, subject, state });
    renderMembers();
  }
  refresh();
});

client.on("error", ({ code, message }) => log("error", `error ${code}: ${message}`));

client.on("goaway", ({ reason, retryMs, url: next }) => {
  log("goaway", `goaway (${reason}): reconnecting in ${Math.round(retryMs ?? 0)} ms${next ? ` to ${next}` : ""}`);
});

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.text.value.trim();
  if (!text) return;
  ui.text.value = "";
  const pending = document.createElement("li");
  pending.textContent = `waiting for the ack: ${text}`;
  ui.outbox.append(pending);
  client
    .publish(channel, { name: ui.name.value.trim() || "anonymous", text })
    .then(() => pending.remove())
    .catch((err) => {
      pending.textContent = `not sent: ${text} (${err?.message || err})`;
      pending.classList.add("problem");
    })
    .finally(refresh);
});

ui.cut.addEventListener("click", () => client.drop());

ui.offline.addEventListener("click", () => {
  const seconds = Math.max(1, Math.min(600, Number(ui.offlineSeconds.value) || 5));
  client.suspend(seconds * 1000);
});

client.connect();
client
  .subscribe(channel, { presence: true })
  .catch((err) => {
    if (err?.code !== "too_many_members") throw err;
    // The channel holds its limit of members: chat without being listed.
    log("error", `${channel} is full of members: chatting without being listed`);
    return client.subscribe(channel);
  })
  .then(loadMembers)
  .catch((err) => log("error", `subscribe ${channel}: ${err?.message || err}`));
refresh();
