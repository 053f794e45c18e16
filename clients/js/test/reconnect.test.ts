// Reconnects, resends, token refresh and expiry, retried sends: each test has a server of its own,
// because it kills it, cuts its connections, or needs flags of its own.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, test } from "node:test";
import WebSocket from "ws";
import type { ChatClient, ChatClientOptions, ClientFrame, MessageEvent, SendFrame } from "../src/index.js";
import { CuttableProxy } from "./proxy.js";
import { TestServer, record, skipWithoutBinary, waitFor, waitForCount, within } from "./harness.js";

const bodies = (entries: MessageEvent[]) => entries.map((e) => e.body);
const seqs = (entries: MessageEvent[]) => entries.map((e) => e.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A `ws` constructor that records every frame the client sends, on any of its connections. */
function spyingWebSocket(sent: ClientFrame[]): ChatClientOptions["WebSocket"] {
  class Spy extends WebSocket {
    override send(data: unknown, ...rest: unknown[]): void {
      sent.push(JSON.parse(String(data)) as ClientFrame);
      (super.send as (...args: unknown[]) => void)(data, ...rest);
    }
  }
  return Spy as unknown as ChatClientOptions["WebSocket"];
}

async function withServer(args: string[], body: (server: TestServer, clients: ChatClient[]) => Promise<void>) {
  const server = await TestServer.start(args);
  const clients: ChatClient[] = [];
  try {
    await body(server, clients);
  } catch (error) {
    (error as Error).message += `\n--- server log\n${server.logTail()}`;
    throw error;
  } finally {
    for (const client of clients) client.close();
    await server.stop();
  }
}

describe("reconnects, resends and tokens against chat-engine", { skip: skipWithoutBinary }, () => {
  test("the server is killed and restarted: both sides resume, nothing missed or doubled, queued sends go out", async () => {
    await withServer([], async (server, clients) => {
      const alice = await server.createUser("alice");
      const bob = await server.createUser("bob");
      const a = server.client(alice);
      const b = server.client(bob);
      clients.push(a, b);
      const aMessages = record(a, "message");
      const bMessages = record(b, "message");
      const aStates = record(a, "state");
      await within(Promise.all([a.connect(), b.connect()]), "connect");
      await within(Promise.all(range(1, 3).map((i) => a.send(bob, `before${i}`))), "sends before the crash");

      const aLost = waitFor(a, "state", (s) => s.state === "reconnecting");
      const bLost = waitFor(b, "state", (s) => s.state === "reconnecting");
      await server.kill9();
      await within(Promise.all([aLost, bLost]), "both notice the loss");
      // sends while the server is down wait in the outbox
      const queued = range(1, 3).map((i) => a.send(bob, `during${i}`));
      assert.equal(a.pendingSends.length, 3);

      const aBack = waitFor(a, "state", (s) => s.state === "open");
      const bBack = waitFor(b, "state", (s) => s.state === "open");
      await server.restart();
      await within(Promise.all([aBack, bBack]), "both reconnect", 20_000);
      const receipts = await within(Promise.all(queued), "queued sends acknowledged");
      assert.deepEqual(receipts.map((r) => r.seq), [4, 5, 6]);
      await within(b.send(alice, "after"), "bob sends after the restart");

      await waitForCount(a, "message", aMessages, 7);
      await waitForCount(b, "message", bMessages, 7);
      const expected = ["before1", "before2", "before3", "during1", "during2", "during3", "after"];
      assert.deepEqual(bodies(aMessages), expected);
      assert.deepEqual(seqs(aMessages), range(1, 7));
      assert.deepEqual(bodies(bMessages), expected);
      assert.deepEqual(seqs(bMessages), range(1, 7));
      const states = aStates.map((s) => s.state);
      assert.deepEqual(states.slice(0, 4), ["connecting", "syncing", "open", "reconnecting"]);
      assert.deepEqual(states.slice(-3), ["connecting", "syncing", "open"]);
    });
  });

  test("a send stored while its sent was lost is resent with the same id: the server answers the duplicate, the app sees one message", async () => {
    await withServer([], async (server, clients) => {
      const proxy = await CuttableProxy.start(server.port);
      try {
        const alice = await server.createUser("alice");
        const bob = await server.createUser("bob");
        const frames: ClientFrame[] = [];
        const a = server.client(alice, {
          url: `ws://127.0.0.1:${proxy.port}/ws`,
          httpUrl: server.httpUrl,
          WebSocket: spyingWebSocket(frames),
        });
        const b = server.client(bob);
        clients.push(a, b);
        const aMessages = record(a, "message");
        const bMessages = record(b, "message");
        const aSent = record(a, "sent");
        await within(Promise.all([a.connect(), b.connect()]), "connect");
        await within(a.send(bob, "first"), "first send");

        const duplicatesBefore = await server.metric("chat_messages_duplicate_total");
        proxy.silenceServer();
        const lost = a.send(bob, "its sent is lost");
        await waitForCount(b, "message", bMessages, 2); // stored and delivered to bob
        const reconnecting = waitFor(a, "state", (s) => s.state === "reconnecting");
        proxy.cutAll();
        await within(reconnecting, "alice notices the cut");
        const receipt = await within(lost, "the resend is acknowledged");
        assert.equal(receipt.seq, 2);

        const sends = frames.filter((f): f is SendFrame => f.type === "send" && f.body === "its sent is lost");
        assert.equal(sends.length, 2, "sent twice: once before the cut, once after");
        assert.equal(sends[0]!.id, sends[1]!.id, "with the same id");
        assert.equal(await server.metric("chat_messages_duplicate_total"), duplicatesBefore + 1);

        await within(a.send(bob, "third"), "a later send");
        await waitForCount(a, "message", aMessages, 3);
        await waitForCount(b, "message", bMessages, 3);
        assert.deepEqual(bodies(aMessages), ["first", "its sent is lost", "third"]);
        assert.deepEqual(seqs(aMessages), [1, 2, 3]);
        assert.deepEqual(bodies(bMessages), ["first", "its sent is lost", "third"]);
        assert.deepEqual(aSent.map((s) => s.body), ["first", "its sent is lost", "third"]);
      } finally {
        await proxy.close();
      }
    });
  });

  test("the token is refreshed before it expires, on the same connection", async () => {
    // no leeway: the connection would close at exp
    await withServer(["--jwt-leeway", "0"], async (server, clients) => {
      const alice = await server.createUser("alice");
      let minted = 0;
      const client = server.client(alice, {
        getToken: () => {
          minted += 1;
          return server.mint(alice, 6);
        },
        refreshMarginSeconds: 4, // halfway, then: each refresh 3 s before its token's exp
      });
      clients.push(client);
      const hellos = record(client, "hello");
      const states = record(client, "state");
      const refreshed = record(client, "refreshed");
      await within(client.connect(), "connect");
      const firstExp = hellos[0]!.exp;
      // Refreshes come every 3 s or so; wait for one that lands after the first token's exp.
      await waitFor(client, "refreshed", () => Date.now() > firstExp * 1000 + 500, 15_000);
      const receipt = await within(client.send(alice, "still here"), "send after the first exp");
      assert.equal(receipt.seq, 1);
      assert.equal(hellos.length, 1, "one connection throughout");
      assert.deepEqual(states.map((s) => s.state), ["connecting", "syncing", "open"]);
      assert.ok(refreshed.length >= 2);
      assert.ok(minted >= 1 + refreshed.length && minted <= 2 + refreshed.length, "one token per connect and per refresh");
    });
  });

  test("a refused refresh is an error event; at expiry (4001) the client reconnects with a fresh token", async () => {
    await withServer(["--jwt-leeway", "0"], async (server, clients) => {
      const alice = await server.createUser("alice");
      const mallory = await server.createUser("mallory");
      let client!: ChatClient;
      client = server.client(alice, {
        // while connected, the callback hands out another user's token, which the server refuses
        getToken: () => (client.state === "open" ? server.mint(mallory, 3) : server.mint(alice, 3)),
        refreshMarginSeconds: 2,
      });
      clients.push(client);
      const hellos = record(client, "hello");
      await within(client.connect(), "connect");
      const refused = await waitFor(client, "error");
      assert.equal(refused.code, "forbidden");
      assert.match(refused.message, /another user/);
      const expired = await waitFor(client, "state", (s) => s.state === "reconnecting", 15_000);
      assert.equal(expired.code, 4001);
      await waitFor(client, "state", (s) => s.state === "open", 15_000);
      assert.equal(hellos.length, 2);
      assert.ok(hellos[1]!.exp >= hellos[0]!.exp);
      assert.equal((await within(client.send(alice, "after expiry"), "send")).seq, 1);
    });
  });

  test("a send over the server's frame limit (close 1009) is rejected, not resent forever", async () => {
    await withServer(["--max-message-bytes", "1000"], async (server, clients) => {
      const alice = await server.createUser("alice");
      const client = server.client(alice);
      clients.push(client);
      await within(client.connect(), "connect");
      const closed = waitFor(client, "state", (s) => s.state === "reconnecting");
      const big = client.send(alice, "x".repeat(2000)).then(() => null, (e: unknown) => e);
      const small = client.send(alice, "small");
      assert.equal((await closed).code, 1009);
      const error = (await within(big, "the big send settles")) as { code?: string };
      assert.equal(error?.code, "too_large");
      assert.equal((await within(small, "the small send is resent and stored")).seq, 1);
      assert.equal(client.pendingSends.length, 0);
    });
  });

  test("a server that accepts but never answers is dropped after helloTimeoutMs; the url function picks another", async () => {
    await withServer([], async (server, clients) => {
      const silent = createServer(() => {}); // accepts TCP connections, never answers the upgrade
      await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
      try {
        const silentUrl = `ws://127.0.0.1:${(silent.address() as { port: number }).port}/ws`;
        const alice = await server.createUser("alice");
        const urls: string[] = [];
        const client = server.client(alice, {
          url: () => {
            urls.push(urls.length === 0 ? silentUrl : server.wsUrl);
            return urls.at(-1)!;
          },
          httpUrl: server.httpUrl,
          helloTimeoutMs: 300,
        });
        clients.push(client);
        const gaveUp = waitFor(client, "state", (s) => s.state === "reconnecting");
        const connected = within(client.connect(), "connect to the second URL");
        assert.equal((await gaveUp).reason, "no hello in time");
        await connected;
        assert.deepEqual(urls, [silentUrl, server.wsUrl]);
      } finally {
        silent.close();
      }
    });
  });

  test("rate-limited sends are retried with the same id until each is stored once", async () => {
    await withServer(["--send-rate", "5", "--send-burst", "2"], async (server, clients) => {
      const alice = await server.createUser("alice");
      const bob = await server.createUser("bob");
      const frames: ClientFrame[] = [];
      const a = server.client(alice, { WebSocket: spyingWebSocket(frames) });
      const b = server.client(bob);
      clients.push(a, b);
      const bMessages = record(b, "message");
      await within(Promise.all([a.connect(), b.connect()]), "connect");
      const wanted = range(1, 6).map((i) => `r${i}`);
      const receipts = await within(Promise.all(wanted.map((body) => a.send(bob, body))), "all sends acknowledged", 20_000);
      assert.deepEqual(receipts.map((r) => r.body), wanted);
      await waitForCount(b, "message", bMessages, 6);
      assert.deepEqual([...bodies(bMessages)].sort(), wanted, "each stored exactly once");
      const sends = frames.filter((f): f is SendFrame => f.type === "send");
      assert.ok(sends.length > 6, "some were refused and sent again");
      for (const receipt of receipts) {
        assert.ok(sends.filter((s) => s.id === receipt.id).every((s) => s.body === receipt.body));
      }
    });
  });
});
