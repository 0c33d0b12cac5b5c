// wsvisor-client: a dependency-free client of the wsvisor.v1 protocol for
// browsers and Node. It keeps one logical session across any number of
// WebSocket connections: it reconnects with full-jitter backoff, resumes the
// session, resends unacknowledged publishes and reports every message (and
// presence event) once and in order. The wire contract is wsvisor's
// docs/protocol.md; README.md next to this file describes the API.

const SUBPROTOCOL = "wsvisor.v1";
const MSGPACK_SUBPROTOCOL = "wsvisor.v1.msgpack";
const CHANNEL_RE = /^[A-Za-z0-9_.:-]{1,128}$/;
const ACK_EVERY = 16; // ack after this many messages…
const ACK_INTERVAL_MS = 100; // …or this long after the first unacknowledged one
const OPEN = 1; // WebSocket.OPEN in every implementation

/** Error with a machine-readable `code`; publish/subscribe/presence promises reject with it. */
export class WsvisorError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = "WsvisorError";
    this.code = code;
  }
}

// ---- MessagePack (wsvisor.v1.msgpack; the client's own small codec) ----

/** A MessagePack ext value: `type` (-128..127) and its `data` bytes. */
export class MsgpackExt {
  /** @param {number} type @param {Uint8Array} data */
  constructor(type, data) {
    this.type = type;
    this.data = data;
  }
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * `value` in MessagePack: null and undefined as nil (undefined object members
 * are left out, as JSON.stringify does), integers in their smallest form
 * (bigint as 64-bit), other numbers as float 64, strings as str, Uint8Array,
 * ArrayBuffer and other typed arrays as bin, arrays, Map and plain objects as
 * maps, MsgpackExt as ext; an object with toJSON() as what it returns.
 * Throws a TypeError for anything else (functions, symbols, cycles past 100 levels).
 * @param {any} value
 * @returns {Uint8Array}
 */
export function encodeMsgpack(value) {
  let buf = new Uint8Array(64);
  let view = new DataView(buf.buffer);
  let n = 0;
  const room = (k) => {
    if (n + k <= buf.length) return;
    let size = buf.length * 2;
    while (size < n + k) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(buf.subarray(0, n));
    buf = bigger;
    view = new DataView(buf.buffer);
  };
  const byte = (b) => {
    room(1);
    buf[n++] = b;
  };
  const head = (small, base, codes, len) => {
    // fix form when `small` allows it, else 8-, 16- or 32-bit length
    if (small && len < small) return byte(base | len);
    if (codes[0] && len < 0x100) return byte(codes[0]), byte(len);
    room(5);
    if (len < 0x10000) {
      buf[n++] = codes[1];
      view.setUint16(n, len);
      n += 2;
    } else {
      buf[n++] = codes[2];
      view.setUint32(n, len);
      n += 4;
    }
  };
  const bytes = (b) => {
    room(b.length);
    buf.set(b, n);
    n += b.length;
  };
  const int = (v) => {
    room(9);
    if (v >= 0) {
      if (v < 0x80) buf[n++] = v;
      else if (v < 0x100) (buf[n++] = 0xcc), (buf[n++] = v);
      else if (v < 0x10000) (buf[n++] = 0xcd), view.setUint16(n, v), (n += 2);
      else if (v < 0x100000000) (buf[n++] = 0xce), view.setUint32(n, v), (n += 4);
      else (buf[n++] = 0xcf), view.setBigUint64(n, BigInt(v)), (n += 8);
    } else if (v >= -32) buf[n++] = v & 0xff;
    else if (v >= -0x80) (buf[n++] = 0xd0), view.setInt8(n, v), (n += 1);
    else if (v >= -0x8000) (buf[n++] = 0xd1), view.setInt16(n, v), (n += 2);
    else if (v >= -0x80000000) (buf[n++] = 0xd2), view.setInt32(n, v), (n += 4);
    else (buf[n++] = 0xd3), view.setBigInt64(n, BigInt(v)), (n += 8);
  };
  const put = (v, depth) => {
    if (depth > 100) throw new TypeError("encodeMsgpack: nested deeper than 100 levels");
    if (v === null || v === undefined) return byte(0xc0);
    if (v === false) return byte(0xc2);
    if (v === true) return byte(0xc3);
    if (typeof v === "number") {
      if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER) return int(v);
      room(9);
      buf[n++] = 0xcb;
      view.setFloat64(n, v);
      n += 8;
      return;
    }
    if (typeof v === "bigint") {
      if (v < -(2n ** 63n) || v >= 2n ** 64n) throw new TypeError("encodeMsgpack: a bigint beyond 64 bits");
      room(9);
      buf[n++] = v < 0n ? 0xd3 : 0xcf;
      if (v < 0n) view.setBigInt64(n, v);
      else view.setBigUint64(n, v);
      n += 8;
      return;
    }
    if (typeof v === "string") {
      const b = utf8Encoder.encode(v);
      head(32, 0xa0, [0xd9, 0xda, 0xdb], b.length);
      return bytes(b);
    }
    if (v instanceof MsgpackExt) {
      const d = v.data;
      const fixed = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 }[d.length];
      if (fixed) byte(fixed);
      else head(0, 0, [0xc7, 0xc8, 0xc9], d.length);
      byte(v.type & 0xff);
      return bytes(d);
    }
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
      const b = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      head(0, 0, [0xc4, 0xc5, 0xc6], b.length);
      return bytes(b);
    }
    if (Array.isArray(v)) {
      head(16, 0x90, [0, 0xdc, 0xdd], v.length);
      for (const e of v) put(e, depth + 1);
      return;
    }
    if (v instanceof Map) {
      head(16, 0x80, [0, 0xde, 0xdf], v.size);
      for (const [k, e] of v) put(k, depth + 1), put(e, depth + 1);
      return;
    }
    if (typeof v === "object") {
      if (typeof v.toJSON === "function") return put(v.toJSON(), depth);
      const keys = Object.keys(v).filter((k) => v[k] !== undefined && typeof v[k] !== "function");
      head(16, 0x80, [0, 0xde, 0xdf], keys.length);
      for (const k of keys) put(k, depth + 1), put(v[k], depth + 1);
      return;
    }
    throw new TypeError(`encodeMsgpack: cannot encode a ${typeof v}`);
  };
  put(value, 0);
  return buf.slice(0, n);
}

/**
 * One MessagePack value from `input` (Uint8Array or ArrayBuffer): maps whose
 * keys are all strings as plain objects, others as Map; bin as Uint8Array;
 * ext as MsgpackExt; 64-bit integers beyond 2^53 as bigint. Throws on
 * malformed or trailing bytes.
 * @param {Uint8Array|ArrayBuffer} input
 * @returns {any}
 */
export function decodeMsgpack(input) {
  const buf = input instanceof Uint8Array ? input : new Uint8Array(input);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let n = 0;
  const need = (k) => {
    if (n + k > buf.length) throw new RangeError("decodeMsgpack: truncated input");
  };
  const take = (k) => {
    need(k);
    const b = buf.subarray(n, n + k);
    n += k;
    return b;
  };
  // A copy, always a plain Uint8Array (a Node Buffer's slice() is a view).
  const copy = (k) => new Uint8Array(take(k));
  const u = (bits) => {
    need(bits / 8);
    const v = bits === 8 ? view.getUint8(n) : bits === 16 ? view.getUint16(n) : view.getUint32(n);
    n += bits / 8;
    return v;
  };
  const big = (signed) => {
    need(8);
    const v = signed ? view.getBigInt64(n) : view.getBigUint64(n);
    n += 8;
    return v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const str = (len) => utf8Decoder.decode(take(len));
  const array = (len, depth) => {
    const out = [];
    for (let i = 0; i < len; i++) out.push(get(depth + 1));
    return out;
  };
  const map = (len, depth) => {
    const entries = [];
    for (let i = 0; i < len; i++) entries.push([get(depth + 1), get(depth + 1)]);
    if (!entries.every(([k]) => typeof k === "string")) return new Map(entries);
    const out = {};
    for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    return out;
  };
  const ext = (len) => {
    need(1);
    const type = view.getInt8(n++);
    return new MsgpackExt(type, copy(len));
  };
  const get = (depth) => {
    if (depth > 100) throw new RangeError("decodeMsgpack: nested deeper than 100 levels");
    const b = u(8);
    if (b < 0x80) return b;
    if (b < 0x90) return map(b & 0x0f, depth);
    if (b < 0xa0) return array(b & 0x0f, depth);
    if (b < 0xc0) return str(b & 0x1f);
    if (b >= 0xe0) return b - 0x100;
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return copy(u(8));
      case 0xc5: return copy(u(16));
      case 0xc6: return copy(u(32));
      case 0xc7: return ext(u(8));
      case 0xc8: return ext(u(16));
      case 0xc9: return ext(u(32));
      case 0xca: need(4); n += 4; return view.getFloat32(n - 4);
      case 0xcb: need(8); n += 8; return view.getFloat64(n - 8);
      case 0xcc: return u(8);
      case 0xcd: return u(16);
      case 0xce: return u(32);
      case 0xcf: return big(false);
      case 0xd0: need(1); n += 1; return view.getInt8(n - 1);
      case 0xd1: need(2); n += 2; return view.getInt16(n - 2);
      case 0xd2: need(4); n += 4; return view.getInt32(n - 4);
      case 0xd3: return big(true);
      case 0xd4: return ext(1);
      case 0xd5: return ext(2);
      case 0xd6: return ext(4);
      case 0xd7: return ext(8);
      case 0xd8: return ext(16);
      case 0xd9: return str(u(8));
      case 0xda: return str(u(16));
      case 0xdb: return str(u(32));
      case 0xdc: return array(u(16), depth);
      case 0xdd: return array(u(32), depth);
      case 0xde: return map(u(16), depth);
      case 0xdf: return map(u(32), depth);
    }
    throw new RangeError(`decodeMsgpack: 0x${b.toString(16)} is not a MessagePack type`);
  };
  const value = get(0);
  if (n !== buf.length) throw new RangeError("decodeMsgpack: bytes after the value");
  return value;
}

function base64ToBytes(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesToBase64(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** Resolves a ws(s) URL; http(s) and relative URLs are taken relative to the page. */
function websocketUrl(url) {
  if (/^wss?:\/\//i.test(url)) return url;
  const base = globalThis.location ? globalThis.location.href : undefined;
  const u = new URL(url, base);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  return u.href;
}

/**
 * A wsvisor.v1 client: one session kept across reconnects.
 *
 * States: `idle` (before connect), `connecting`, `connected`, `resumed`,
 * `reset`, `offline`, `closed`. Events: `state`, `message`, `presence`,
 * `error`, `goaway`.
 */
export class WsvisorClient {
  /**
   * @param {string} url `ws://` or `wss://` URL of the server's WebSocket path
   *   (an `http(s)://` or relative URL is resolved against the page's location)
   * @param {object} [options]
   * @param {Function} [options.WebSocket] WebSocket constructor (default globalThis.WebSocket)
   * @param {string} [options.auth] sent as `auth` with hello and resume (a JWT where `[auth]` is on)
   * @param {{initialMs?: number, maxMs?: number}} [options.backoff] full-jitter backoff
   *   (default 250 ms … 10 s)
   * @param {number} [options.heartbeatGraceMs] silence beyond welcome.heartbeat_ms after
   *   which the connection is dead (default: half of heartbeat_ms, at least 1000 ms)
   * @param {number} [options.connectTimeoutMs] bound on opening a socket and getting the
   *   welcome (default 10000)
   * @param {number} [options.maxPendingPublishes] unacknowledged publishes held (default 10000)
   * @param {{window?: EventTarget, document?: EventTarget}} [options.environment]
   *   targets of `online`/`offline` and `visibilitychange` (default globalThis and
   *   globalThis.document when they are event targets)
   * @param {() => number} [options.random] uniform in [0, 1) (default Math.random)
   * @param {"memory"|"session"} [options.persist] where the session lives between page
   *   loads: "memory" (default: nowhere; a reload starts a new session) or "session"
   *   (sessionStorage of this tab: a reload resumes it; see docs/browser.md)
   * @param {string} [options.persistKey] the storage key (default "wsvisor:" + the URL)
   * @param {{getItem: Function, setItem: Function, removeItem: Function}} [options.storage]
   *   what persist "session" writes to (default globalThis.sessionStorage)
   * @param {"json"|"msgpack"} [options.format] the frames' encoding: "json" (default,
   *   subprotocol wsvisor.v1) or "msgpack" (wsvisor.v1.msgpack: binary frames, and
   *   `data` may hold Uint8Array, Map, bigint and MsgpackExt values)
   */
  constructor(url, options = {}) {
    this._url = websocketUrl(url);
    this._format = options.format ?? "json";
    if (this._format !== "json" && this._format !== "msgpack") {
      throw new TypeError(`WsvisorClient: format must be "json" or "msgpack", not ${JSON.stringify(this._format)}`);
    }
    const persist = options.persist ?? "memory";
    if (persist !== "memory" && persist !== "session") {
      throw new TypeError(`WsvisorClient: persist must be "memory" or "session", not ${JSON.stringify(persist)}`);
    }
    this._storage = persist === "session" ? options.storage ?? globalThis.sessionStorage ?? null : null;
    if (persist === "session" && !this._storage) {
      throw new TypeError('WsvisorClient: persist "session" needs sessionStorage (or options.storage)');
    }
    this._storageKey = options.persistKey ?? `wsvisor:${this._url}`;
    this._saveQueued = false;
    this._WebSocket = options.WebSocket || globalThis.WebSocket;
    if (typeof this._WebSocket !== "function") {
      throw new TypeError("WsvisorClient: no WebSocket implementation; pass options.WebSocket");
    }
    this._auth = options.auth;
    this._initialMs = options.backoff?.initialMs ?? 250;
    this._maxMs = options.backoff?.maxMs ?? 10000;
    this._graceMs = options.heartbeatGraceMs;
    this._connectTimeoutMs = options.connectTimeoutMs ?? 10000;
    this._maxPending = options.maxPendingPublishes ?? 10000;
    this._random = options.random || Math.random;
    const env = options.environment || {};
    this._window = env.window !== undefined ? env.window : typeof globalThis.addEventListener === "function" ? globalThis : null;
    this._document = env.document !== undefined ? env.document : globalThis.document || null;

    this._listeners = new Map();
    this._state = "idle";
    this._ws = null; // the current socket, null while disconnected
    this._welcomed = false; // the current socket carries the session
    this._opened = false; // the current socket has opened (losing it counts as a drop)
    this._session = null;
    this._token = null;
    this._lastSeq = 0; // highest seq delivered to the app in this session
    this._ackedSeq = 0; // highest seq acknowledged to the server
    this._lastCseq = 0; // highest cseq the server acknowledged in this session
    this._nextCseq = 1;
    this._pending = []; // unacknowledged publishes in cseq order: {cseq, channel, data, resolve, reject}
    this._wanted = new Set(); // channels the app wants
    this._presence = new Set(); // wanted channels the app wants to be a member of (subscribe with presence)
    this._confirmed = new Set(); // channels the current session holds
    this._confirmedPresence = new Set(); // channels the current session holds as a member
    this._subWaiters = new Map(); // channel -> [{resolve, reject, presence}] for subscribe
    this._unsubWaiters = new Map(); // channel -> [resolve] for unsubscribe
    this._subsInFlight = []; // {channel, presence} of each `subscribe` awaiting its answer on this socket, in order
    this._presenceAsked = new Map(); // channel -> [{resolve, reject}]: presence() calls not sent yet
    this._presenceInFlight = []; // {channel, waiters} of each `presence` query awaiting its answer on this socket, in order
    this._welcoming = false; // inside _welcome: queries wait until its subscribes are sent
    this._attempt = 0; // consecutive failed links since the last welcome
    this._retryTimer = null;
    this._watchdog = null;
    this._ackTimer = null;
    this._heartbeatMs = 0;
    this._offlineReason = null; // "offline" | "suspend" | "goaway" while reconnects wait for it
    this._stats = { connects: 0, drops: 0, resumes: 0, resets: 0, replayed: 0, received: 0, presenceEvents: 0, published: 0, acked: 0, duplicates: 0, resent: 0 };

    this._onOnline = () => this._online();
    this._onOffline = () => this._offline();
    this._onVisibility = () => this._visibility();
    this._restore();
  }

  /** Session id of the current session, null before the first welcome. */
  get sessionId() {
    return this._session;
  }
  /** Highest seq delivered to `message` and `presence` listeners in the current session. */
  get lastSeq() {
    return this._lastSeq;
  }
  /** Highest cseq the server has acknowledged in the current session. */
  get lastCseq() {
    return this._lastCseq;
  }
  /** `idle`, `connecting`, `connected`, `resumed`, `reset`, `offline` or `closed`. */
  get state() {
    return this._state;
  }
  /** The URL the next connection goes to (a goaway's `url` replaces it). */
  get url() {
    return this._url;
  }
  /** Publishes not yet acknowledged. */
  get pendingPublishes() {
    return this._pending.length;
  }
  /** A snapshot of the counters. */
  get stats() {
    return { ...this._stats };
  }

  /**
   * Adds a listener; returns a function that removes it.
   * @param {"state"|"message"|"presence"|"error"|"goaway"} event
   * @param {(payload: any) => void} fn
   * @returns {() => void}
   */
  on(event, fn) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(fn);
    return () => this.off(event, fn);
  }

  /** Removes a listener added with `on`. */
  off(event, fn) {
    this._listeners.get(event)?.delete(fn);
  }

  /** Starts connecting; does nothing when already started (or closed). */
  connect() {
    if (this._state !== "idle") return;
    this._window?.addEventListener?.("online", this._onOnline);
    this._window?.addEventListener?.("offline", this._onOffline);
    this._document?.addEventListener?.("visibilitychange", this._onVisibility);
    this._open();
  }

  /**
   * Subscribes to a channel; resolves when the server confirms (`subscribed`).
   * With `{ presence: true }` the session also becomes a member of the
   * channel (protocol.md, "Presence"): the promise resolves once it is one,
   * and from then on the client emits `presence` events about the other
   * members. Membership lasts until `unsubscribe`: a later `subscribe(channel)`
   * without it keeps it. The subscription (and membership) is remembered and
   * restored after a reset. Rejects with a WsvisorError for an invalid name,
   * a refusal (`forbidden`, `too_many_subscriptions`, `too_many_channels`,
   * `too_many_members`) or `close()`.
   * @param {string} channel
   * @param {{presence?: boolean}} [options]
   * @returns {Promise<void>}
   */
  subscribe(channel, options = {}) {
    if (!CHANNEL_RE.test(String(channel))) return Promise.reject(new WsvisorError("bad_channel", `invalid channel name: ${channel}`));
    if (this._state === "closed") return Promise.reject(new WsvisorError("closed", "the client is closed"));
    const presence = options?.presence === true;
    this._wanted.add(channel);
    if (presence) this._presence.add(channel);
    this._save();
    // (A pending unsubscribe is answered first: answers come in order.)
    const held = this._confirmed.has(channel) && (!presence || this._confirmedPresence.has(channel));
    if (held && !this._unsubWaiters.has(channel)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiters = this._subWaiters.get(channel);
      const waiter = { resolve, reject, presence };
      if (!waiters) {
        this._subWaiters.set(channel, [waiter]);
        return this._sendSubscribe(channel);
      }
      waiters.push(waiter);
      // A subscribe on its way without presence does not make the session a member.
      if (presence && !this._subsInFlight.some((s) => s.channel === channel && s.presence)) this._sendSubscribe(channel);
    });
  }

  /**
   * Unsubscribes; resolves when the server confirms (`unsubscribed`), or at
   * once when no session holds the channel. Messages on it that arrive before
   * the confirmation are still delivered.
   * @param {string} channel
   * @returns {Promise<void>}
   */
  unsubscribe(channel) {
    if (!CHANNEL_RE.test(String(channel))) return Promise.reject(new WsvisorError("bad_channel", `invalid channel name: ${channel}`));
    this._wanted.delete(channel);
    this._presence.delete(channel);
    this._save();
    const waiters = this._subWaiters.get(channel);
    this._subWaiters.delete(channel);
    for (const w of waiters || []) w.reject(new WsvisorError("unsubscribed", `unsubscribed from ${channel} before it was confirmed`));
    if (this._state === "closed" || (!this._confirmed.has(channel) && !waiters)) return Promise.resolve();
    return new Promise((resolve) => {
      const first = !this._unsubWaiters.has(channel);
      if (first) this._unsubWaiters.set(channel, []);
      this._unsubWaiters.get(channel).push(resolve);
      if (first) this._send({ type: "unsubscribe", channel });
    });
  }

  /**
   * Asks the server who the members of `channel` are; resolves with the
   * answer's `members`, `[{member, subject, state}]` (`state` `online` or
   * `away`; this session among them when it is a member). The session must
   * be subscribed to the channel (with or without presence). Sent once the
   * client is connected, after the subscribes it has still to send (the
   * server answers in order, so `subscribe(c)` then `presence(c)` works
   * without waiting); calls for one channel made before it is sent share one
   * query. Rejects with a WsvisorError: `bad_channel`, `not_subscribed` (the
   * server's refusal), `disconnected` (the connection it was sent on was lost
   * before the answer: ask again after the resume), `closed`.
   * @param {string} channel
   * @returns {Promise<Array<{member: string, subject: string|null, state: string}>>}
   */
  presence(channel) {
    if (!CHANNEL_RE.test(String(channel))) return Promise.reject(new WsvisorError("bad_channel", `invalid channel name: ${channel}`));
    if (this._state === "closed") return Promise.reject(new WsvisorError("closed", "the client is closed"));
    return new Promise((resolve, reject) => {
      if (!this._presenceAsked.has(channel)) this._presenceAsked.set(channel, []);
      this._presenceAsked.get(channel).push({ resolve, reject });
      this._sendPresenceQueries();
    });
  }

  /**
   * Publishes `data` (any JSON value) to `channel`; resolves with its cseq when
   * the server acknowledges it. Queued while disconnected; resent after a
   * resume until acknowledged; after a reset, renumbered and sent in the new
   * session (see README: at least once across a reset). Rejects for an invalid
   * channel or value, `full` (maxPendingPublishes unacknowledged), a refusal
   * (`upstream_down`, `forbidden`) or `close()`.
   * @param {string} channel
   * @param {any} data
   * @returns {Promise<number>}
   */
  publish(channel, data) {
    if (!CHANNEL_RE.test(String(channel))) return Promise.reject(new WsvisorError("bad_channel", `invalid channel name: ${channel}`));
    if (this._state === "closed") return Promise.reject(new WsvisorError("closed", "the client is closed"));
    if (data === undefined) return Promise.reject(new WsvisorError("bad_data", "data must be a value (undefined is not)"));
    try {
      if (this._format === "msgpack") encodeMsgpack(data);
      else JSON.stringify(data);
    } catch (err) {
      return Promise.reject(new WsvisorError("bad_data", `data is not serialisable as ${this._format === "msgpack" ? "MessagePack" : "JSON"}: ${err.message}`));
    }
    if (this._pending.length >= this._maxPending) {
      return Promise.reject(new WsvisorError("full", `${this._pending.length} publishes are unacknowledged`));
    }
    return new Promise((resolve, reject) => {
      const p = { cseq: this._nextCseq++, channel, data, resolve, reject };
      this._pending.push(p);
      this._save();
      this._stats.published++;
      if (this._welcomed) this._sendPublish(p);
    });
  }

  /**
   * Cuts the current connection abruptly, without `bye` (Node `ws`:
   * terminate(); browsers: close code 4000). The session stays resumable and
   * the client reconnects and resumes through its normal backoff.
   */
  drop() {
    if (!this._ws) return;
    this._lost("drop", true);
  }

  /**
   * Goes offline for `ms`: drops the connection (no `bye`), state `offline`,
   * no reconnect until `ms` have passed; then reconnects at once and resumes.
   * @param {number} ms
   */
  suspend(ms) {
    if (this._state === "closed" || this._state === "idle") return;
    this._goOffline("suspend", ms);
  }

  /** Sends `bye` (ending the session at once), closes with 1000; no reconnect. */
  close() {
    if (this._state === "closed") return;
    const ws = this._ws;
    // In the connection's format: a text bye on wsvisor.v1.msgpack is refused
    // (text_unsupported) and the session would wait out its resume window.
    if (this._welcomed) this._sendNow({ type: "bye" });
    this._detach(new WsvisorError("closed", "the client is closed: closed by the application"));
    if (ws) ws.close(1000, "bye");
    this._stop("closed by the application");
    // The session ended with bye: nothing to resume after a reload.
    if (this._storage) {
      try {
        this._storage.removeItem(this._storageKey);
      } catch {}
      this._storage = null;
    }
  }

  // ---- persistence (options.persist "session") ----

  /** A saved session of this tab (an earlier page load): resumed on connect. */
  _restore() {
    if (!this._storage) return;
    let saved = null;
    try {
      saved = JSON.parse(this._storage.getItem(this._storageKey) ?? "null");
    } catch {
      saved = null; // unreadable: start afresh
    }
    if (!saved || typeof saved.session !== "string" || typeof saved.token !== "string") return;
    this._session = saved.session;
    this._token = saved.token;
    this._lastSeq = Number.isInteger(saved.lastSeq) ? saved.lastSeq : 0;
    this._lastCseq = Number.isInteger(saved.lastCseq) ? saved.lastCseq : 0;
    this._nextCseq = Math.max(Number.isInteger(saved.nextCseq) ? saved.nextCseq : 1, this._lastCseq + 1);
    // The session holds these: a resume keeps them, a reset subscribes them again.
    for (const ch of Array.isArray(saved.channels) ? saved.channels : []) {
      if (!CHANNEL_RE.test(String(ch))) continue;
      this._wanted.add(ch);
      this._confirmed.add(ch);
    }
    // …and is a member of these (subscribed with presence).
    for (const ch of Array.isArray(saved.presence) ? saved.presence : []) {
      if (!this._wanted.has(ch)) continue;
      this._presence.add(ch);
      this._confirmedPresence.add(ch);
    }
    // Publishes the last page load made and the server did not acknowledge:
    // resent after the resume (the server drops those it already took).
    for (const p of Array.isArray(saved.pending) ? saved.pending : []) {
      if (!Number.isInteger(p?.cseq) || !CHANNEL_RE.test(String(p.channel))) continue;
      let data = p.data;
      if (typeof p.data_msgpack === "string") {
        try {
          data = decodeMsgpack(base64ToBytes(p.data_msgpack));
        } catch {
          continue;
        }
      }
      if (data === undefined) continue;
      this._pending.push({ cseq: p.cseq, channel: p.channel, data, resolve() {}, reject() {} });
    }
  }

  /** Writes the session's state once the current task is done (one write per task). */
  _save() {
    if (!this._storage || this._saveQueued) return;
    this._saveQueued = true;
    queueMicrotask(() => {
      this._saveQueued = false;
      if (!this._storage || this._session === null) return;
      const state = {
        session: this._session,
        token: this._token,
        lastSeq: this._lastSeq,
        lastCseq: this._lastCseq,
        nextCseq: this._nextCseq,
        channels: [...this._wanted],
        presence: [...this._presence],
        // MessagePack data may hold bytes, which JSON cannot: kept as base64 of its encoding.
        pending: this._pending.map(({ cseq, channel, data }) =>
          this._format === "msgpack" ? { cseq, channel, data_msgpack: bytesToBase64(encodeMsgpack(data)) } : { cseq, channel, data }),
      };
      try {
        this._storage.setItem(this._storageKey, JSON.stringify(state));
      } catch (err) {
        // A full or disabled storage: the session still works, a reload starts a new one.
        this._emit("error", { code: "persist_failed", message: `sessionStorage refused the session: ${err.message}` });
      }
    });
  }

  // ---- connection lifecycle ----

  _open() {
    this._clearTimer("_retryTimer");
    this._offlineReason = null;
    let ws;
    try {
      ws = new this._WebSocket(this._url, [this._format === "msgpack" ? MSGPACK_SUBPROTOCOL : SUBPROTOCOL]);
      if (this._format === "msgpack") ws.binaryType = "arraybuffer";
    } catch (err) {
      this._setState("connecting", { url: this._url, attempt: this._attempt });
      this._retry(`connect_failed: ${err.message}`);
      return;
    }
    this._ws = ws;
    this._welcomed = false;
    this._opened = false;
    this._subsInFlight = [];
    this._setState("connecting", { url: this._url, attempt: this._attempt });
    this._arm(this._connectTimeoutMs, "connect_timeout");
    ws.addEventListener("open", () => {
      if (ws !== this._ws) return;
      this._opened = true;
      this._stats.connects++;
      // `auth` goes with a resume too: should the resume fail, the server
      // starts the new session with it (protocol.md).
      const auth = this._auth === undefined ? {} : { auth: this._auth };
      if (this._session) this._sendNow({ type: "resume", session: this._session, token: this._token, last_seq: this._lastSeq, ...auth });
      else this._sendNow({ type: "hello", ...auth });
    });
    ws.addEventListener("message", (ev) => {
      if (ws !== this._ws) return;
      this._frame(ev.data);
    });
    ws.addEventListener("close", (ev) => {
      if (ws !== this._ws) return;
      this._closedByServer(ev.code, ev.reason);
    });
    ws.addEventListener("error", () => {
      // A `close` event follows every `error`; it decides what happens.
    });
  }

  /** The socket is gone (or is being cut): clean up and schedule the next one. */
  _lost(reason, abrupt) {
    const opened = this._opened;
    const ws = this._detach();
    if (ws && abrupt) {
      if (typeof ws.terminate === "function") ws.terminate();
      else ws.close(4000, "drop");
    }
    if (opened) this._stats.drops++;
    this._retry(reason);
  }

  /**
   * Forgets the current socket: its late events are ignored from now on.
   * Presence queries sent on it can no longer be answered: rejected with
   * `error` (default: `disconnected`).
   */
  _detach(error) {
    const ws = this._ws;
    this._ws = null;
    this._welcomed = false;
    this._opened = false;
    this._subsInFlight = [];
    const unanswered = this._presenceInFlight.splice(0);
    if (unanswered.length > 0) {
      const why = error ?? new WsvisorError("disconnected", "the connection was lost before the presence answer");
      for (const q of unanswered) for (const w of q.waiters) w.reject(why);
    }
    this._clearTimer("_watchdog");
    this._clearTimer("_ackTimer"); // the resume's last_seq tells the next connection
    return ws;
  }

  _retry(reason) {
    if (this._state === "closed") return;
    if (this._offlineReason) return; // an offline wait decides when to come back
    const cap = Math.min(this._maxMs, this._initialMs * 2 ** this._attempt);
    const delay = Math.floor(this._random() * cap);
    this._attempt++;
    this._setState("connecting", { reason, retryMs: delay, attempt: this._attempt }, true);
    this._retryTimer = setTimeout(() => this._open(), delay);
  }

  _closedByServer(code, reason) {
    const why = `closed ${code}${reason ? `: ${reason}` : ""}`;
    if (code === 4409) {
      this._detach();
      return this._stop(`resumed elsewhere (${why})`);
    }
    if (code === 1008 && !this._welcomed) {
      // Refused before any session (repeated bad auth): retrying cannot help.
      this._detach();
      return this._stop(`policy: ${why}`);
    }
    this._lost(why, false);
  }

  _goOffline(reason, ms) {
    const opened = this._opened;
    const ws = this._detach();
    if (ws) {
      if (opened) this._stats.drops++;
      if (typeof ws.terminate === "function") ws.terminate();
      else ws.close(4000, reason);
    }
    this._clearTimer("_retryTimer");
    this._offlineReason = reason;
    const extra = { reason };
    if (ms !== undefined) {
      extra.retryMs = ms;
      this._retryTimer = setTimeout(() => this._open(), ms);
    }
    this._setState("offline", extra, true);
  }

  _stop(reason) {
    this._clearTimer("_retryTimer");
    this._window?.removeEventListener?.("online", this._onOnline);
    this._window?.removeEventListener?.("offline", this._onOffline);
    this._document?.removeEventListener?.("visibilitychange", this._onVisibility);
    const closed = new WsvisorError("closed", `the client is closed: ${reason}`);
    for (const p of this._pending.splice(0)) p.reject(closed);
    for (const ws of this._subWaiters.values()) for (const w of ws) w.reject(closed);
    this._subWaiters.clear();
    for (const ws of this._unsubWaiters.values()) for (const r of ws) r();
    this._unsubWaiters.clear();
    for (const ws of this._presenceAsked.values()) for (const w of ws) w.reject(closed);
    this._presenceAsked.clear();
    this._setState("closed", { reason });
  }

  _online() {
    if (this._offlineReason !== "offline") return;
    this._attempt = 0;
    this._open();
  }

  _offline() {
    if (this._state === "closed" || this._state === "idle") return;
    this._goOffline("offline");
  }

  _visibility() {
    if (this._document?.visibilityState !== "visible") return;
    // Only a backoff wait is cut short: offline, suspend and goaway waits stand.
    if (this._retryTimer !== null && !this._offlineReason && !this._ws) {
      this._attempt = 0;
      this._open();
    }
  }

  // ---- frames ----

  _frame(raw) {
    let f;
    if (this._format === "msgpack") {
      if (typeof raw === "string") return this._lost("protocol_violation: a text frame on wsvisor.v1.msgpack", true);
      try {
        f = decodeMsgpack(raw);
      } catch {
        return this._lost("protocol_violation: a frame is not MessagePack", true);
      }
    } else {
      try {
        f = JSON.parse(raw);
      } catch {
        return this._lost("protocol_violation: a frame is not JSON", true);
      }
    }
    if (!f || typeof f.type !== "string") return;
    if (this._welcomed) this._arm(this._heartbeatMs === 0 ? 0 : this._heartbeatMs + this._grace(), "heartbeat_timeout");
    switch (f.type) {
      case "welcome":
        return this._welcome(f);
      case "message":
      case "presence_event":
        return this._numbered(f);
      case "presence":
        return this._presenceAnswer(f);
      case "ack":
        return this._ack(f.cseq);
      case "ping":
        return this._sendNow({ type: "pong" });
      case "subscribed":
        return this._subscribed(f.channel);
      case "unsubscribed":
        return this._unsubscribed(f.channel);
      case "error":
        return this._error(f);
      case "goaway":
        return this._goaway(f);
    }
  }

  _grace() {
    return this._graceMs ?? Math.max(1000, Math.floor(this._heartbeatMs / 2));
  }

  _welcome(f) {
    // Presence queries made meanwhile (by a `state` listener, say) wait
    // until the subscribes below are sent: answers come in order.
    this._welcoming = true;
    try {
      this._takeWelcome(f);
    } finally {
      this._welcoming = false;
    }
    this._sendPresenceQueries();
  }

  _takeWelcome(f) {
    const resumedSession = this._session !== null && f.resumed === true && f.session === this._session;
    const wasResume = this._session !== null;
    this._welcomed = true;
    this._attempt = 0;
    this._heartbeatMs = Number(f.heartbeat_ms) || 0;
    this._arm(this._heartbeatMs === 0 ? 0 : this._heartbeatMs + this._grace(), "heartbeat_timeout");
    this._session = f.session;
    this._token = f.token;
    this._save();
    if (resumedSession) {
      this._stats.resumes++;
      const replay = typeof f.replay === "number" ? f.replay : undefined;
      if (replay !== undefined) this._stats.replayed += replay;
      this._ackUpTo(Number(f.last_cseq) || 0);
      this._setState("resumed", { sessionId: this._session, replay });
      // The session kept its subscriptions: send what it has not confirmed.
      for (const ch of this._subWaiters.keys()) this._sendSubscribe(ch);
      for (const ch of this._unsubWaiters.keys()) this._send({ type: "unsubscribe", channel: ch });
      this._resendPending();
      if (this._lastSeq > this._ackedSeq) this._scheduleAck(true);
      return;
    }
    // A new session: seqs and cseqs start again at 1; renumber what is unacknowledged.
    this._lastSeq = 0;
    this._ackedSeq = 0;
    this._lastCseq = 0;
    this._nextCseq = 1;
    for (const p of this._pending) p.cseq = this._nextCseq++;
    this._confirmed.clear();
    this._confirmedPresence.clear();
    for (const [ch, resolvers] of this._unsubWaiters) if (!this._wanted.has(ch)) for (const r of resolvers) r();
    this._unsubWaiters.clear();
    if (wasResume) {
      this._stats.resets++;
      this._setState("reset", { reason: f.reason || "unknown", sessionId: this._session });
    } else {
      this._setState("connected", { sessionId: this._session });
    }
    for (const ch of this._wanted) {
      if (!this._subWaiters.has(ch)) this._subWaiters.set(ch, []);
      this._sendSubscribe(ch);
    }
    this._resendPending();
  }

  /** A `message` or a `presence_event`: both are numbered in the session's seq (protocol.md). */
  _numbered(f) {
    const seq = Number(f.seq);
    if (!Number.isInteger(seq)) return;
    if (seq <= this._lastSeq) {
      this._stats.duplicates++;
      return;
    }
    if (seq !== this._lastSeq + 1) {
      // Something was lost: resume from what we hold, the server replays the rest.
      return this._lost(`protocol_violation: seq gap (got ${seq}, expected ${this._lastSeq + 1})`, true);
    }
    if (f.type === "presence_event") {
      this._lastSeq = seq;
      this._save();
      this._stats.presenceEvents++;
      this._emit("presence", { seq, channel: f.channel, member: f.member, subject: f.subject ?? null, state: f.state });
      return this._scheduleAck(false);
    }
    let data = f.data;
    if (data === undefined && typeof f.data_msgpack === "string") {
      // Data published over MessagePack with no JSON equivalent (protocol.md).
      try {
        data = decodeMsgpack(base64ToBytes(f.data_msgpack));
      } catch {
        return this._lost("protocol_violation: data_msgpack is not base64 of MessagePack", true);
      }
    }
    this._lastSeq = seq;
    this._save();
    this._stats.received++;
    this._emit("message", { seq, channel: f.channel, data });
    this._scheduleAck(false);
  }

  _ack(cseq) {
    const n = Number(cseq);
    if (Number.isInteger(n)) this._ackUpTo(n);
  }

  /** Everything at or below `cseq` is accepted by the server. */
  _ackUpTo(cseq) {
    if (cseq > this._lastCseq) this._lastCseq = cseq;
    this._save();
    while (this._pending.length > 0 && this._pending[0].cseq <= cseq) {
      const p = this._pending.shift();
      this._stats.acked++;
      p.resolve(p.cseq);
    }
  }

  _subscribed(channel) {
    const i = this._subsInFlight.findIndex((s) => s.channel === channel);
    const member = i >= 0 && this._subsInFlight[i].presence;
    if (i >= 0) this._subsInFlight.splice(i, 1);
    if (!this._wanted.has(channel)) return; // unsubscribed meanwhile; its unsubscribe follows
    this._confirmed.add(channel);
    if (member) this._confirmedPresence.add(channel);
    const waiters = this._subWaiters.get(channel) || [];
    // Those who asked for presence wait for the answer to a subscribe with it.
    const left = this._confirmedPresence.has(channel) ? [] : waiters.filter((w) => w.presence);
    if (left.length > 0) this._subWaiters.set(channel, left);
    else this._subWaiters.delete(channel);
    for (const w of waiters) if (!left.includes(w)) w.resolve();
  }

  _unsubscribed(channel) {
    this._confirmed.delete(channel);
    this._confirmedPresence.delete(channel);
    const resolvers = this._unsubWaiters.get(channel) || [];
    this._unsubWaiters.delete(channel);
    for (const r of resolvers) r();
  }

  _error(f) {
    const code = String(f.code);
    this._emit("error", { code, message: f.message, cseq: f.cseq });
    switch (code) {
      case "upstream_down":
      case "forbidden":
        if (f.cseq !== undefined) return this._refusePublish(Number(f.cseq), code, f.message);
        return this._refuseSubscribe(code, f.message);
      case "too_many_subscriptions":
      case "too_many_channels":
      case "too_many_members":
        return this._refuseSubscribe(code, f.message);
      case "not_subscribed":
      case "unknown_type": // a server without presence
        return this._refusePresence(code, f.message);
      case "unauthorized":
        if (!this._welcomed) {
          const ws = this._detach();
          ws?.close(1000, "unauthorized");
          return this._stop(`unauthorized: ${f.message}`);
        }
        return this._lost(`server_error: ${code}`, true);
      case "bad_cseq":
      case "rate_limited":
      case "no_session":
        // The session is out of step with what the client believes; a resume
        // re-synchronises publishes through welcome.last_cseq.
        if (this._welcomed) return this._lost(`server_error: ${code}`, true);
    }
  }

  _refusePublish(cseq, code, message) {
    const i = this._pending.findIndex((p) => p.cseq === cseq);
    if (i < 0) return;
    const [p] = this._pending.splice(i, 1);
    if (cseq > this._lastCseq) this._lastCseq = cseq; // the cseq is used
    p.reject(new WsvisorError(code, message || code));
  }

  /** Subscribe answers come in order: a refusal is for the oldest one in flight. */
  _refuseSubscribe(code, message) {
    const sub = this._subsInFlight.shift();
    if (sub === undefined) return;
    const { channel } = sub;
    const error = new WsvisorError(code, message || code);
    const waiters = this._subWaiters.get(channel) || [];
    this._presence.delete(channel);
    this._save();
    if (code !== "too_many_members") {
      this._wanted.delete(channel);
      this._subWaiters.delete(channel);
      for (const w of waiters) w.reject(error);
      return;
    }
    // Only the membership is refused: a subscription the session held stays,
    // and plain subscribe() calls waiting with this one are still made.
    const plain = waiters.filter((w) => !w.presence);
    for (const w of waiters) if (w.presence) w.reject(error);
    const held = this._confirmed.has(channel) && !this._unsubWaiters.has(channel);
    if (held || plain.length === 0) {
      this._subWaiters.delete(channel);
      if (!held) this._wanted.delete(channel);
      for (const w of plain) w.resolve();
      return;
    }
    this._subWaiters.set(channel, plain);
    if (!this._subsInFlight.some((s) => s.channel === channel)) this._sendSubscribe(channel);
  }

  /** The answer to the oldest presence query in flight for its channel. */
  _presenceAnswer(f) {
    const i = this._presenceInFlight.findIndex((q) => q.channel === f.channel);
    if (i < 0) return;
    const [q] = this._presenceInFlight.splice(i, 1);
    const members = Array.isArray(f.members) ? f.members : [];
    for (const w of q.waiters) {
      w.resolve(members.map((m) => ({ member: m?.member, subject: m?.subject ?? null, state: m?.state })));
    }
  }

  /** Presence answers come in order too: a refusal is for the oldest query in flight. */
  _refusePresence(code, message) {
    const q = this._presenceInFlight.shift();
    if (q === undefined) return;
    const error = new WsvisorError(code, message || code);
    for (const w of q.waiters) w.reject(error);
  }

  _goaway(f) {
    const retryMs = Math.max(0, Number(f.retry_ms) || 0);
    const url = typeof f.url === "string" && f.url !== "" ? f.url : undefined;
    this._emit("goaway", { reason: f.reason, retryMs, url });
    if (url) this._url = websocketUrl(url);
    // Wait the larger of retry_ms and the backoff.
    const cap = Math.min(this._maxMs, this._initialMs * 2 ** this._attempt);
    this._attempt++;
    this._goOffline("goaway", Math.max(retryMs, Math.floor(this._random() * cap)));
  }

  // ---- sending ----

  /** Sends on the current socket once it carries the session; else it is sent after the welcome. */
  _send(obj) {
    if (this._welcomed) this._sendNow(obj);
  }

  _sendNow(obj) {
    const ws = this._ws;
    if (ws && ws.readyState === OPEN) ws.send(this._format === "msgpack" ? encodeMsgpack(obj) : JSON.stringify(obj));
  }

  _sendSubscribe(channel) {
    if (!this._welcomed) return;
    const presence = this._presence.has(channel);
    this._subsInFlight.push({ channel, presence });
    this._sendNow(presence ? { type: "subscribe", channel, presence: true } : { type: "subscribe", channel });
  }

  /** Sends the presence queries asked for, once the session's subscribes are out. */
  _sendPresenceQueries() {
    if (!this._welcomed || this._welcoming) return;
    for (const [channel, waiters] of this._presenceAsked) {
      this._presenceInFlight.push({ channel, waiters });
      this._sendNow({ type: "presence", channel });
    }
    this._presenceAsked.clear();
  }

  _sendPublish(p) {
    this._sendNow({ type: "publish", channel: p.channel, data: p.data, cseq: p.cseq });
  }

  _resendPending() {
    for (const p of this._pending) {
      if (p.sent) this._stats.resent++;
      p.sent = true;
      this._sendPublish(p);
    }
  }

  _scheduleAck(now) {
    if (now || this._lastSeq - this._ackedSeq >= ACK_EVERY) return this._flushAck();
    if (this._ackTimer === null) this._ackTimer = setTimeout(() => {
      this._ackTimer = null;
      this._flushAck();
    }, ACK_INTERVAL_MS);
  }

  _flushAck() {
    this._clearTimer("_ackTimer");
    if (!this._welcomed || this._lastSeq <= this._ackedSeq) return;
    this._ackedSeq = this._lastSeq;
    this._sendNow({ type: "ack", seq: this._lastSeq });
  }

  // ---- timers and events ----

  /** (Re)arms the silence watchdog; 0 disarms it. */
  _arm(ms, reason) {
    this._clearTimer("_watchdog");
    if (ms > 0) this._watchdog = setTimeout(() => {
      this._watchdog = null;
      this._lost(`${reason}: no frame for ${ms} ms`, true);
    }, ms);
  }

  _clearTimer(name) {
    if (this[name] !== null) {
      clearTimeout(this[name]);
      this[name] = null;
    }
  }

  _setState(state, extra = {}, always = false) {
    if (state === this._state && !always) return;
    this._state = state;
    this._emit("state", { state, ...extra });
  }

  _emit(event, payload) {
    const set = this._listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(payload);
      } catch (err) {
        // A listener's bug must not break the session; report it like an EventTarget would.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

export default WsvisorClient;
