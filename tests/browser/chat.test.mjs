// The web client (web/, served by chat-engine at /) in headless Debian Chromium against the real
// server: two users both ways, a second tab, typing, history paging, a server restart mid-conversation,
// the accessibility tree, keyboard use, and the development login. See tests/browser/README.md.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { copyFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import jwt from "jsonwebtoken";
import {
  REPO_ROOT,
  SCREENSHOTS,
  TestServer,
  expectConnected,
  launchBrowser,
  messageLocator,
  screenshot,
  send,
  shownBodies,
  signedInPage,
  startConversation,
  waitForMessage,
  watchPage,
} from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  console.log(`screenshots: ${SCREENSHOTS}`);
});

/** Every page of a test ends with no request outside the server (nothing from the internet). */
function assertNoForeignRequests(...pages) {
  for (const page of pages) assert.deepEqual(page.foreignRequests, [], "requests to other origins");
}

/** Each body exactly once among the stored messages shown, and in this order. */
async function assertShownOnce(page, bodies) {
  const shown = await shownBodies(page);
  for (const body of bodies) {
    assert.equal(shown.filter((b) => b === body).length, 1, `"${body}" shown once in ${JSON.stringify(shown)}`);
  }
  assert.deepEqual(shown.filter((b) => bodies.includes(b)), bodies, "in send order");
}

describe("two users", () => {
  let server;
  let contexts = [];
  before(async () => {
    server = await TestServer.start();
  });
  after(async () => {
    for (const context of contexts) await context.close();
    await server?.stop();
  });
  async function context() {
    const c = await browser.newContext({ viewport: { width: 1000, height: 640 } });
    contexts.push(c);
    return c;
  }

  test("exchange messages both ways; the list shows the last message, most recent first, with presence", async () => {
    // Plain names (the first users of this server): this page is the screenshot in docs/.
    const alice = await server.createUser("alice", { exact: true });
    const bob = await server.createUser("bob", { exact: true });
    const carol = await server.createUser("carol", { exact: true });
    const pa = await signedInPage(await context(), server, alice, { query: "?presence_ms=500" });
    const pb = await signedInPage(await context(), server, bob, { query: "?presence_ms=500" });

    await startConversation(pa, bob);
    await send(pa, "Hi Bob, are you there?");
    await waitForMessage(pa, "Hi Bob, are you there?");
    // Bob has no conversation open: it appears in his list, with the message.
    const bobsEntry = pb.locator(`#conversations li[data-peer="${alice}"]`);
    await bobsEntry.getByText(`${alice}: Hi Bob, are you there?`).waitFor();
    await bobsEntry.getByRole("button").click();
    await waitForMessage(pb, "Hi Bob, are you there?");
    await send(pb, "Yes! Hello Alice.");
    await waitForMessage(pa, "Yes! Hello Alice.");
    await waitForMessage(pb, "Yes! Hello Alice.");
    await send(pa, "Great, the web client works.");
    await waitForMessage(pb, "Great, the web client works.");
    const bodies = ["Hi Bob, are you there?", "Yes! Hello Alice.", "Great, the web client works."];
    await assertShownOnce(pa, bodies);
    await assertShownOnce(pb, bodies);

    // Alice's list: bob on top with the last message; a newer conversation with carol goes above it.
    const aliceList = pa.locator("#conversations li");
    await aliceList.first().getByText("You: Great, the web client works.").waitFor();
    await startConversation(pa, carol);
    await send(pa, "Hello Carol");
    await waitForMessage(pa, "Hello Carol");
    await pa.locator("#conversations li").first().getByText("You: Hello Carol").waitFor();
    assert.deepEqual(await aliceList.evaluateAll((lis) => lis.map((li) => li.dataset.peer)), [carol, bob]);
    // Presence: bob is connected, carol never was.
    await pa.locator(`#conversations li[data-peer="${bob}"] .presence`, { hasText: /^online$/ }).waitFor();
    await pa.locator(`#conversations li[data-peer="${carol}"] .presence`, { hasText: "never seen" }).waitFor();
    await pa.locator(`#conversations li[data-peer="${bob}"] button`).click();
    await waitForMessage(pa, "Great, the web client works.");
    await pa.locator("#peer-presence", { hasText: /^online$/ }).waitFor();
    await pa.locator("#composer-input").fill("Next: a screenshot for the README");
    const path = await screenshot(pa, "two-users-chatting");
    if (process.env.CHAT_UPDATE_DOCS_SCREENSHOT === "1") copyFileSync(path, `${REPO_ROOT}/docs/web-client.png`);
    await screenshot(pb, "two-users-chatting-bob");
    // Bob signs out: alice sees him offline, with a last-seen time.
    await pb.getByRole("button", { name: "Sign out" }).click();
    await pa.locator(`#conversations li[data-peer="${bob}"] .presence`, { hasText: /^last seen / }).waitFor();
    await pa.locator("#peer-presence", { hasText: /^last seen / }).waitFor();
    assertNoForeignRequests(pa, pb);
  });

  test("a second tab of the same user sees the same conversation live", async () => {
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    const aliceContext = await context();
    const tab1 = await signedInPage(aliceContext, server, alice);
    const tab2 = await signedInPage(aliceContext, server, alice);
    const pb = await signedInPage(await context(), server, bob);
    await startConversation(tab1, bob);
    await startConversation(tab2, bob);
    await startConversation(pb, alice);

    await send(tab1, "from tab one");
    await waitForMessage(tab2, "from tab one"); // the sender's other tab, live
    await waitForMessage(pb, "from tab one");
    await send(pb, "reply to both tabs");
    await waitForMessage(tab1, "reply to both tabs");
    await waitForMessage(tab2, "reply to both tabs");
    await send(tab2, "from tab two");
    await waitForMessage(tab1, "from tab two");
    await waitForMessage(pb, "from tab two");
    const bodies = ["from tab one", "reply to both tabs", "from tab two"];
    for (const page of [tab1, tab2, pb]) await assertShownOnce(page, bodies);
    await tab2.locator("#conversations li").first().getByText("You: from tab two").waitFor();
    await screenshot(tab2, "second-tab");
    assertNoForeignRequests(tab1, tab2, pb);
  });

  test("typing shows at the peer and clears, after a pause and when the message arrives", async () => {
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    const pa = await signedInPage(await context(), server, alice);
    const pb = await signedInPage(await context(), server, bob);
    await startConversation(pa, bob);
    await startConversation(pb, alice);
    const indicator = pb.locator("#typing");
    assert.equal(await indicator.textContent(), "");

    await pa.locator("#composer-input").pressSequentially("I am typ");
    await pb.getByText(`${alice} is typing…`).waitFor();
    await screenshot(pb, "typing");
    // No more keys: it clears by itself (4 s after the last typing event).
    await indicator.filter({ hasText: /^$/ }).waitFor({ timeout: 10_000 });

    // Typing again shows it again; the message itself clears it at once.
    await pa.locator("#composer-input").pressSequentially("ing a message");
    await pb.getByText(`${alice} is typing…`).waitFor();
    await pa.getByRole("button", { name: "Send", exact: true }).click();
    await waitForMessage(pb, "I am typing a message");
    assert.equal(await indicator.textContent(), "", "cleared as the message arrived");
    // The sender does not see its own typing.
    assert.equal(await pa.locator("#typing").textContent(), "");
  });

  test("history pages back with the older-messages button", async () => {
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    const pa = await signedInPage(await context(), server, alice);
    await startConversation(pa, bob);
    const bodies = Array.from({ length: 12 }, (_, i) => `message ${i + 1}`);
    for (const body of bodies) {
      await send(pa, body);
      await waitForMessage(pa, body);
    }
    const pb = await signedInPage(await context(), server, bob, { query: "?page_size=5" });
    await pb.locator(`#conversations li[data-peer="${alice}"] button`).click();
    await waitForMessage(pb, "message 12");
    assert.deepEqual(await shownBodies(pb), bodies.slice(7));
    const older = pb.getByRole("button", { name: "Older messages" });
    await older.click();
    await waitForMessage(pb, "message 3");
    assert.deepEqual(await shownBodies(pb), bodies.slice(2));
    await older.click();
    await waitForMessage(pb, "message 1");
    assert.deepEqual(await shownBodies(pb), bodies);
    await older.waitFor({ state: "hidden" }); // nothing older
  });
});

describe("a server restart during a conversation", () => {
  let server;
  const contexts = [];
  before(async () => {
    server = await TestServer.start();
  });
  after(async () => {
    for (const context of contexts) await context.close();
    await server?.stop();
  });

  test("the pages reconnect and catch up, with nothing lost or shown twice", async () => {
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    for (let i = 0; i < 2; i++) contexts.push(await browser.newContext());
    const pa = await signedInPage(contexts[0], server, alice);
    const pb = await signedInPage(contexts[1], server, bob);
    await startConversation(pa, bob);
    await startConversation(pb, alice);
    await send(pa, "before the restart 1");
    await waitForMessage(pb, "before the restart 1");
    await send(pb, "before the restart 2");
    await waitForMessage(pa, "before the restart 2");

    await server.terminate();
    for (const page of [pa, pb]) await page.locator('#connection:not([data-state="open"])').waitFor();
    // Sent while the server is down: shown as pending, delivered after the restart.
    await send(pa, "while it was down");
    await pa.locator("#messages li.pending", { hasText: "while it was down" }).waitFor();
    await screenshot(pa, "restart-server-down");

    await server.restart();
    await expectConnected(pa, 30_000);
    await expectConnected(pb, 30_000);
    await waitForMessage(pa, "while it was down", 30_000);
    await waitForMessage(pb, "while it was down", 30_000);
    await send(pb, "after the restart 1");
    await waitForMessage(pa, "after the restart 1");
    await send(pa, "after the restart 2");
    await waitForMessage(pb, "after the restart 2");

    const bodies = ["before the restart 1", "before the restart 2", "while it was down", "after the restart 1", "after the restart 2"];
    await assertShownOnce(pa, bodies);
    await assertShownOnce(pb, bodies);
    assert.equal(await pa.locator("#messages li.pending").count(), 0, "no message left pending");
    // A reload reads the same conversation back from history: the same entries, once each.
    await pb.reload();
    await expectConnected(pb);
    await pb.locator(`#conversations li[data-peer="${alice}"] button`).click();
    await waitForMessage(pb, "after the restart 2");
    await assertShownOnce(pb, bodies);
    await screenshot(pa, "restart-recovered");
  });
});

describe("accessibility and keyboard", () => {
  let server;
  let context;
  before(async () => {
    server = await TestServer.start();
    context = await browser.newContext();
  });
  after(async () => {
    await context?.close();
    await server?.stop();
  });

  /** Lines of the ARIA snapshot naming a control without an accessible name. */
  function unnamedControls(snapshot) {
    return snapshot.split("\n").filter((line) => /^\s*- (button|textbox|link|combobox|checkbox)\s*(\[.*\])?:?\s*$/.test(line));
  }

  test("every control has an accessible name, and the page can be used with the keyboard alone", async () => {
    const alice = await server.createUser("alice");
    const bob = await server.createUser("bob");
    const page = await context.newPage();
    watchPage(page, server);
    await page.goto(server.url + "/");
    await page.getByLabel("Username").waitFor();
    const signIn = await page.locator("body").ariaSnapshot();
    for (const expected of ['textbox "Username"', 'textbox "Token"', 'button "Sign in"', 'heading "Sign in"', 'status']) {
      assert.ok(signIn.includes(expected), `sign-in snapshot has ${expected}:\n${signIn}`);
    }
    assert.deepEqual(unnamedControls(signIn), []);
    assert.ok(!signIn.includes("Development mode"), "no development banner when --dev-login is off");
    assert.ok(!signIn.includes("Create user and sign in"), "no development button when --dev-login is off");

    // Keyboard only: the username field has focus; Tab to the token; Enter signs in.
    await page.locator("#username:focus").waitFor();
    await page.keyboard.type(alice);
    await page.keyboard.press("Tab");
    await page.keyboard.type(server.mint(alice));
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await expectConnected(page);
    await page.getByLabel("Start a conversation with").focus();
    await page.keyboard.type(bob);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: `Conversation with ${bob}` }).waitFor();
    await page.locator("#composer-input:focus").waitFor(); // focus moves to the message box
    await page.keyboard.type("sent with the keyboard");
    await page.keyboard.press("Enter");
    await waitForMessage(page, "sent with the keyboard");

    const chat = await page.locator("body").ariaSnapshot();
    for (const expected of [
      'navigation "Conversations"',
      'textbox "Start a conversation with"',
      'button "Start"',
      `heading "Conversation with ${bob}"`,
      `textbox "Message to ${bob}"`,
      'button "Send"',
      'button "Sign out"',
      `list "Conversation with ${bob}"`,
      'log "New messages"',
    ]) {
      assert.ok(chat.includes(expected), `chat snapshot has ${expected}:\n${chat}`);
    }
    assert.deepEqual(unnamedControls(chat), []);
    // The conversation's button is named by its content: the peer and the last message.
    await page.getByRole("button", { name: new RegExp(`${bob}.*You: sent with the keyboard`) }).waitFor();
    assertNoForeignRequests(page);
  });

  test("a refused token gets a clear error", async () => {
    const alice = await server.createUser("alice");
    const page = await context.newPage();
    await page.goto(server.url + "/");
    await page.getByLabel("Username").fill(alice);
    await page.getByLabel("Token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: "not a chat-engine token" }).waitFor();
    const otherSecret = randomBytes(32).toString("hex"); // a token signed with another secret
    await page.getByLabel("Token").fill(jwt.sign({ username: alice }, otherSecret, { algorithm: "HS256", expiresIn: 600 }));
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: /^Cannot sign in: / }).waitFor();
    assert.equal(await page.locator("#app").isHidden(), true);
  });
});

describe("development login (--dev-login)", () => {
  let server;
  let context;
  before(async () => {
    server = await TestServer.start({ devLogin: true });
    context = await browser.newContext();
  });
  after(async () => {
    await context?.close();
    await server?.stop();
  });

  test("the page shows the banner, and the button creates the user and signs in", async () => {
    const pages = [];
    const names = [`dev_alice_${process.pid}`, `dev_bob_${process.pid}`];
    for (const name of names) {
      const page = await context.newPage();
      watchPage(page, server);
      await page.goto(server.url + "/");
      await page.getByRole("note").filter({ hasText: "Development mode" }).waitFor();
      await page.getByLabel("Username").fill(name);
      await page.getByRole("button", { name: "Create user and sign in (development mode)" }).click();
      await expectConnected(page);
      // The development token, from the page's session: it must not appear in the server log either.
      server.remember(await page.evaluate(() => JSON.parse(sessionStorage.getItem("chat-engine.session")).token));
      pages.push(page);
    }
    await startConversation(pages[0], names[1]);
    await send(pages[0], "made in development mode");
    await waitForMessage(pages[0], "made in development mode");
    await pages[1].locator(`#conversations li[data-peer="${names[0]}"]`).getByText("made in development mode").waitFor();
    const user = await (await fetch(`${server.url}/api/user/v1/${names[1]}`)).json();
    assert.equal(user.username, names[1]);

    // A name the server refuses is reported on the page.
    const page = await context.newPage();
    await page.goto(server.url + "/");
    await page.getByLabel("Username").fill("no spaces allowed");
    await page.getByRole("button", { name: "Create user and sign in (development mode)" }).click();
    await page.getByRole("alert").filter({ hasText: "Type a username first" }).waitFor();
    await screenshot(pages[0], "development-mode");
    assertNoForeignRequests(...pages);
  });
});
