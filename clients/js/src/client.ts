import { Backoff, type BackoffOptions } from "./backoff.js";
import { SeqCursor } from "./cursor.js";
import { Emitter } from "./emitter.js";
import { ChatError } from "./errors.js";
import type {
  ClientFrame,
  ErrorEvent,
  HelloEvent,
  MessageEvent,
  Presence,
  RefreshedEvent,
  SendFrame,
  SentEvent,
  ServerFrame,
  SyncedEvent,
  TypingEvent,
} from "./protocol.js";
import { CloseCode } from "./protocol.js";
import { RestApi, httpBaseFromWsUrl, kMaxPresenceUsers, type PageOptions } from "./rest.js";

/**
 * The part of the WHATWG WebSocket that the client uses. The browser's global WebSocket has it, and
 * so has the `ws` package for Node (which also takes a third argument with `headers`).
 */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/**
 * Where the client is:
 *  - `idle`: not started (before connect());
 *  - `connecting`: asking getToken, then opening the WebSocket and waiting for `hello`;
 *  - `syncing`: `hello` received, catching up with `sync` (new sends wait);
 *  - `open`: caught up; live events flow and sends go out at once;
 *  - `reconnecting`: the connection was lost; waiting for the back-off delay;
 *  - `closed`: close() was called, or the server ended the session for good (the user was deleted).
 */
export type ConnectionState = "idle" | "connecting" | "syncing" | "open" | "reconnecting" | "closed";

export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** The WebSocket close code that caused it, when one did. */
  code?: number;
  /** A human-readable cause. */
  reason?: string;
}

/** `sent` as the app sees it: the server's acknowledgement plus what was sent. */
export interface SentReceipt extends SentEvent {
  to: string;
  body: string;
}

export interface ChatEvents {
  state: StateChange;
  hello: HelloEvent;
  /** Each inbox entry once, in seq order. */
  message: MessageEvent;
  sent: SentReceipt;
  typing: TypingEvent;
  /** A watched user's presence changed (or was read for the first time). */
  presence: Presence;
  /** The cursor advanced; persist it to resume from it (`initialCursor`). */
  cursor: number;
  /** `hello.last_seq` was below the cursor: the account was re-created or the server restored. Drop stored entries. */
  reset: { previousCursor: number; lastSeq: number };
  refreshed: RefreshedEvent;
  /** A failure that does not belong to one send: a refused refresh, a failed presence poll, a bad frame. */
  error: ChatError;
  /** Every frame from the server, parsed, before the client acts on it (for logging and tests). */
  frame: ServerFrame;
}

export interface ChatClientOptions {
  /** The WebSocket URL, e.g. `wss://chat.example/ws`; a function is asked again on each connect. */
  url: string | (() => string);
  /** Supplies a token (JWT); called on each connect, before each refresh, and after a REST 401. */
  getToken: () => string | Promise<string>;
  /** The WebSocket constructor: default `globalThis.WebSocket`; in Node 20 pass the `ws` package's. */
  WebSocket?: WebSocketConstructor;
  /** `query` (default; browsers can only do this) or `header` (`Authorization: Bearer`, needs `ws`). */
  tokenIn?: "query" | "header";
  /** The REST base URL; default derived from `url` (ws→http, wss→https, without the final `/ws`). */
  httpUrl?: string;
  /** The fetch function for REST; default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** The seq up to which the app already holds every entry (default 0: everything is synced). */
  initialCursor?: number;
  /** `limit` of each `sync` (1–1000, default 1000). */
  syncLimit?: number;
  /** Reconnect delays (default 250 ms doubling up to 30 s, with jitter); also used for retried sends. */
  backoff?: BackoffOptions;
  /**
   * Refresh the token this many seconds before `exp` (default 60), or halfway through the time
   * left when that is later (so a token shorter-lived than the margin is not refreshed in a loop).
   */
  refreshMarginSeconds?: number;
  /** Presence poll interval for watched users, in ms (default 10000). */
  presenceIntervalMs?: number;
  /** The server's `--max-message-bytes` (default 65536): larger sends are refused locally. */
  maxFrameBytes?: number;
  /** A connection that has not sent `hello` this long after it was opened is dropped and retried (default 15000 ms). */
  helloTimeoutMs?: number;
  /** Makes send ids (default: 32 random hex characters). */
  newId?: () => string;
}

/** Errors that settle a send for good; `rate_limited` and `unavailable` are retried with the same id. */
const kDefinitiveSendErrors = new Set(["bad_request", "unknown_recipient", "forbidden", "internal"]);
const kMaxTimerMs = 2 ** 31 - 1; // setTimeout fires at once for longer delays

interface OutboxEntry {
  frame: SendFrame;
  resolve: (receipt: SentReceipt) => void;
  reject: (error: ChatError) => void;
  /** Transmitted on the current connection, answer awaited. */
  inFlight: boolean;
  retry: Backoff;
  retryTimer?: ReturnType<typeof setTimeout>;
}

/**
 * A chat-engine client: one logical session of one user, kept alive across connections.
 *
 * It connects with a token from `getToken`, catches up with `sync` from its cursor, hands the app
 * each inbox entry once and in seq order, resends unacknowledged sends with their original `id`
 * after a reconnect, refreshes the token before it expires, and reconnects with back-off and jitter.
 * See clients/js/README.md. Single-threaded, like everything in JavaScript: call it from one event loop.
 */
export class ChatClient extends Emitter<ChatEvents> {
  private readonly options: ChatClientOptions;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly cursor: SeqCursor;
  private readonly backoff: Backoff;
  private readonly outbox = new Map<string, OutboxEntry>();
  private readonly rest: RestApi | null;
  private readonly fetchImpl: typeof fetch | undefined;
  private readonly httpBase: string | undefined;
  private readonly watched = new Map<string, Presence | null>();

  private currentState: ConnectionState = "idle";
  private socket: WebSocketLike | null = null;
  private helloSeen = false;
  private syncInFlight = false;
  private refreshInFlight = false;
  private token: string | null = null;
  private user: string | null = null;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private refreshTimer?: ReturnType<typeof setTimeout>;
  private helloTimer?: ReturnType<typeof setTimeout>;
  private presenceTimer?: ReturnType<typeof setTimeout>;
  private refreshRetry: Backoff;
  private attempt = 0; // bumps on every connect, so stale async steps can tell they are stale

  constructor(options: ChatClientOptions) {
    super();
    this.options = options;
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ctor) throw new ChatError("bad_request", "no WebSocket: pass options.WebSocket (in Node 20, the `ws` package)");
    this.WebSocketImpl = ctor;
    this.cursor = new SeqCursor(options.initialCursor ?? 0);
    this.backoff = new Backoff(options.backoff);
    this.refreshRetry = new Backoff({ initialMs: 1000, maxMs: 30_000, random: options.backoff?.random });
    const globalFetch = (globalThis as { fetch?: typeof fetch }).fetch;
    this.fetchImpl = options.fetch ?? globalFetch?.bind(globalThis);
    const httpUrl = options.httpUrl ?? (typeof options.url === "string" ? httpBaseFromWsUrl(options.url) : undefined);
    this.httpBase = httpUrl?.replace(/\/$/, "");
    this.rest =
      this.fetchImpl && this.httpBase ? new RestApi(this.httpBase, (fresh) => this.restToken(fresh), this.fetchImpl) : null;
  }

  /** The connection state (see ConnectionState). */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The highest seq up to which the app has been given every entry. */
  get seq(): number {
    return this.cursor.value;
  }

  /** Sends not acknowledged yet, oldest first. */
  get pendingSends(): readonly SendFrame[] {
    return [...this.outbox.values()].map((entry) => entry.frame);
  }

  /**
   * Starts the session (or starts it again after close()). Resolves when it is first `open`
   * (caught up); rejects if it becomes `closed` first.
   */
  connect(): Promise<void> {
    if (this.currentState === "idle" || this.currentState === "closed") {
      void this.openSocket();
    }
    return new Promise((resolve, reject) => {
      if (this.currentState === "open") return resolve();
      const off = this.on("state", ({ state, reason }) => {
        if (state === "open") {
          off();
          resolve();
        } else if (state === "closed") {
          off();
          reject(new ChatError("closed", reason ?? "closed"));
        }
      });
    });
  }

  /** Ends the session: closes the socket, stops every timer, and rejects unacknowledged sends with `closed`. */
  close(): void {
    this.finish("closed by the app");
  }

  /**
   * Sends a message. The promise resolves with the `sent` receipt once the message is durable, or
   * rejects with a ChatError on a definitive refusal (`bad_request`, `unknown_recipient`,
   * `forbidden`, `internal`, `too_large`, `closed`). Until then it survives reconnects: it is resent
   * with the same `id`, which the server never stores twice.
   */
  send(to: string, body: string, options: { id?: string } = {}): Promise<SentReceipt> {
    const id = options.id ?? (this.options.newId ?? randomId)();
    const frame: SendFrame = { type: "send", id, to, body };
    const bytes = new TextEncoder().encode(JSON.stringify(frame)).length;
    const max = this.options.maxFrameBytes ?? 65_536;
    if (bytes > max) {
      return Promise.reject(new ChatError("too_large", `the send frame is ${bytes} bytes; the limit is ${max}`, undefined, id));
    }
    if (this.currentState === "closed") {
      return Promise.reject(new ChatError("closed", "the client is closed", undefined, id));
    }
    if (this.outbox.has(id)) {
      return Promise.reject(new ChatError("bad_request", `a send with id ${id} is already pending`, undefined, id));
    }
    return new Promise((resolve, reject) => {
      this.outbox.set(id, {
        frame,
        resolve,
        reject,
        inFlight: false,
        retry: new Backoff(this.options.backoff),
      });
      if (this.currentState === "open") this.flushOutbox();
    });
  }

  /** Tells `to` that this user is typing. Returns false (and sends nothing) unless the client is open. */
  typing(to: string): boolean {
    return this.currentState === "open" && this.transmit({ type: "typing", to });
  }

  /** Polls the presence of these users every `presenceIntervalMs`, emitting `presence` on changes. */
  watch(users: readonly string[]): void {
    for (const user of users) if (!this.watched.has(user)) this.watched.set(user, null);
    if (this.currentState !== "closed" && this.watched.size > 0 && this.presenceTimer === undefined) {
      this.presenceTimer = setTimeout(() => void this.pollPresence(), 0);
    }
  }

  /** Stops watching these users. */
  unwatch(users: readonly string[]): void {
    for (const user of users) this.watched.delete(user);
  }

  /** The caller's entries exchanged with `peer`, newest first (REST). */
  history(peer: string, options?: PageOptions) {
    return this.requireRest().history(peer, options);
  }

  /** The caller's conversations, the most recently active first (REST). */
  conversations(options?: PageOptions) {
    return this.requireRest().conversations(options);
  }

  /** Presence of up to 100 users, now (REST). */
  presence(users: readonly string[]) {
    return this.requireRest().presence(users);
  }

  // ---- connection cycle

  private isClosed(): boolean {
    return this.currentState === "closed";
  }

  private async openSocket(): Promise<void> {
    const attempt = ++this.attempt;
    this.setState("connecting");
    let token: string;
    let url: string;
    try {
      token = await this.freshToken();
      url = typeof this.options.url === "function" ? this.options.url() : this.options.url;
    } catch (error) {
      if (attempt !== this.attempt || this.currentState === "closed") return;
      this.emit("error", asChatError(error, "token"));
      this.scheduleReconnect(this.backoff.next(), undefined, "getToken failed");
      return;
    }
    if (attempt !== this.attempt || this.currentState === "closed") return;

    let socket: WebSocketLike;
    try {
      if (this.options.tokenIn === "header") {
        socket = new this.WebSocketImpl(url, undefined, { headers: { Authorization: `Bearer ${token}` } });
      } else {
        const separator = url.includes("?") ? "&" : "?";
        socket = new this.WebSocketImpl(`${url}${separator}token=${encodeURIComponent(token)}`);
      }
    } catch (error) {
      this.finish(`cannot open a WebSocket to ${url}: ${(error as Error).message}`);
      return;
    }
    this.socket = socket;
    this.helloSeen = false;
    this.syncInFlight = false;
    this.refreshInFlight = false;
    socket.onmessage = (event) => {
      if (this.socket === socket) this.onData(event.data);
    };
    socket.onclose = (event) => {
      if (this.socket === socket) void this.onClose(event.code, event.reason, token);
    };
    socket.onerror = () => {
      // A close event follows an error (WHATWG), but Node 20's global WebSocket (undici) leaves a
      // refused connection in CONNECTING without one: treat that as an abnormal close (1006).
      setTimeout(() => {
        if (this.socket === socket && socket.readyState === 0) {
          void this.onClose(1006, "connection failed", token);
          try {
            socket.close();
          } catch {
            // nothing to close
          }
        }
      }, 0);
    };
    // A connection that gives no hello in time (a black-holed network, a stuck proxy) is dropped.
    this.helloTimer = setTimeout(() => {
      if (this.socket === socket && !this.helloSeen) {
        void this.onClose(1006, "no hello in time", token);
        try {
          socket.close();
        } catch {
          // nothing to close
        }
      }
    }, this.options.helloTimeoutMs ?? 15_000);
  }

  private async onClose(code: number, reason: string, token: string): Promise<void> {
    const helloSeen = this.helloSeen;
    this.socket = null;
    if (code === CloseCode.tooBig) this.rejectOversizedSend();
    this.dropConnectionState();
    if (this.currentState === "closed") return;
    if (code === CloseCode.userDeleted) {
      this.finish(reason || "user deleted", code);
      return;
    }
    if (!helloSeen && (await this.tokenForbidden(token))) {
      // The upgrade was refused. A browser cannot see the HTTP status, so ask the history
      // endpoint, which applies the same checks: 403 means the user no longer exists.
      this.finish("the token's user does not exist (403)", code);
      return;
    }
    if (this.isClosed()) return; // close() was called during the probe
    // 4001: the token expired; getToken supplies a fresh one, so reconnect at once.
    const delay = code === CloseCode.tokenExpired && helloSeen ? 0 : this.backoff.next();
    this.scheduleReconnect(delay, code, reason || (helloSeen ? "connection lost" : "connection refused"));
  }

  /**
   * 1009: the server's --max-message-bytes is below `maxFrameBytes`, and a frame was over it. Sends
   * are the only large frames, so the largest one in flight was it: resending it would close the
   * next connection too, so it is rejected with `too_large`.
   */
  private rejectOversizedSend(): void {
    let largest: OutboxEntry | undefined;
    for (const entry of this.outbox.values()) {
      if (entry.inFlight && (!largest || entry.frame.body.length > largest.frame.body.length)) largest = entry;
    }
    if (!largest) return;
    this.outbox.delete(largest.frame.id);
    largest.reject(new ChatError("too_large", "the server closed the connection with 1009: the send is over its size limit", undefined, largest.frame.id));
  }

  private scheduleReconnect(delay: number, code: number | undefined, reason: string): void {
    this.setState("reconnecting", code, reason);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.openSocket(), delay);
  }

  /** Ends the session for good: state `closed`, pending sends rejected. */
  private finish(reason: string, code?: number): void {
    const socket = this.socket;
    this.socket = null;
    this.attempt += 1;
    this.dropConnectionState();
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.presenceTimer);
    this.presenceTimer = undefined;
    if (socket) {
      try {
        socket.close(1000, "client closed");
      } catch {
        // a socket still connecting may refuse close() in some implementations; it is dropped anyway
      }
    }
    for (const entry of this.outbox.values()) {
      clearTimeout(entry.retryTimer);
      entry.reject(new ChatError("closed", `not acknowledged before the client closed: ${reason}`, undefined, entry.frame.id));
    }
    this.outbox.clear();
    if (this.currentState !== "closed") this.setState("closed", code, reason);
  }

  /** What belongs to one connection: timers, in-flight marks. Outbox entries stay for the next one. */
  private dropConnectionState(): void {
    clearTimeout(this.refreshTimer);
    clearTimeout(this.helloTimer);
    this.syncInFlight = false;
    this.refreshInFlight = false;
    for (const entry of this.outbox.values()) {
      entry.inFlight = false;
      clearTimeout(entry.retryTimer);
      entry.retryTimer = undefined;
    }
  }

  private setState(state: ConnectionState, code?: number, reason?: string): void {
    const previous = this.currentState;
    if (previous === state) return;
    this.currentState = state;
    this.emit("state", { state, previous, ...(code !== undefined && { code }), ...(reason !== undefined && { reason }) });
  }

  // ---- frames

  private onData(data: unknown): void {
    if (typeof data !== "string") {
      this.emit("error", new ChatError("bad_response", "the server sent a binary frame"));
      return;
    }
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      this.emit("error", new ChatError("bad_response", "the server sent a frame that is not JSON"));
      return;
    }
    this.emit("frame", frame);
    switch (frame.type) {
      case "hello":
        return this.onHello(frame);
      case "message":
        return this.release(this.cursor.accept(frame), () => this.fillGap());
      case "synced":
        return this.onSynced(frame);
      case "sent":
        return this.onSent(frame);
      case "error":
        return this.onError(frame);
      case "typing":
        return this.emit("typing", frame);
      case "refreshed":
        this.refreshInFlight = false;
        this.refreshRetry.reset();
        this.scheduleRefresh(frame.exp);
        return this.emit("refreshed", frame);
      case "pong":
        return;
    }
  }

  private onHello(hello: HelloEvent): void {
    this.helloSeen = true;
    clearTimeout(this.helloTimer);
    this.backoff.reset();
    this.user = hello.user;
    if (hello.last_seq < this.cursor.value) {
      const previousCursor = this.cursor.value;
      this.cursor.reset();
      this.emit("reset", { previousCursor, lastSeq: hello.last_seq });
      this.emit("cursor", 0);
    }
    this.emit("hello", hello);
    this.setState("syncing");
    this.scheduleRefresh(hello.exp);
    this.requestSync();
  }

  private onSynced(synced: SyncedEvent): void {
    this.syncInFlight = false;
    this.release(this.cursor.settle(synced.upto), () => {});
    if (synced.more || this.cursor.hasGap) {
      this.requestSync();
      return;
    }
    if (this.currentState === "syncing") {
      this.setState("open");
      this.flushOutbox();
    }
  }

  /** Hands released entries to the app, then runs `after`. */
  private release(entries: MessageEvent[], after: () => void): void {
    for (const entry of entries) this.emit("message", entry);
    if (entries.length > 0) this.emit("cursor", this.cursor.value);
    after();
  }

  /** A live entry arrived ahead of a missing one: fetch what is missing (unless a sync is already on its way). */
  private fillGap(): void {
    if (this.cursor.hasGap && !this.syncInFlight && this.helloSeen) this.requestSync();
  }

  private requestSync(): void {
    this.syncInFlight = this.transmit({ type: "sync", after: this.cursor.value, limit: this.options.syncLimit ?? 1000 });
  }

  private onSent(sent: SentEvent): void {
    const entry = this.outbox.get(sent.id);
    if (!entry) return; // acknowledged already (a repeat from another device's resend, say)
    this.outbox.delete(sent.id);
    const receipt: SentReceipt = { ...sent, to: entry.frame.to, body: entry.frame.body };
    this.emit("sent", receipt);
    entry.resolve(receipt);
  }

  private onError(error: ErrorEvent): void {
    const entry = error.id !== undefined ? this.outbox.get(error.id) : undefined;
    if (entry) {
      entry.inFlight = false;
      if (kDefinitiveSendErrors.has(error.code)) {
        this.outbox.delete(error.id!);
        entry.reject(new ChatError(error.code, error.message, undefined, error.id));
      } else {
        // rate_limited or unavailable: nothing (or possibly something) was stored; the same id is safe.
        entry.retryTimer = setTimeout(() => {
          entry.retryTimer = undefined;
          if (this.currentState === "open" && this.outbox.get(entry.frame.id) === entry) this.transmitEntry(entry);
        }, entry.retry.next());
      }
      return;
    }
    const chatError = new ChatError(error.code, error.message);
    if (this.refreshInFlight && (error.code === "bad_request" || error.code === "forbidden") && error.id === undefined) {
      // The refresh was refused; the connection keeps its old deadline. Try again with a new token.
      this.refreshInFlight = false;
      clearTimeout(this.refreshTimer);
      this.refreshTimer = setTimeout(() => void this.refresh(), this.refreshRetry.next());
    }
    this.emit("error", chatError);
  }

  // ---- sends

  private flushOutbox(): void {
    for (const entry of this.outbox.values()) {
      if (!entry.inFlight && entry.retryTimer === undefined) this.transmitEntry(entry);
    }
  }

  private transmitEntry(entry: OutboxEntry): void {
    entry.inFlight = this.transmit(entry.frame);
  }

  private transmit(frame: ClientFrame): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1) return false;
    try {
      socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false; // the close event follows and the frame is sent again after reconnecting
    }
  }

  // ---- tokens

  private async freshToken(): Promise<string> {
    const token = await this.options.getToken();
    if (typeof token !== "string" || token.length === 0) {
      throw new ChatError("token", "getToken returned no token");
    }
    this.token = token;
    return token;
  }

  private async restToken(fresh: boolean): Promise<string> {
    return !fresh && this.token !== null ? this.token : this.freshToken();
  }

  /** Refresh `refreshMarginSeconds` before `exp`, or halfway through the time left if that is later. */
  private scheduleRefresh(exp: number): void {
    clearTimeout(this.refreshTimer);
    const left = exp * 1000 - Date.now();
    const margin = (this.options.refreshMarginSeconds ?? 60) * 1000;
    const delay = Math.max(0, Math.max(left - margin, left / 2));
    if (delay > kMaxTimerMs) {
      this.refreshTimer = setTimeout(() => this.scheduleRefresh(exp), kMaxTimerMs);
      return;
    }
    this.refreshTimer = setTimeout(() => void this.refresh(), delay);
  }

  private async refresh(): Promise<void> {
    const socket = this.socket;
    let token: string;
    try {
      token = await this.freshToken();
    } catch (error) {
      this.emit("error", asChatError(error, "token"));
      if (this.socket === socket) this.refreshTimer = setTimeout(() => void this.refresh(), this.refreshRetry.next());
      return;
    }
    if (this.socket !== socket) return; // the connection changed meanwhile; its hello schedules anew
    this.refreshInFlight = this.transmit({ type: "refresh", token });
  }

  /** After a refused upgrade: true when the server says the token's user does not exist (403). */
  private async tokenForbidden(token: string): Promise<boolean> {
    if (!this.fetchImpl || !this.httpBase) return false;
    const peer = encodeURIComponent(this.user ?? "x");
    try {
      const response = await this.fetchImpl(`${this.httpBase}/api/message/v1/history?with=${peer}&limit=1`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      await response.body?.cancel();
      return response.status === 403;
    } catch {
      return false;
    }
  }

  // ---- presence

  private async pollPresence(): Promise<void> {
    const users = [...this.watched.keys()];
    try {
      for (let i = 0; i < users.length; i += kMaxPresenceUsers) {
        const rows = await this.requireRest().presence(users.slice(i, i + kMaxPresenceUsers));
        for (const row of rows) {
          if (!this.watched.has(row.username) || this.currentState === "closed") continue;
          const last = this.watched.get(row.username);
          if (!last || last.online !== row.online || last.connections !== row.connections || last.last_seen !== row.last_seen) {
            this.watched.set(row.username, row);
            this.emit("presence", row);
          }
        }
      }
    } catch (error) {
      this.emit("error", asChatError(error, "network"));
    }
    if (this.currentState === "closed" || this.watched.size === 0) {
      this.presenceTimer = undefined;
      return;
    }
    this.presenceTimer = setTimeout(() => void this.pollPresence(), this.options.presenceIntervalMs ?? 10_000);
  }

  private requireRest(): RestApi {
    if (!this.rest) throw new ChatError("bad_request", "REST needs fetch and a string url (or options.httpUrl)");
    return this.rest;
  }
}

function asChatError(error: unknown, code: string): ChatError {
  return error instanceof ChatError ? error : new ChatError(code, (error as Error)?.message ?? String(error));
}

/** 32 random hex characters: the Web Crypto API's getRandomValues exists in browsers (secure context or not) and in Node 20. */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
