// Type declarations of wsvisor-client.js (the wsvisor.v1 client). Kept by hand:
// they must match the JavaScript exactly.

/** The client's states; `idle` only before `connect()`. */
export type WsvisorState = "idle" | "connecting" | "connected" | "resumed" | "reset" | "offline" | "closed";

/** Why a resume failed and a new session started. */
export type WsvisorResetReason = "unknown" | "expired" | "overflow" | (string & {});

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A MessagePack ext value (wsvisor.v1.msgpack). */
export class MsgpackExt {
  constructor(type: number, data: Uint8Array);
  type: number;
  data: Uint8Array;
}

/**
 * Data as MessagePack carries it: JSON's values, plus bytes, 64-bit integers,
 * maps with keys of any type and ext values. A JSON client receives such data
 * too when a MessagePack client published it (decoded from `data_msgpack`).
 */
export type MsgpackValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | MsgpackExt
  | MsgpackValue[]
  | Map<MsgpackValue, MsgpackValue>
  | { [key: string]: MsgpackValue };

/** `value` in MessagePack (the client's own codec). Throws a TypeError for what it cannot encode. */
export function encodeMsgpack(value: unknown): Uint8Array;
/** One MessagePack value; throws on malformed input or bytes after it. */
export function decodeMsgpack(input: Uint8Array | ArrayBuffer): MsgpackValue;

/** The constructor of a WHATWG-style WebSocket (browsers' WebSocket, npm `ws`). */
export interface WebSocketConstructor {
  new (url: string, protocols?: string | string[]): WebSocketLike;
}

/** What the client uses of a WebSocket. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string | Uint8Array): void;
  /** Set to "arraybuffer" by format "msgpack". */
  binaryType?: string;
  close(code?: number, reason?: string): void;
  /** npm `ws` only: destroys the socket without a close handshake. */
  terminate?(): void;
  addEventListener(type: "open" | "message" | "close" | "error", listener: (event: any) => void): void;
}

/** An event target of the environment (window, document, or a test's EventTarget). */
export interface EnvironmentTarget {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
  /** On the document target: "visible" | "hidden". */
  visibilityState?: string;
}

export interface WsvisorClientOptions {
  /** WebSocket constructor; default globalThis.WebSocket (Node 20 has none: pass npm ws's). */
  WebSocket?: WebSocketConstructor;
  /** Sent as `auth` with hello and resume (a JWT where the server has [auth] on). */
  auth?: string;
  /** Full-jitter backoff: delay = floor(random() × min(maxMs, initialMs × 2^attempt)). Default 250 ms, 10 000 ms. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Silence beyond welcome.heartbeat_ms after which the connection is dead. Default max(1000, heartbeat_ms / 2). */
  heartbeatGraceMs?: number;
  /** Bound on opening a socket and receiving its welcome. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Unacknowledged publishes held; beyond, publish() rejects with code "full". Default 10 000. */
  maxPendingPublishes?: number;
  /** Targets of online/offline (window) and visibilitychange (document); null: none. Default globalThis, globalThis.document. */
  environment?: { window?: EnvironmentTarget | null; document?: EnvironmentTarget | null };
  /** Uniform in [0, 1); default Math.random. */
  random?: () => number;
  /**
   * Where the session lives between page loads. "memory" (default): nowhere, a reload
   * starts a new session. "session": this tab's sessionStorage keeps the session id,
   * token, last seq, last acknowledged cseq, channels and unacknowledged publishes, and
   * a reload resumes the session; close() forgets it.
   */
  persist?: "memory" | "session";
  /** The storage key; default "wsvisor:" + the URL. */
  persistKey?: string;
  /** What persist "session" writes to; default globalThis.sessionStorage. */
  storage?: { getItem(key: string): string | null; setItem(key: string, value: string): void; removeItem(key: string): void };
  /** The frames' encoding: "json" (default, wsvisor.v1) or "msgpack" (wsvisor.v1.msgpack). */
  format?: "json" | "msgpack";
}

/** Payload of the `state` event. */
export interface WsvisorStateEvent {
  state: WsvisorState;
  /** reset: the server's reason; connecting after a drop: what ended the connection; offline: offline | suspend | goaway; closed: why. */
  reason?: string;
  /** connected, resumed, reset: the session now carried. */
  sessionId?: string;
  /** resumed: messages (and presence events) the server will replay (welcome.replay), when the server sends it. */
  replay?: number;
  /** connecting after a drop: the backoff delay; offline: how long until the reconnect (absent for a browser offline). */
  retryMs?: number;
  /** connecting: failed connections since the last welcome. */
  attempt?: number;
  /** connecting, when a socket is being opened: where to. */
  url?: string;
}

/** Payload of the `message` event: delivered once, in seq order. */
export interface WsvisorMessage {
  seq: number;
  channel: string;
  /** JSON data, or MessagePack data (bytes and all) on format "msgpack" or when a MessagePack client published it. */
  data: MsgpackValue;
}

/** A member of a channel, as `presence()` lists it. */
export interface WsvisorMember {
  /** The member's id: 24 hex characters, opaque, the same for its session's whole life. */
  member: string;
  /** The `sub` of the member's JWT where the server has [auth] on, else null. */
  subject: string | null;
  /** `away`: its connection ended and its session waits for a resume. */
  state: "online" | "away";
}

/** Payload of the `presence` event: a `presence_event` about another member, numbered in the session's seq with the messages. */
export interface WsvisorPresenceEvent {
  seq: number;
  channel: string;
  member: string;
  subject: string | null;
  /** `gone`: it unsubscribed, said bye, was ended, or its resume window ran out. */
  state: "online" | "away" | "gone";
}

/** Options of `subscribe()`. */
export interface WsvisorSubscribeOptions {
  /** Join the channel as a member (until unsubscribe): the other members see it, and it gets `presence` events. Default false. */
  presence?: boolean;
}

/** Payload of the `error` event: a server `error` frame. */
export interface WsvisorErrorEvent {
  code: string;
  message: string;
  /** For an error about one publish. */
  cseq?: number;
}

/** Payload of the `goaway` event. */
export interface WsvisorGoawayEvent {
  reason: string;
  retryMs: number;
  url?: string;
}

export interface WsvisorEvents {
  state: WsvisorStateEvent;
  message: WsvisorMessage;
  presence: WsvisorPresenceEvent;
  error: WsvisorErrorEvent;
  goaway: WsvisorGoawayEvent;
}

export interface WsvisorStats {
  /** Sockets opened. */
  connects: number;
  /** Open connections lost or cut (drop(), suspend(), offline, goaway, server close, watchdog, protocol violation); failed attempts are not counted. */
  drops: number;
  /** Welcomes with resumed: true. */
  resumes: number;
  /** Resumes answered with a new session. */
  resets: number;
  /** Sum of welcome.replay over the resumes (0 when the server does not send it). */
  replayed: number;
  /** Messages delivered to `message` listeners. */
  received: number;
  /** Presence events delivered to `presence` listeners. */
  presenceEvents: number;
  /** publish() calls accepted. */
  published: number;
  /** Publishes acknowledged by the server. */
  acked: number;
  /** Messages and presence events dropped because their seq was at or below lastSeq. */
  duplicates: number;
  /** Publishes sent again on a later connection. */
  resent: number;
}

/** Rejection reason of the client's promises. */
export class WsvisorError extends Error {
  constructor(code: string, message: string);
  readonly name: "WsvisorError";
  /**
   * bad_channel, bad_data, full, closed, unsubscribed, disconnected (presence), or a server error code
   * (forbidden, upstream_down, too_many_subscriptions, too_many_channels, too_many_members, not_subscribed;
   * unknown_type for presence() on a server without presence).
   */
  code: string;
}

export class WsvisorClient {
  constructor(url: string, options?: WsvisorClientOptions);
  readonly sessionId: string | null;
  /** Highest seq delivered to `message` and `presence` listeners in the current session. */
  readonly lastSeq: number;
  readonly lastCseq: number;
  readonly state: WsvisorState;
  readonly url: string;
  readonly pendingPublishes: number;
  readonly stats: WsvisorStats;
  on<E extends keyof WsvisorEvents>(event: E, fn: (payload: WsvisorEvents[E]) => void): () => void;
  off<E extends keyof WsvisorEvents>(event: E, fn: (payload: WsvisorEvents[E]) => void): void;
  connect(): void;
  /** With `{ presence: true }`, resolves once the session is a member of the channel too. */
  subscribe(channel: string, options?: WsvisorSubscribeOptions): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** The channel's members (this session among them when it is one); the session must be subscribed to it. */
  presence(channel: string): Promise<WsvisorMember[]>;
  /** `data`: any JSON value; on format "msgpack", any MsgpackValue. */
  publish(channel: string, data: MsgpackValue): Promise<number>;
  drop(): void;
  suspend(ms: number): void;
  close(): void;
}

export default WsvisorClient;
