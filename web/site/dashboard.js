// The dashboard (/dashboard): polls the node's admin API (/api/supervision,
// /api/channels, /api/cluster) and /metrics about once a second and draws
// them: the supervision tree, sessions attached and detached over time,
// resumes per second by result, upstream states over time, the cluster's
// peers by name with their state, and channels of this node or, switched to
// the cluster scope, of every live node.
// With a token in the cookie wsvisor_token, every request carries it as
// `Authorization: Bearer TOKEN` (docs/api.md).

import { authHeaders, clearToken, readToken } from "./token.js";
import { parseMetrics, select, total } from "./prometheus.js";

const PERIOD_MS = 1000;
const HISTORY = 120; // samples kept for the charts: two minutes
const MIN_SLOTS = 30; // a young chart is drawn as 30 s wide, so that its first bars are not slivers
const SVG = "http://www.w3.org/2000/svg";
const REJECTS = ["unknown", "expired", "overflow"];

const $ = (id) => document.getElementById(id);
const history = []; // {t, attached, detached, resumed, unknown, expired, overflow, peers, upstreams}
let previous = null; // the last metrics sample, for counter deltas

// ---- drawing helpers ---------------------------------------------------

function svg(name, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
}

function html(name, attrs = {}, ...children) {
  const e = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.dataset[k.slice(5).replace(/-(\w)/g, (_, c) => c.toUpperCase())] = v;
    else e.setAttribute(k, String(v));
  }
  e.append(...children);
  return e;
}

/** The width of the time charts, in samples (one per second). */
function slots() {
  return Math.max(MIN_SLOTS, history.length);
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function truncate(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

/** Stacked bars, one per sample, scaled to the window's largest stack. */
function stackedBars(samples, keys, { gap = 0, height = 90 } = {}) {
  const width = slots();
  const max = Math.max(1, ...samples.map((s) => keys.reduce((sum, k) => sum + s[k], 0)));
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: "none",
    width: "100%",
    height,
    role: "img",
  });
  chart.append(svg("line", { x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5, class: "axis" }));
  const offset = width - samples.length;
  samples.forEach((s, i) => {
    let y = height;
    for (const k of keys) {
      const h = (s[k] / max) * (height - 4);
      if (h <= 0) continue;
      y -= h;
      chart.append(svg("rect", { x: offset + i + gap / 2, y, width: 1 - gap, height: h, class: `s-${k}` }));
    }
  });
  return { chart, max };
}

// ---- the supervision tree ------------------------------------------------

const BOX_W = 196;
const BOX_H = 58;
const COL = 228;
const ROW = 68;

function supervisorNode(sup) {
  return { kind: "supervisor", name: sup.name, state: "supervisor", sup, kids: sup.children.map(childNode) };
}

function childNode(child) {
  return {
    kind: "child",
    name: child.name,
    state: child.state,
    child,
    kids: child.supervisor ? [supervisorNode(child.supervisor)] : [],
  };
}

/** Places leaves on consecutive rows and each parent level with its children's middle. */
function place(node, depth, next) {
  node.depth = depth;
  if (node.kids.length === 0) {
    node.row = next.row++;
  } else {
    for (const kid of node.kids) place(kid, depth + 1, next);
    node.row = (node.kids[0].row + node.kids[node.kids.length - 1].row) / 2;
  }
}

function nodeLines(node) {
  if (node.kind === "supervisor") {
    const n = node.sup.children.length;
    return { info: `supervisor · ${node.sup.strategy}`, third: `${n} ${n === 1 ? "child" : "children"}` };
  }
  const c = node.child;
  const info = `${c.state.replace("_", " ")} · ↻ ${c.restarts} · ${c.policy}`;
  return { info, third: c.last_exit_reason ? truncate(c.last_exit_reason.replace(/^wsvisor: /, ""), 30) : c.restart };
}

function drawNode(node) {
  const x = node.depth * COL + 1;
  const y = node.row * ROW + 1;
  const g = svg("g", {
    class: "node",
    "data-kind": node.kind,
    "data-name": node.name,
    "data-state": node.state,
  });
  const { info, third } = nodeLines(node);
  g.append(
    svg("rect", { x, y, width: BOX_W, height: BOX_H, rx: 8, class: "box" }),
    svg("rect", { x, y, width: 6, height: BOX_H, rx: 3, class: `bar s-${node.state}` }),
    svg("text", { x: x + 14, y: y + 19, class: "name" }, node.name),
    svg("text", { x: x + 14, y: y + 35, class: "info" }, info),
  );
  const c = node.child;
  if (c && c.restart_in_ms !== null && c.restart_in_ms !== undefined) {
    g.dataset.restarts = String(c.restarts);
    g.append(
      svg("text", { x: x + 14, y: y + 50, class: "countdown", "data-deadline": performance.now() + c.restart_in_ms }, countdownText(c.restart_in_ms)),
    );
  } else {
    if (c) g.dataset.restarts = String(c.restarts);
    g.append(svg("text", { x: x + 14, y: y + 50, class: "info" }, third));
  }
  const title = c
    ? `${c.name}: ${c.state}, ${plural(c.restarts, "restart")} (policy ${c.policy}: at most ${c.max_restarts || "∞"} in ${c.restart_window_ms / 1000} s)` +
      (c.last_exit_reason ? `\nlast exit: ${c.last_exit_reason}` : "")
    : `${node.name}: ${node.sup.strategy}`;
  g.append(svg("title", {}, title));
  return g;
}

function countdownText(ms) {
  return ms > 0 ? `restart in ${(ms / 1000).toFixed(1)} s` : "restart due";
}

function drawTree(answer) {
  const root = supervisorNode(answer.supervisor);
  const next = { row: 0 };
  place(root, 0, next);
  const nodes = [];
  const walk = (n) => {
    nodes.push(n);
    n.kids.forEach(walk);
  };
  walk(root);
  const depth = Math.max(...nodes.map((n) => n.depth));
  const width = depth * COL + BOX_W + 2;
  const height = Math.max(1, next.row) * ROW - (ROW - BOX_H) + 2;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "tree", role: "img" });
  chart.append(svg("title", {}, `supervision tree of node ${answer.node}`));
  for (const n of nodes) {
    for (const k of n.kids) {
      const x1 = n.depth * COL + 1 + BOX_W;
      const y1 = n.row * ROW + 1 + BOX_H / 2;
      const x2 = k.depth * COL + 1;
      const y2 = k.row * ROW + 1 + BOX_H / 2;
      const mid = (x1 + x2) / 2;
      chart.append(svg("path", { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, class: "edge" }));
    }
  }
  for (const n of nodes) chart.append(drawNode(n));
  $("tree").replaceChildren(chart);
}

function tickCountdowns() {
  const now = performance.now();
  for (const t of document.querySelectorAll("#tree .countdown")) {
    t.textContent = countdownText(Number(t.dataset.deadline) - now);
  }
}

// ---- metrics panels ------------------------------------------------------

function sampleOf(samples, seconds) {
  const counter = (reason, result) => total(samples, "wsvisor_resumes_total", { result, reason });
  const totals = {
    resumed: counter("", "resumed"),
    unknown: counter("unknown", "rejected"),
    expired: counter("expired", "rejected"),
    overflow: counter("overflow", "rejected"),
  };
  const upstreams = {};
  for (const s of select(samples, "wsvisor_upstream_state")) {
    const name = s.labels.upstream;
    upstreams[name] ??= "removed";
    if (s.value === 1) upstreams[name] = s.labels.state;
  }
  const sample = {
    attached: total(samples, "wsvisor_sessions", { state: "attached" }),
    detached: total(samples, "wsvisor_sessions", { state: "detached" }),
    peers: total(samples, "wsvisor_cluster_peers"),
    lost: total(samples, "wsvisor_cluster_peers_lost_total"),
    upstreams,
    totals,
  };
  for (const k of ["resumed", ...REJECTS]) {
    // A counter that went down means the node restarted: count from zero.
    const before = previous ? previous.totals[k] : totals[k];
    const delta = totals[k] >= before ? totals[k] - before : totals[k];
    sample[k] = seconds > 0 ? delta / seconds : 0;
  }
  return sample;
}

function drawSessions(sample) {
  $("attached").textContent = String(sample.attached);
  $("detached").textContent = String(sample.detached);
  const { chart, max } = stackedBars(history, ["attached", "detached"]);
  chart.setAttribute("aria-label", `sessions over the last ${history.length} s, up to ${max}`);
  $("sessions-chart").replaceChildren(chart);
  $("sessions-window").textContent = `last ${history.length} s · scale 0–${max}`;
}

function drawResumes(sample) {
  const t = sample.totals;
  const all = t.resumed + t.unknown + t.expired + t.overflow;
  $("resume-rate").textContent = all === 0 ? "–" : `${Math.round((100 * t.resumed) / all)} %`;
  $("resume-totals").textContent =
    `since start: ${t.resumed} resumed, ${t.unknown} unknown, ${t.expired} expired, ${t.overflow} overflow`;
  const { chart, max } = stackedBars(history, ["resumed", ...REJECTS], { gap: 0.25 });
  chart.setAttribute("aria-label", `resumes per second over the last ${history.length} s, up to ${max.toFixed(1)}`);
  $("resumes-chart").replaceChildren(chart);
}

function drawUpstreams(sample, samples) {
  const names = Object.keys(sample.upstreams).sort();
  if (names.length === 0) {
    $("upstreams").replaceChildren(html("p", { class: "muted" }, "no [[upstream]] configured"));
    return;
  }
  const rows = names.map((name) => {
    const state = sample.upstreams[name];
    const restarts = total(samples, "wsvisor_supervisor_restarts_total", { supervisor: "upstream_links", child: name });
    const strip = svg("svg", { viewBox: `0 0 ${slots()} 10`, preserveAspectRatio: "none", width: "100%", height: 14, role: "img" });
    strip.append(svg("title", {}, `${name}: state over the last ${history.length} s`));
    const offset = slots() - history.length;
    history.forEach((h, i) => {
      strip.append(svg("rect", { x: offset + i, y: 0, width: 1.02, height: 10, class: `s-${h.upstreams[name] || "none"}` }));
    });
    return html(
      "div",
      { class: "upstream-row", "data-upstream": name, "data-state": state },
      html("span", { class: "name", title: `${plural(restarts, "restart")}` }, `${name} ↻${restarts}`),
      html("span", { class: "pill", "data-state": state }, state.replace("_", " ")),
      strip,
    );
  });
  $("upstreams").replaceChildren(...rows);
}

/** GET /api/cluster's members, by name (an address for a peer never joined). */
function drawMembers(view) {
  $("scope-switch").hidden = !view.enabled;
  if (!view.enabled) {
    $("peer-list").replaceChildren(html("li", { class: "muted", "data-state": "none" }, "a single node"));
    return;
  }
  const ago = (ms) => (ms === null ? "never" : `${Math.max(0, Math.round((Date.now() - ms) / 1000))} s ago`);
  const rows = view.members.map((m) =>
    html(
      "li",
      {
        "data-peer": m.node ?? m.address,
        "data-state": m.state,
        title: `${m.address ?? ""} ${m.public_url ?? ""} · last seen ${m.state === "up" ? "now" : ago(m.last_seen_ms)}`,
      },
      html("span", { class: "name" }, m.node ?? m.address),
      html("span", { class: "muted" }, m.state),
    ),
  );
  $("peer-list").replaceChildren(...(rows.length ? rows : [html("li", { class: "muted", "data-state": "none" }, "no peers")]));
}

function drawPeers(sample) {
  $("peers").textContent = String(sample.peers);
  $("peers-lost").textContent = String(sample.lost);
  const height = 40;
  const max = Math.max(1, ...history.map((h) => h.peers));
  const offset = slots() - history.length;
  const points = history.map((h, i) => `${offset + i},${height - 2 - (h.peers / max) * (height - 4)}`).join(" ");
  const chart = svg("svg", { viewBox: `0 0 ${slots()} ${height}`, preserveAspectRatio: "none", width: "100%", height, role: "img" });
  chart.append(svg("title", {}, `peers over the last ${history.length} s`));
  chart.append(svg("polyline", { points, class: "line-peers", "vector-effect": "non-scaling-stroke" }));
  $("peers-chart").replaceChildren(chart);
}

function drawFacts(samples) {
  const version = select(samples, "wsvisor_build_info")[0]?.labels.version ?? "?";
  const mib = total(samples, "wsvisor_process_resident_memory_bytes") / 1048576;
  $("facts").textContent =
    `v${version} · ${plural(total(samples, "wsvisor_connections"), "connection")} · ` +
    `${mib.toFixed(1)} MiB · ${total(samples, "wsvisor_process_open_fds")} fds`;
}

function drawChannels(answer) {
  const channels = answer.channels;
  if (channels.length === 0) {
    $("channels").replaceChildren(html("p", { class: "muted" }, "no channels"));
    return;
  }
  const max = Math.max(1, ...channels.map((c) => c.subscribers));
  const cluster = answer.scope === "cluster";
  const rows = channels.map((c) => {
    const bar = html("div", { class: c.owned ? "bar owned" : "bar" });
    bar.style.width = `${(100 * c.subscribers) / max}%`;
    const peers = c.peers ? ` +${plural(c.peers, "peer")}` : "";
    const owner = c.owned ? ` ← ${c.upstream}` : "";
    const where = cluster ? ` @${c.node}` : "";
    return html(
      "div",
      {
        class: "channel-row",
        "data-channel": c.name,
        "data-node": c.node ?? answer.node,
        title: `${c.name}${where}: ${plural(c.subscribers, "subscriber")}${peers}${owner}`,
      },
      html("span", { class: "name" }, `${c.name}${where}`),
      html("div", {}, bar),
      html("span", { class: "mono" }, `${c.subscribers}${cluster ? "" : peers}${owner}`),
    );
  });
  if (answer.next !== null) rows.push(html("p", { class: "muted" }, "and more…"));
  for (const m of answer.missing ?? [])
    rows.push(html("p", { class: "problem", "data-missing": m.node }, `${m.node} did not answer: ${m.message}`));
  $("channels").replaceChildren(...rows);
}

// ---- polling ---------------------------------------------------------------

class HttpError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error;
  }
}

async function get(path, as) {
  const res = await fetch(path, { headers: authHeaders(), cache: "no-store", signal: AbortSignal.timeout(6000) });
  if (!res.ok) {
    let body = null;
    try {
      body = await res.json();
    } catch {}
    throw new HttpError(res.status, body);
  }
  return as === "json" ? res.json() : res.text();
}

function showProblem(where, err) {
  const p = html("p", { class: "problem" }, `${where}: ${err.message}`);
  return p;
}

function banner(err) {
  const el = $("banner");
  if (!err) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  if (err.status === 401) {
    const again = html("a", { href: "dashboard" }, "log in again");
    again.addEventListener("click", () => clearToken());
    el.replaceChildren(`The node refused the admin token (401). `, again);
  } else {
    el.replaceChildren(`The node does not answer: ${err.message}`);
  }
}

let lastPoll = null;

async function poll() {
  const started = performance.now();
  const scope = $("scope").value === "cluster" ? "&scope=cluster" : "";
  const [sup, channels, metrics, members] = await Promise.allSettled([
    get("api/supervision", "json"),
    get(`api/channels?limit=50${scope}`, "json"),
    get("metrics", "text"),
    get("api/cluster", "json"),
  ]);
  const failures = [sup, channels, metrics, members].filter((r) => r.status === "rejected").map((r) => r.reason);
  const unauthorized = failures.find((e) => e.status === 401);
  banner(unauthorized || (failures.length === 4 ? failures[0] : null));
  if (members.status === "fulfilled") drawMembers(members.value);
  else $("peer-list").replaceChildren(html("li", {}, showProblem("cluster", members.reason)));

  if (sup.status === "fulfilled") {
    $("node").textContent = sup.value.node;
    drawTree(sup.value);
  } else {
    $("tree").replaceChildren(showProblem("supervision", sup.reason));
  }
  if (channels.status === "fulfilled") drawChannels(channels.value);
  else $("channels").replaceChildren(showProblem("channels", channels.reason));
  if (metrics.status === "fulfilled") {
    const samples = parseMetrics(metrics.value);
    const seconds = lastPoll === null ? 0 : (started - lastPoll) / 1000;
    const sample = sampleOf(samples, seconds);
    history.push(sample);
    if (history.length > HISTORY) history.shift();
    previous = sample;
    lastPoll = started;
    drawFacts(samples);
    drawSessions(sample);
    drawResumes(sample);
    drawUpstreams(sample, samples);
    drawPeers(sample);
  }

  const pill = $("poll");
  pill.dataset.state = failures.length === 0 ? "ok" : "error";
  pill.textContent = failures.length === 0 ? `live · ${new Date().toLocaleTimeString([], { hour12: false })}` : "trouble";
  setTimeout(poll, Math.max(0, PERIOD_MS - (performance.now() - started)));
}

if (readToken()) {
  const logout = $("logout");
  logout.hidden = false;
  logout.addEventListener("click", () => clearToken());
}
setInterval(tickCountdowns, 100);
poll();
