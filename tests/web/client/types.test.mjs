import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";
import * as module from "../../../web/client/wsvisor-client.js";

const declarations = new URL("../../../web/client/wsvisor-client.d.ts", import.meta.url);

test("the TypeScript declarations compile under --strict against a usage of the whole API", () => {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const project = new URL("../types/tsconfig.json", import.meta.url).pathname;
  const run = spawnSync(process.execPath, [tsc, "-p", project], { encoding: "utf8" });
  assert.equal(run.status, 0, `tsc failed:\n${run.stdout}${run.stderr}`);
});

test("every member the declarations give WsvisorClient exists in the module, and nothing else is exported", () => {
  const text = readFileSync(declarations, "utf8");
  const body = text.slice(text.indexOf("export class WsvisorClient {"));
  const declared = [...body.slice(0, body.indexOf("\n}")).matchAll(/^ {2}(?:readonly )?([A-Za-z]\w*)[(<:?]/gm)]
    .map((m) => m[1])
    .filter((name) => name !== "constructor");
  assert.ok(declared.length >= 15, `found only ${declared.join(", ")}`);
  class NoSocket {} // never opened: connect() is not called
  const client = new module.WsvisorClient("ws://127.0.0.1:9/ws", { WebSocket: NoSocket, environment: { window: null, document: null } });
  for (const name of declared) assert.ok(name in client, `WsvisorClient has no ${name}`);
  assert.deepEqual(Object.keys(module).sort(), ["MsgpackExt", "WsvisorClient", "WsvisorError", "decodeMsgpack", "default", "encodeMsgpack"]);
  assert.equal(module.default, module.WsvisorClient);
  assert.equal(new module.WsvisorError("full", "x").code, "full");
});
