// ChatClient against a real chat-engine on one server shared by the tests of this file (each test
// has users of its own). Tests that restart or reconfigure the server are in reconnect.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import { ChatClient, ChatError, type ChatClientOptions, type MessageEvent } from "../src/index.js";
import { TestServer, record, skipWithoutBinary, waitFor, waitForCount, within } from "./harness.js";

const bodies = (entries: MessageEvent[]) => entries.map((e) => e.body);
const seqs = (entries: MessageEvent[]) => entries.map((e) => e.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("ChatClient against chat-engine", { skip: skipWithoutBinary }, () => {
  let server: TestServer;
  const clients: ChatClient[] = [];
  const open = async (username: string, options: Partial<ChatClientOptions> = {}) => {
    const client = server.client(username, options);
    clients.push(client);
    await within(client.connect(), `${username} connects`);
    return client;
  };

  before(async () => {
    server = await TestServer.start();
  });
  after(async () => {
    for (const client of clients) client.close();
    await server?.stop();
  });

  test("connect: hello, then the states connecting, syncing, open; close: closed", async () => {
    const alice = await server.createUser("alice");
    const client = server.client(alice);
    clients.push(client);
    const states = record(client, "state");
    const hello = waitFor(client, "hello");
    await within(client.connect(), "connect");
    const h = await hello;
    assert.equal(h.user, alice);
    assert.equal(h.last_seq, 0);
    assert.match(h.connection_id, /^[0-9a-f]{24}$/);
    client.close();
    assert.deepEqual(
      states.map((s) => s.state),
      ["connecting", "syncing", "open", "closed"],
    );
    assert.equal(client.state, "closed");
  });

  test("the token can travel in the Authorization header (Node's ws) as well as in the query", async () => {
    const alice = await server.createUser("alice");
    const client = await open(alice, { tokenIn: "header" });
    assert.equal(client.state, "open");
    const receipt = await within(client.send(alice, "note"), "send");
    assert.equal(receipt.seq, 1);
  });

  test("send and receive both ways: each side sees its entries once, in seq order, with sent receipts", async () => {
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    const a = await open(alice);
    const b = await open(bob);
    const aMessages = record(a, "message");
    const bMessages = record(b, "message");
    const aSent = record(a, "sent");

    const receipts = await within(Promise.all(range(1, 5).map((i) => a.send(bob, `a${i}`))), "alice's sends");
    assert.deepEqual(receipts.map((r) => r.seq), range(1, 5));
    assert.deepEqual(receipts.map((r) => r.body), ["a1", "a2", "a3", "a4", "a5"]);
    await within(Promise.all(range(1, 3).map((i) => b.send(alice, `b${i}`))), "bob's sends");
    await waitForCount(a, "message", aMessages, 8);
    await waitForCount(b, "message", bMessages, 8);

    assert.deepEqual(seqs(aMessages), range(1, 8));
    assert.deepEqual(bodies(aMessages), ["a1", "a2", "a3", "a4", "a5", "b1", "b2", "b3"]);
    assert.deepEqual(seqs(bMessages), range(1, 8));
    assert.deepEqual(bodies(bMessages), ["a1", "a2", "a3", "a4", "a5", "b1", "b2", "b3"]);
    assert.deepEqual(aSent.map((s) => s.id), receipts.map((r) => r.id));
    assert.equal(a.seq, 8);
    assert.equal(b.seq, 8);
    // both copies share msg_id
    assert.deepEqual(aMessages.map((m) => m.msg_id), bMessages.map((m) => m.msg_id));
  });

  test("two clients of one user see the same conversation", async () => {
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    const laptop = await open(alice);
    const phone = await open(alice);
    const b = await open(bob);
    const onLaptop = record(laptop, "message");
    const onPhone = record(phone, "message");

    await within(laptop.send(bob, "from the laptop"), "laptop send");
    await within(phone.send(bob, "from the phone"), "phone send");
    await within(b.send(alice, "to both"), "bob send");
    await waitForCount(laptop, "message", onLaptop, 3);
    await waitForCount(phone, "message", onPhone, 3);
    assert.deepEqual(onLaptop, onPhone);
    assert.deepEqual(bodies(onLaptop), ["from the laptop", "from the phone", "to both"]);
  });

  test("a device that was offline catches up with sync, paging with a small limit, from its stored cursor", async () => {
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    const a = await open(alice);
    await within(Promise.all(range(1, 7).map((i) => a.send(bob, `m${i}`))), "sends while bob is offline");

    // bob's first device has never synced; the limit of 3 makes the catch-up take three answers
    const fresh = server.client(bob, { syncLimit: 3 });
    clients.push(fresh);
    const freshMessages = record(fresh, "message");
    const cursors = record(fresh, "cursor");
    await within(fresh.connect(), "fresh device connects");
    assert.deepEqual(seqs(freshMessages), range(1, 7), "open only once caught up");
    assert.equal(cursors.at(-1), 7);

    // a second device stored cursor 4: it gets 5..7 only, then live ones
    const resumed = server.client(bob, { initialCursor: 4 });
    clients.push(resumed);
    const resumedMessages = record(resumed, "message");
    await within(resumed.connect(), "resumed device connects");
    assert.deepEqual(seqs(resumedMessages), [5, 6, 7]);
    await within(a.send(bob, "live"), "live send");
    await waitForCount(resumed, "message", resumedMessages, 4);
    assert.deepEqual(bodies(resumedMessages), ["m5", "m6", "m7", "live"]);
  });

  test("sends made before the connection opens are queued and go out in order once caught up", async () => {
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    const b = await open(bob);
    const bMessages = record(b, "message");
    const a = server.client(alice);
    clients.push(a);
    const early = range(1, 3).map((i) => a.send(bob, `early${i}`));
    assert.equal(a.pendingSends.length, 3);
    await within(a.connect(), "connect");
    await within(Promise.all(early), "queued sends acknowledged");
    assert.equal(a.pendingSends.length, 0);
    await waitForCount(b, "message", bMessages, 3);
    assert.deepEqual(bodies(bMessages), ["early1", "early2", "early3"]);
  });

  describe("definitive send errors reject the promise and leave nothing pending", () => {
    const cases: { name: string; to?: string; body?: string; id?: string; code: string }[] = [
      { name: "an unknown recipient", to: "ghost_nobody_here", code: "unknown_recipient" },
      { name: "an empty body", body: "", code: "bad_request" },
      { name: "an invalid recipient name", to: "not a name!", code: "bad_request" },
      { name: "an id over 64 bytes", id: "é".repeat(33), code: "bad_request" },
      { name: "a frame over the size limit (refused locally)", body: "x".repeat(70_000), code: "too_large" },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const alice = await server.createUser("alice");
        const client = await open(alice);
        const errors = record(client, "error");
        const promise = client.send(c.to ?? alice, c.body ?? "hello", c.id ? { id: c.id } : {});
        const error = await within(promise.then(() => null, (e: unknown) => e), "the send settles");
        assert.ok(error instanceof ChatError, `rejected with a ChatError, got ${String(error)}`);
        assert.equal(error.code, c.code);
        assert.equal(client.pendingSends.length, 0);
        assert.equal(client.state, "open", "the connection stays open");
        assert.deepEqual(errors, [], "a send's error goes to its promise, not to the error event");
        // the connection still works
        const ok = await within(client.send(alice, "after the error"), "a later send");
        assert.equal(ok.body, "after the error");
      });
    }
  });

  test("typing reaches the other user; typing to an unknown user is an error event", async () => {
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    const a = await open(alice);
    const b = await open(bob);
    const typing = waitFor(b, "typing");
    assert.equal(a.typing(bob), true);
    assert.deepEqual(await typing, { type: "typing", from: alice });

    const error = waitFor(a, "error");
    a.typing("ghost_nobody_here");
    const e = await error;
    assert.equal(e.code, "unknown_recipient");
  });

  test("typing is not sent unless the client is open", async () => {
    const alice = await server.createUser("alice");
    const client = server.client(alice);
    assert.equal(client.typing(alice), false);
  });

  test("history over REST with the client's token, paged", async () => {
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    const a = await open(alice);
    await within(Promise.all(range(1, 5).map((i) => a.send(bob, `h${i}`))), "sends");
    const first = await a.history(bob, { limit: 3 });
    assert.deepEqual(first.messages.map((m) => m.body), ["h5", "h4", "h3"]);
    assert.equal(first.next_before, 3);
    const second = await a.history(bob, { before: first.next_before!, limit: 3 });
    assert.deepEqual(second.messages.map((m) => m.body), ["h2", "h1"]);
    assert.equal(second.next_before, null);
    await assert.rejects(a.history("not a name!"), (e: ChatError) => e.code === "bad_request" && e.status === 400);
  });

  test("conversations over REST, newest first (needs the conversations endpoint)", async () => {
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    const carol = await server.createUser("carol");
    const a = await open(alice);
    await within(a.send(bob, "to bob"), "send");
    await within(a.send(carol, "to carol"), "send");
    const page = await a.conversations({ limit: 10 });
    assert.deepEqual(page.conversations.map((c) => c.with), [carol, bob]);
    assert.equal(page.conversations[0]!.last.body, "to carol");
    assert.equal(page.conversations[0]!.last.seq, 2);
    assert.equal(page.next_before, null);
    const paged = await a.conversations({ limit: 1 });
    assert.deepEqual(paged.conversations.map((c) => c.with), [carol]);
    assert.equal(paged.next_before, 2);
  });

  test("presence: watched users are polled and changes are events (needs the presence endpoint)", async () => {
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    const a = await open(alice, { presenceIntervalMs: 100 });
    const errors = record(a, "error");
    const offline = waitFor(a, "presence", (p) => p.username === bob);
    a.watch([bob, "ghost_nobody_here"]);
    const first = await offline.catch((e: Error) => {
      throw new Error(`${e.message}; error events: ${errors.map((x) => `${x.code} ${x.message}`).join("; ")}`);
    });
    assert.equal(first.online, false);
    assert.equal(first.connections, 0);

    const online = waitFor(a, "presence", (p) => p.username === bob && p.online);
    const b = await open(bob);
    assert.equal((await online).connections, 1);
    const gone = waitFor(a, "presence", (p) => p.username === bob && !p.online);
    b.close();
    const last = await gone;
    assert.equal(typeof last.last_seen, "number");
    a.unwatch([bob]);
  });

  test("a deleted user's client closes for good (4003) and rejects its pending sends", async () => {
    const alice = await server.createUser("alice");
    const client = await open(alice);
    const closed = waitFor(client, "state", (s) => s.state === "closed");
    await server.deleteUser(alice);
    const change = await closed;
    assert.equal(change.code, 4003);
    await assert.rejects(client.send(alice, "too late"), (e: ChatError) => e.code === "closed");
  });

  test("a client whose user does not exist stops instead of retrying (the upgrade answers 403)", async () => {
    const client = server.client("ghost_nobody_here");
    clients.push(client);
    const states = record(client, "state");
    await assert.rejects(within(client.connect(), "connect settles"), (e: ChatError) => e.code === "closed");
    assert.deepEqual(states.map((s) => s.state), ["connecting", "closed"]);
  });

  test("a re-created account: hello.last_seq below the stored cursor resets it", async () => {
    const alice = await server.createUser("alice");
    const first = await open(alice);
    await within(Promise.all(range(1, 3).map((i) => first.send(alice, `old${i}`))), "sends");
    assert.equal(first.seq, 3);
    const closed = waitFor(first, "state", (s) => s.state === "closed");
    await server.deleteUser(alice);
    await closed;
    await server.recreateUser(alice);
    // iat must not be earlier than the second of the re-creation
    const again = server.client(alice, { initialCursor: first.seq });
    clients.push(again);
    const resets = record(again, "reset");
    const messages = record(again, "message");
    const connected = within(again.connect(), "reconnect");
    await connected;
    assert.deepEqual(resets, [{ previousCursor: 3, lastSeq: 0 }]);
    await within(again.send(alice, "new1"), "send");
    await waitForCount(again, "message", messages, 1);
    assert.deepEqual(seqs(messages), [1]);
  });

  test("the getToken callback's failure is an error event and the client retries", async () => {
    const alice = await server.createUser("alice");
    let calls = 0;
    const client = server.client(alice, {
      getToken: () => {
        calls += 1;
        if (calls === 1) throw new Error("identity provider unreachable");
        return server.mint(alice);
      },
    });
    clients.push(client);
    const error = waitFor(client, "error");
    await within(client.connect(), "connect after a failed getToken");
    assert.equal((await error).message, "identity provider unreachable");
    assert.equal(calls, 2);
  });

  test("the options are checked: no WebSocket constructor is a clear error", () => {
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    delete g.WebSocket;
    try {
      assert.throws(() => new ChatClient({ url: server.wsUrl, getToken: () => "t" }), /pass options.WebSocket/);
      assert.throws(
        () => new ChatClient({ url: "http://x/ws", getToken: () => "t", WebSocket: WebSocket as never }),
        /not a ws: or wss: URL/,
      );
    } finally {
      if (saved !== undefined) g.WebSocket = saved;
    }
  });
});
