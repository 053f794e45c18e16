// The hand-written types of src/protocol.ts checked against the JSON Schemas of docs/schema/
// (override the directory with CHAT_SCHEMA_DIR):
//  1. one typed example per frame type (the compiler checks it against the TypeScript type, which
//     refuses missing and unknown fields in an object literal), validated with ajv against the
//     schema of that frame; the set of frame types must equal the schemas' set;
//  2. every frame a real server sends, and every frame the client sends, in a session that uses
//     every frame type, validated against docs/schema/server-frame.json and client-frame.json.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import WebSocket from "ws";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { ClientFrame, ServerFrame, ChatClientOptions } from "../src/index.js";
import { REPO_ROOT, TestServer, skipWithoutBinary, waitFor, within } from "./harness.js";

const SCHEMA_DIR = resolve(process.env.CHAT_SCHEMA_DIR ?? join(REPO_ROOT, "docs", "schema"));
const skipWithoutSchema: string | false = (() => {
  if (existsSync(join(SCHEMA_DIR, "server-frame.json"))) return false;
  const message = `no JSON Schemas at ${SCHEMA_DIR} (set CHAT_SCHEMA_DIR)`;
  if (process.env.CI) throw new Error(`${message}; CI is set, so missing schemas fail the suite`);
  return message;
})();

function loadAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".json") ? [join(dir, e.name)] : [],
    );
  for (const file of walk(SCHEMA_DIR)) ajv.addSchema(JSON.parse(readFileSync(file, "utf8")));
  return ajv;
}

const BASE = "https://chat-engine.invalid/schema/";

// One or more examples of every frame, typed: a missing or unknown field does not compile.
const serverExamples: { [K in ServerFrame["type"]]: Extract<ServerFrame, { type: K }>[] } = {
  hello: [{ type: "hello", user: "kiran", connection_id: "6a42cc7a205001045c2b745b", node: "n1", last_seq: 0, exp: 1795492024 }],
  message: [
    { type: "message", seq: 1, msg_id: "01a20b73288f0a604050342f5bca7c0e", from: "kiran", to: "alex", body: "hi", ts: 1795488426127 },
  ],
  sent: [{ type: "sent", id: "m1", msg_id: "01a20b73288f0a604050342f5bca7c0e", seq: 1, ts: 1795488426127 }],
  synced: [{ type: "synced", after: 0, upto: 1, more: false }],
  typing: [{ type: "typing", from: "alex" }],
  refreshed: [{ type: "refreshed", exp: 1795495630 }],
  pong: [{ type: "pong" }],
  error: [
    { type: "error", code: "unknown_recipient", message: "no such user: ghost", id: "x1" },
    { type: "error", code: "rate_limited", message: "too many frames; slow down" },
  ],
};
const clientExamples: { [K in ClientFrame["type"]]: Extract<ClientFrame, { type: K }>[] } = {
  send: [{ type: "send", id: "m1", to: "alex", body: "hello alex" }],
  sync: [{ type: "sync", after: 1, limit: 1000 }, { type: "sync" }],
  typing: [{ type: "typing", to: "kiran" }],
  refresh: [{ type: "refresh", token: "a.b.c" }],
  ping: [{ type: "ping" }],
};

describe("protocol types against docs/schema", { skip: skipWithoutSchema }, () => {
  for (const [side, examples] of [
    ["server", serverExamples],
    ["client", clientExamples],
  ] as const) {
    test(`the ${side} frame types are exactly those of ${side}-frame.json`, () => {
      const union = JSON.parse(readFileSync(join(SCHEMA_DIR, `${side}-frame.json`), "utf8")) as { oneOf: { $ref: string }[] };
      const fromSchema = union.oneOf.map((branch) => branch.$ref.replace(/^.*\//, "").replace(/\.json$/, "")).sort();
      assert.deepEqual(Object.keys(examples).sort(), fromSchema);
    });

    for (const [type, frames] of Object.entries(examples)) {
      test(`typed ${side} ${type} examples validate against ${side}/${type}.json`, () => {
        const validate = loadAjv().getSchema(`${BASE}${side}/${type}.json`);
        assert.ok(validate, `schema ${side}/${type}.json`);
        for (const frame of frames as object[]) {
          assert.ok(validate(frame), `${JSON.stringify(frame)}: ${JSON.stringify(validate.errors)}`);
        }
      });
    }
  }

  test("a schema refuses what the types refuse: the check can fail", () => {
    const validate = loadAjv().getSchema(`${BASE}server/sent.json`)!;
    assert.equal(validate({ type: "sent", id: "m1", seq: 1, ts: 1 }), false, "msg_id missing");
    assert.equal(validate({ ...serverExamples.sent[0], extra: 1 }), false, "an unknown field");
  });

  test("every frame of a real session, both ways, validates", { skip: skipWithoutBinary }, async () => {
    const ajv = loadAjv();
    const server = await TestServer.start();
    const received: ServerFrame[] = [];
    const sent: ClientFrame[] = [];
    class Spy extends WebSocket {
      override send(data: unknown, ...rest: unknown[]): void {
        sent.push(JSON.parse(String(data)) as ClientFrame);
        (super.send as (...args: unknown[]) => void)(data, ...rest);
      }
    }
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    const a = server.client(alice, {
      WebSocket: Spy as unknown as ChatClientOptions["WebSocket"],
      getToken: () => server.mint(alice, 4),
      refreshMarginSeconds: 2,
    });
    const b = server.client(bob);
    try {
      a.on("frame", (f) => received.push(f));
      b.on("frame", (f) => received.push(f));
      await within(Promise.all([a.connect(), b.connect()]), "connect");
      await within(a.send(bob, "one"), "send");
      await within(a.send(bob, "two"), "send");
      await a.send("ghost_nobody_here", "x").catch(() => {}); // an error frame
      const typing = waitFor(b, "typing");
      await waitFor(a, "refreshed"); // a 4 s token is refreshed within 2 s
      a.typing(bob);
      await typing;
    } finally {
      a.close();
      b.close();
      await server.stop();
    }
    const types = new Set(received.map((f) => f.type));
    for (const type of ["hello", "message", "sent", "synced", "typing", "refreshed", "error"]) {
      assert.ok(types.has(type as ServerFrame["type"]), `the session produced a ${type} frame`);
    }
    const validateServer = ajv.getSchema(`${BASE}server-frame.json`)!;
    for (const frame of received) {
      assert.ok(validateServer(frame), `server frame ${JSON.stringify(frame)}: ${JSON.stringify(validateServer.errors)}`);
    }
    const validateClient = ajv.getSchema(`${BASE}client-frame.json`)!;
    for (const frame of sent) {
      assert.ok(validateClient(frame), `client frame ${JSON.stringify(frame)}: ${JSON.stringify(validateClient.errors)}`);
    }
  });
});
