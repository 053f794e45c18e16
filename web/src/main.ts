// The chat-engine web client: plain DOM code over the client library (clients/js).
// What it does and the decisions behind it: docs/web-client.md.
import "./style.css";
import { ChatClient, ChatError, RestApi } from "@chat-engine/client";
import type { Entry, MessageEvent, Presence, SentReceipt } from "@chat-engine/client";

// ---- configuration

const params = new URLSearchParams(location.search);
/** History page size; `?page_size=N` overrides it (1–1000). */
const kPageSize = clampInt(params.get("page_size"), 1, 1000, 50);
/** How often the peers' presence is polled (ms); `?presence_ms=N` overrides it. */
const kPresenceMs = clampInt(params.get("presence_ms"), 500, 600_000, 5000);
/** A typing notice is sent at most this often while the user types. */
const kTypingEveryMs = 2000;
/** A peer's "is typing" shows this long after their last typing event (or until their message). */
const kTypingShowMs = 4000;
const kStorageKey = "chat-engine.session";
const kUsername = /^[A-Za-z0-9_.-]{1,64}$/;

/** The REST base: the directory the page was served from (so a reverse proxy may add a prefix). */
const httpBase = new URL(".", location.href).href.replace(/\/$/, "");
const wsUrl = httpBase.replace(/^http/, "ws") + "/ws";

function clampInt(text: string | null, min: number, max: number, fallback: number): number {
  const n = Number(text);
  return text !== null && Number.isInteger(n) && n >= min && n <= max ? n : fallback;
}

// ---- elements

function $<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing #${id}`);
  return element as T;
}
const el = {
  connection: $("connection"),
  whoami: $("whoami"),
  signOut: $<HTMLButtonElement>("sign-out"),
  devBanner: $("dev-banner"),
  signIn: $("sign-in"),
  signInForm: $<HTMLFormElement>("sign-in-form"),
  username: $<HTMLInputElement>("username"),
  token: $<HTMLTextAreaElement>("token"),
  signInButton: $<HTMLButtonElement>("sign-in-button"),
  devTokenButton: $<HTMLButtonElement>("dev-token-button"),
  signInError: $("sign-in-error"),
  app: $("app"),
  newConversationForm: $<HTMLFormElement>("new-conversation-form"),
  newPeer: $<HTMLInputElement>("new-peer"),
  newConversationError: $("new-conversation-error"),
  conversations: $<HTMLUListElement>("conversations"),
  noConversations: $("no-conversations"),
  moreConversations: $<HTMLButtonElement>("more-conversations"),
  paneTitle: $("pane-title"),
  peerPresence: $("peer-presence"),
  older: $<HTMLButtonElement>("older"),
  messages: $<HTMLOListElement>("messages"),
  typing: $("typing"),
  composer: $<HTMLFormElement>("composer"),
  composerLabel: $("composer-label"),
  composerInput: $<HTMLTextAreaElement>("composer-input"),
  composerError: $("composer-error"),
  announcer: $("announcer"),
};

// ---- session state

interface StoredSession {
  username: string;
  token: string;
  /** Signed in with the development button: a new token can be minted when this one runs out. */
  dev: boolean;
}

let devLogin = false;
let session: StoredSession | null = null;
let client: ChatClient | null = null;
/** Peer → the latest entry of that conversation (the caller's own entry). */
const conversations = new Map<string, Entry>();
let conversationsNextBefore: number | null = null;
const presence = new Map<string, Presence>();
/** The open conversation. */
let peer: string | null = null;
/** Bumped whenever the pane is reset, so late history answers for an older pane are dropped. */
let paneGeneration = 0;
let olderBefore: number | null = null;
let lastTypingSent = 0;
const typingTimers = new Map<string, ReturnType<typeof setTimeout>>();

function peerOf(entry: Pick<Entry, "from" | "to">): string {
  return session && entry.from === session.username ? entry.to : entry.from;
}

/** The `username` and `exp` claims of a JWT, without checking it (the server does that). */
function claims(token: string): { username?: string; exp?: number } {
  try {
    const part = token.split(".")[1] ?? "";
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const value = JSON.parse(json) as { username?: unknown; exp?: unknown };
    return {
      username: typeof value.username === "string" ? value.username : undefined,
      exp: typeof value.exp === "number" ? value.exp : undefined,
    };
  } catch {
    return {};
  }
}

// ---- formatting

function formatTime(ts: number): string {
  const date = new Date(ts);
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function presenceText(p: Presence | undefined): string {
  if (!p) return "";
  if (p.online) return "online";
  return p.last_seen === null ? "never seen" : `last seen ${formatTime(p.last_seen)}`;
}

function errorText(error: unknown): string {
  if (error instanceof ChatError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

// ---- development login

async function probeDevLogin(): Promise<void> {
  try {
    const response = await fetch(`${httpBase}/api/dev/v1`);
    const body = response.ok ? ((await response.json()) as { dev_login?: unknown }) : null;
    devLogin = body?.dev_login === true;
  } catch {
    devLogin = false;
  }
  el.devBanner.hidden = !devLogin;
  el.devTokenButton.hidden = !devLogin;
}

async function mintDevToken(username: string): Promise<string> {
  const response = await fetch(`${httpBase}/api/dev/v1/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username }),
  });
  const body = (await response.json().catch(() => null)) as
    | { token?: string; error?: { message?: string } }
    | null;
  if (!response.ok || typeof body?.token !== "string") {
    throw new Error(body?.error?.message ?? `the development token endpoint answered ${response.status}`);
  }
  return body.token;
}

/** The token for the next connect or refresh: a development session mints a new one when it is near its end. */
async function currentToken(): Promise<string> {
  if (!session) throw new Error("signed out");
  const exp = claims(session.token).exp;
  if (session.dev && exp !== undefined && exp - Date.now() / 1000 < 120) {
    session.token = await mintDevToken(session.username);
    sessionStorage.setItem(kStorageKey, JSON.stringify(session));
  }
  return session.token;
}

// ---- sign in and out

async function signIn(next: StoredSession): Promise<void> {
  el.signInError.textContent = "";
  if (!kUsername.test(next.username)) {
    throw new Error("A username is 1 to 64 characters: letters, digits, _ . -");
  }
  const tokenUser = claims(next.token).username;
  if (tokenUser === undefined) throw new Error("That is not a chat-engine token (a JWT with a username claim).");
  if (tokenUser !== next.username) throw new Error(`That token is for "${tokenUser}", not "${next.username}".`);

  session = next;
  // The conversation list first: it checks the token (clear errors instead of a refused WebSocket)
  // and its newest entry is where the live stream starts (older entries come from history on demand).
  const rest = new RestApi(httpBase, () => currentToken(), fetch.bind(globalThis));
  let page;
  try {
    page = await rest.conversations({ limit: 50 });
  } catch (error) {
    session = null;
    throw new Error(`Cannot sign in: ${errorText(error)}`);
  }
  sessionStorage.setItem(kStorageKey, JSON.stringify(next));
  conversations.clear();
  presence.clear();
  for (const c of page.conversations) conversations.set(c.with, c.last);
  conversationsNextBefore = page.next_before;
  const startCursor = page.conversations.reduce((max, c) => Math.max(max, c.last.seq), 0);

  client = new ChatClient({
    url: wsUrl,
    httpUrl: httpBase,
    getToken: () => currentToken(),
    initialCursor: startCursor,
    presenceIntervalMs: kPresenceMs,
  });
  client.on("state", ({ state, code }) => {
    showConnection(state);
    // 4001: the token expired. A pasted token cannot be renewed by the page: say so.
    if (code === 4001 && session && !session.dev && (claims(session.token).exp ?? Infinity) <= Date.now() / 1000) {
      el.connection.textContent = "Your token has expired: sign out and sign in with a new one";
    }
  });
  client.on("message", onMessage);
  client.on("typing", ({ from }) => onTyping(from));
  client.on("presence", onPresence);
  client.on("reset", () => {
    // The account was re-created: what is on screen belongs to the old one.
    conversations.clear();
    renderConversations();
    if (peer) void openConversation(peer);
  });
  client.on("error", (error) => console.warn("chat-engine:", error.code, error.message));

  el.signIn.hidden = true;
  el.app.hidden = false;
  el.signOut.hidden = false;
  el.whoami.hidden = false;
  el.whoami.textContent = `Signed in as ${next.username}`;
  renderConversations();
  client.watch([...conversations.keys()]);
  void client.connect().catch((error) => {
    el.connection.textContent = `Disconnected: ${errorText(error)}`;
  });
}

function signOut(): void {
  client?.close();
  client = null;
  session = null;
  peer = null;
  paneGeneration++;
  sessionStorage.removeItem(kStorageKey);
  conversations.clear();
  presence.clear();
  el.conversations.replaceChildren();
  el.messages.replaceChildren();
  el.app.hidden = true;
  el.signIn.hidden = false;
  el.signOut.hidden = true;
  el.whoami.hidden = true;
  el.connection.dataset.state = "idle";
  el.connection.textContent = "Not signed in";
  el.username.focus();
}

const kStateText: Record<string, string> = {
  idle: "Not connected",
  connecting: "Connecting…",
  syncing: "Catching up…",
  open: "Connected",
  reconnecting: "Connection lost, reconnecting…",
  closed: "Disconnected",
};

function showConnection(state: string): void {
  el.connection.dataset.state = state;
  el.connection.textContent = kStateText[state] ?? state;
}

// ---- conversation list

function renderConversations(): void {
  const sorted = [...conversations.entries()].sort((a, b) => b[1].seq - a[1].seq);
  const items = sorted.map(([name, last]) => {
    const li = document.createElement("li");
    li.dataset.peer = name;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "conversation";
    if (name === peer) button.setAttribute("aria-current", "true");
    const p = presence.get(name);
    const dot = document.createElement("span");
    dot.className = `dot ${p?.online ? "online" : "offline"}`;
    dot.setAttribute("aria-hidden", "true");
    const title = document.createElement("span");
    title.className = "name";
    title.textContent = name;
    const status = document.createElement("span");
    status.className = "presence";
    status.textContent = presenceText(p);
    const preview = document.createElement("span");
    preview.className = "preview";
    const who = last.from === session?.username ? "You" : last.from;
    preview.textContent = `${who}: ${last.body}`;
    const when = document.createElement("time");
    when.dateTime = new Date(last.ts).toISOString();
    when.textContent = formatTime(last.ts);
    button.append(dot, title, status, preview, when);
    button.addEventListener("click", () => void openConversation(name));
    li.append(button);
    return li;
  });
  el.conversations.replaceChildren(...items);
  el.noConversations.hidden = items.length > 0;
  el.moreConversations.hidden = conversationsNextBefore === null;
}

async function loadMoreConversations(): Promise<void> {
  if (!client || conversationsNextBefore === null) return;
  const page = await client.conversations({ before: conversationsNextBefore, limit: 50 });
  for (const c of page.conversations) {
    const known = conversations.get(c.with);
    if (!known || known.seq < c.last.seq) conversations.set(c.with, c.last);
  }
  conversationsNextBefore = page.next_before;
  client.watch(page.conversations.map((c) => c.with));
  renderConversations();
}

function onPresence(p: Presence): void {
  presence.set(p.username, p);
  renderConversations();
  if (p.username === peer) el.peerPresence.textContent = presenceText(p);
}

// ---- message pane

function messageItem(entry: Entry): HTMLLIElement {
  const li = document.createElement("li");
  li.className = entry.from === session?.username ? "message mine" : "message theirs";
  li.dataset.seq = String(entry.seq);
  li.dataset.msgId = entry.msg_id;
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = entry.from;
  const body = document.createElement("span");
  body.className = "body";
  body.textContent = entry.body;
  const when = document.createElement("time");
  when.dateTime = new Date(entry.ts).toISOString();
  when.textContent = formatTime(entry.ts);
  li.append(from, document.createTextNode(": "), body, document.createTextNode(" "), when);
  return li;
}

/** Puts an entry of the open conversation in seq order; an entry already shown is left alone. */
function insertEntry(entry: Entry): void {
  if (el.messages.querySelector(`li[data-seq="${entry.seq}"]`)) return;
  const item = messageItem(entry);
  let before: Element | null = null;
  for (const child of el.messages.children) {
    const li = child as HTMLLIElement;
    if (li.dataset.pending !== undefined || Number(li.dataset.seq) > entry.seq) {
      before = li;
      break;
    }
  }
  el.messages.insertBefore(item, before);
}

async function openConversation(name: string): Promise<void> {
  if (!client || !session) return;
  const generation = ++paneGeneration;
  peer = name;
  olderBefore = null;
  el.messages.replaceChildren();
  el.older.hidden = true;
  el.paneTitle.textContent = name === session.username ? "Notes to yourself" : `Conversation with ${name}`;
  el.composerLabel.textContent = `Message to ${name}`;
  el.composer.hidden = false;
  el.peerPresence.textContent = presenceText(presence.get(name));
  showTyping();
  renderConversations();
  client.watch([name]);
  el.composerInput.focus();
  try {
    const page = await client.history(name, { limit: kPageSize });
    if (generation !== paneGeneration) return;
    for (const entry of page.messages) insertEntry(entry);
    olderBefore = page.next_before;
    el.older.hidden = olderBefore === null;
    el.messages.lastElementChild?.scrollIntoView({ block: "end" });
  } catch (error) {
    if (generation === paneGeneration) el.composerError.textContent = `Cannot load the history: ${errorText(error)}`;
  }
}

async function loadOlder(): Promise<void> {
  if (!client || !peer || olderBefore === null) return;
  const generation = paneGeneration;
  el.older.disabled = true;
  try {
    const page = await client.history(peer, { before: olderBefore, limit: kPageSize });
    if (generation !== paneGeneration) return;
    for (const entry of page.messages) insertEntry(entry);
    olderBefore = page.next_before;
    el.older.hidden = olderBefore === null;
  } catch (error) {
    el.composerError.textContent = `Cannot load older messages: ${errorText(error)}`;
  } finally {
    el.older.disabled = false;
  }
}

/** Each inbox entry once, in seq order, live or after a reconnect (the library deduplicates and fills gaps). */
function onMessage(message: MessageEvent): void {
  const entry: Entry = {
    seq: message.seq,
    msg_id: message.msg_id,
    from: message.from,
    to: message.to,
    body: message.body,
    ts: message.ts,
  };
  const name = peerOf(entry);
  const known = conversations.get(name);
  const isNew = !known;
  if (!known || known.seq < entry.seq) conversations.set(name, entry);
  if (isNew) client?.watch([name]);
  renderConversations();
  if (name === peer) insertEntry(entry);
  if (entry.from !== session?.username) {
    clearTyping(entry.from);
    const note = document.createElement("p");
    note.textContent = `New message from ${entry.from}: ${entry.body}`;
    el.announcer.append(note);
    while (el.announcer.childElementCount > 5) el.announcer.firstElementChild?.remove();
  }
}

async function sendMessage(): Promise<void> {
  if (!client || !peer) return;
  const body = el.composerInput.value;
  if (body.trim() === "") return;
  el.composerError.textContent = "";
  el.composerInput.value = "";
  lastTypingSent = 0;
  const to = peer;
  const generation = paneGeneration;
  const pending = document.createElement("li");
  pending.className = "message mine pending";
  pending.dataset.pending = "";
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = session?.username ?? "";
  const text = document.createElement("span");
  text.className = "body";
  text.textContent = body;
  const state = document.createElement("span");
  state.className = "sending";
  state.textContent = " (sending…)";
  pending.append(from, document.createTextNode(": "), text, state);
  el.messages.append(pending);
  pending.scrollIntoView({ block: "end" });
  let receipt: SentReceipt;
  try {
    receipt = await client.send(to, body);
  } catch (error) {
    state.textContent = ` (not sent: ${errorText(error)})`;
    pending.classList.add("failed");
    el.composerError.textContent = `Not sent: ${errorText(error)}`;
    return;
  }
  pending.remove();
  if (generation !== paneGeneration) return;
  // The `message` event for the caller's own entry may come before or after this receipt; the
  // entry is shown once either way (insertEntry keys it by seq).
  insertEntry({ seq: receipt.seq, msg_id: receipt.msg_id, from: session!.username, to, body, ts: receipt.ts });
}

// ---- typing

function onComposerInput(): void {
  if (!client || !peer || peer === session?.username) return;
  const now = Date.now();
  if (now - lastTypingSent < kTypingEveryMs) return;
  if (client.typing(peer)) lastTypingSent = now;
}

function onTyping(from: string): void {
  const old = typingTimers.get(from);
  if (old) clearTimeout(old);
  typingTimers.set(from, setTimeout(() => clearTyping(from), kTypingShowMs));
  showTyping();
}

function clearTyping(from: string): void {
  const timer = typingTimers.get(from);
  if (timer) clearTimeout(timer);
  if (typingTimers.delete(from)) showTyping();
}

function showTyping(): void {
  el.typing.textContent = peer && typingTimers.has(peer) ? `${peer} is typing…` : "";
}

// ---- wiring

el.signInForm.addEventListener("submit", (event) => {
  event.preventDefault();
  el.signInButton.disabled = true;
  signIn({ username: el.username.value.trim(), token: el.token.value.trim(), dev: false })
    .catch((error) => (el.signInError.textContent = errorText(error)))
    .finally(() => (el.signInButton.disabled = false));
});

el.devTokenButton.addEventListener("click", () => {
  const username = el.username.value.trim();
  el.signInError.textContent = "";
  if (!kUsername.test(username)) {
    el.signInError.textContent = "Type a username first: 1 to 64 characters, letters, digits, _ . -";
    el.username.focus();
    return;
  }
  el.devTokenButton.disabled = true;
  mintDevToken(username)
    .then((token) => signIn({ username, token, dev: true }))
    .catch((error) => (el.signInError.textContent = errorText(error)))
    .finally(() => (el.devTokenButton.disabled = false));
});

el.signOut.addEventListener("click", signOut);

el.newConversationForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = el.newPeer.value.trim();
  el.newConversationError.textContent = "";
  if (!kUsername.test(name)) {
    el.newConversationError.textContent = "A username is 1 to 64 characters: letters, digits, _ . -";
    return;
  }
  if (!client) return;
  // The presence endpoint leaves out names that do not exist: a clear error before anything is sent.
  client
    .presence([name])
    .then((found) => {
      if (found.length === 0) {
        el.newConversationError.textContent = `There is no user "${name}".`;
        return;
      }
      onPresence(found[0]!);
      el.newPeer.value = "";
      void openConversation(name);
    })
    .catch((error) => (el.newConversationError.textContent = errorText(error)));
});

el.moreConversations.addEventListener("click", () => void loadMoreConversations());
el.older.addEventListener("click", () => void loadOlder());
el.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  void sendMessage();
});
el.composerInput.addEventListener("input", onComposerInput);
el.composerInput.addEventListener("keydown", (event) => {
  // Enter sends, Shift+Enter is a new line.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    void sendMessage();
  }
});

async function start(): Promise<void> {
  await probeDevLogin();
  if (devLogin) console.warn("chat-engine: the server runs in development mode (--dev-login)");
  const stored = sessionStorage.getItem(kStorageKey);
  if (stored) {
    try {
      const value = JSON.parse(stored) as StoredSession;
      el.username.value = value.username;
      await signIn(value);
      return;
    } catch (error) {
      sessionStorage.removeItem(kStorageKey);
      el.signInError.textContent = errorText(error);
    }
  }
  el.username.focus();
}

void start();
