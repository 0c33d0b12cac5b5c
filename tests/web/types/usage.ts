// Compiled with tsc --strict --noEmit by types.test.mjs: wsvisor-client.d.ts
// must describe the client as the README shows it being used.
import WsvisorClientDefault, {
  MsgpackExt,
  WsvisorClient,
  WsvisorError,
  decodeMsgpack,
  encodeMsgpack,
  type MsgpackValue,
  type WsvisorMember,
  type WsvisorMessage,
  type WsvisorPresenceEvent,
  type WsvisorState,
  type WsvisorStateEvent,
  type WsvisorStats,
} from "../../../web/client/wsvisor-client.js";

const client: WsvisorClient = new WsvisorClientDefault("ws://127.0.0.1:8080/ws", {
  auth: "a.jwt.token",
  backoff: { initialMs: 250, maxMs: 10_000 },
  heartbeatGraceMs: 2000,
  connectTimeoutMs: 10_000,
  maxPendingPublishes: 100,
  environment: { window: null, document: null },
  random: Math.random,
});
const kept: Map<string, string> = new Map();
const persisted = new WsvisorClientDefault("ws://127.0.0.1:8080/ws", {
  persist: "session",
  persistKey: "wsvisor:demo",
  storage: {
    getItem: (key: string) => kept.get(key) ?? null,
    setItem: (key: string, value: string) => void kept.set(key, value),
    removeItem: (key: string) => void kept.delete(key),
  },
});
void persisted;
const binary = new WsvisorClientDefault("ws://127.0.0.1:8080/ws", { format: "msgpack" });
const bytes: Uint8Array = encodeMsgpack({ raw: new Uint8Array([1]), big: 2n ** 60n, ext: new MsgpackExt(1, new Uint8Array(1)) });
const back: MsgpackValue = decodeMsgpack(bytes);
void binary.publish("bin", new Map<MsgpackValue, MsgpackValue>([[1, back]]));
const off: () => void = client.on("message", (m: WsvisorMessage) => {
  const seq: number = m.seq;
  const channel: string = m.channel;
  void [seq, channel, m.data];
});
client.on("state", (e: WsvisorStateEvent) => {
  const state: WsvisorState = e.state;
  if (state === "resumed") void (e.replay ?? 0);
  if (state === "reset") void e.reason?.toUpperCase();
});
client.on("presence", (e: WsvisorPresenceEvent) => {
  const seq: number = e.seq;
  const who: string = e.subject ?? e.member;
  if (e.state === "gone") void [seq, who, e.channel];
});
client.on("error", (e) => void e.code.length);
client.on("goaway", (e) => void (e.retryMs + 1));
client.connect();
async function use(): Promise<void> {
  await client.subscribe("news");
  const cseq: number = await client.publish("news", { text: "hi", n: [1, 2, null] });
  await client.subscribe("room", { presence: true });
  const members: WsvisorMember[] = await client.presence("room");
  for (const m of members) if (m.state === "away") void (m.subject?.length ?? m.member.length);
  await client.unsubscribe("news");
  try {
    await client.publish("news", 1);
  } catch (err) {
    if (err instanceof WsvisorError) void err.code.length;
  }
  void cseq;
}
void use;
const stats: WsvisorStats = client.stats;
const pending: number = client.pendingPublishes + stats.acked + stats.presenceEvents + client.lastSeq + client.lastCseq;
const id: string | null = client.sessionId;
void [pending, id, client.url];
client.drop();
client.suspend(5000);
client.close();
off();
// @ts-expect-error: publish takes JSON, not a function
void client.publish("news", () => 1);
// @ts-expect-error: a member is online or away, never gone
void client.presence("room").then((m) => m[0].state === "gone");
// @ts-expect-error: presence is a boolean
void client.subscribe("room", { presence: "yes" });
// @ts-expect-error: there is no such event
client.on("nope", () => {});
