// The browser path, with the built package (dist/): the standard WHATWG WebSocket (Node's global one, undici's, the same API as a
// browser's; `npm test` runs with --experimental-websocket on Node 20), the token in the query
// string, and the global fetch. Nothing injected.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ChatClient as ChatClientType, ChatError, MessageEvent } from "../src/index.js";
import { TestServer, record, skipWithoutBinary, waitFor, waitForCount, within } from "./harness.js";

// This suite uses the package as shipped: dist/, built by `npm run build`.
const { ChatClient } = (await import(new URL("../../dist/index.js", import.meta.url).href)) as typeof import("../src/index.js");

const skip = skipWithoutBinary || (typeof (globalThis as { WebSocket?: unknown }).WebSocket !== "function" && "no global WebSocket (run node with --experimental-websocket)");

describe("ChatClient with the standard global WebSocket and fetch", { skip }, () => {
  let server: TestServer;
  const clients: ChatClientType[] = [];
  const make = (username: string) => {
    const client = new ChatClient({ url: server.wsUrl, getToken: () => server.mint(username), backoff: { initialMs: 50, maxMs: 500 } });
    clients.push(client);
    return client;
  };
  before(async () => {
    server = await TestServer.start();
  });
  after(async () => {
    for (const client of clients) client.close();
    await server?.stop();
  });

  test("connect, send and receive, refused send, history, and a final close (4003)", async () => {
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    const a = make(alice);
    const b = make(bob);
    const bMessages: MessageEvent[] = record(b, "message");
    await within(Promise.all([a.connect(), b.connect()]), "connect");
    assert.equal((await within(a.send(bob, "from a browser"), "send")).seq, 1);
    await waitForCount(b, "message", bMessages, 1);
    assert.equal(bMessages[0]!.body, "from a browser");
    await assert.rejects(a.send("ghost_nobody_here", "x"), (e: ChatError) => e.code === "unknown_recipient");
    const page = await b.history(alice);
    assert.deepEqual(page.messages.map((m) => m.body), ["from a browser"]);

    const closed = waitFor(a, "state", (s) => s.state === "closed");
    await server.deleteUser(alice);
    assert.equal((await closed).code, 4003);
  });

  test("a restarted server: the client reconnects and resumes", async () => {
    const alice = await server.createUser("alice");
    const a = make(alice);
    const messages = record(a, "message");
    await within(a.connect(), "connect");
    await within(a.send(alice, "one"), "send");
    const lost = waitFor(a, "state", (s) => s.state === "reconnecting");
    await server.kill9();
    await lost;
    const pending = a.send(alice, "two");
    const back = waitFor(a, "state", (s) => s.state === "open", 20_000);
    await server.restart();
    await back;
    assert.equal((await within(pending, "queued send")).seq, 2);
    await waitForCount(a, "message", messages, 2);
    assert.deepEqual(messages.map((m) => m.seq), [1, 2]);
  });
});
