// The wire format of docs/protocol.md §2 and §3, written by hand. Each interface carries the `title`
// of its JSON Schema in docs/schema/ (client/<type>.json, server/<type>.json); test/schema.test.ts
// validates typed examples of every one of them, and every frame the real server sends during the
// test suite, against those schemas with ajv, so a drift between the two fails the tests.
//
// Numbers: `seq`, `exp` and the cursor are unsigned or signed 64-bit integers on the server. A
// JavaScript number holds them exactly up to 2^53, which an inbox does not reach in practice; an
// `exp` that saturates at 2^63-1 ("never expires") is read as a very large number, which is what it means.

/** 1–64 characters of `[A-Za-z0-9_.-]`, case-sensitive. */
export type Username = string;

// ---- client → server (docs/schema/client/*.json)

/** SendFrame: a message; the `id` is the idempotency key, 1–64 bytes, unique per sender forever. */
export interface SendFrame {
  type: "send";
  id: string;
  to: Username;
  body: string;
}

/** SyncFrame: asks for the entries with `seq > after`, at most `limit` (1–1000, default 100). */
export interface SyncFrame {
  type: "sync";
  after?: number;
  limit?: number;
}

/** TypingFrame: tells `to` that this user is typing. */
export interface TypingFrame {
  type: "typing";
  to: Username;
}

/** RefreshFrame: replaces the connection's token by a newer one for the same user. */
export interface RefreshFrame {
  type: "refresh";
  token: string;
}

/** PingFrame: answered with `pong`. */
export interface PingFrame {
  type: "ping";
}

export type ClientFrame = SendFrame | SyncFrame | TypingFrame | RefreshFrame | PingFrame;

// ---- server → client (docs/schema/server/*.json)

/** HelloEvent: the first frame of every connection. */
export interface HelloEvent {
  type: "hello";
  user: Username;
  /** 24 hex characters, unique per connection. */
  connection_id: string;
  node: string;
  /** Highest seq of the user's inbox when the connection opened (0 when empty). */
  last_seq: number;
  /** The token's `exp`, Unix seconds. */
  exp: number;
}

/** MessageEvent: one entry of this user's inbox. */
export interface MessageEvent {
  type: "message";
  /** Position in this user's inbox: 1, 2, 3… with no gaps. */
  seq: number;
  /** 32 lower-case hex characters; the same for both copies of a message. */
  msg_id: string;
  from: Username;
  to: Username;
  body: string;
  /** Unix milliseconds, when the server accepted the send. */
  ts: number;
}

/** SentEvent: the connection's `send` is durable (or was a repeat of an earlier one). */
export interface SentEvent {
  type: "sent";
  id: string;
  msg_id: string;
  /** The sender's entry. */
  seq: number;
  ts: number;
}

/** SyncedEvent: ends a `sync` answer. */
export interface SyncedEvent {
  type: "synced";
  after: number;
  /** Last seq returned, or `after` when none. */
  upto: number;
  more: boolean;
}

/** TypingEvent: someone is typing to this user. */
export interface TypingEvent {
  type: "typing";
  from: Username;
}

/** RefreshedEvent: answers a valid `refresh`. */
export interface RefreshedEvent {
  type: "refreshed";
  exp: number;
}

/** PongEvent: answers `ping`. */
export interface PongEvent {
  type: "pong";
}

/** The error codes of docs/protocol.md §2.5. */
export type ErrorCode =
  | "bad_request"
  | "unknown_recipient"
  | "rate_limited"
  | "unavailable"
  | "forbidden"
  | "internal";

/** ErrorEvent: a frame was refused. `id` is present only when it answers a `send`. */
export interface ErrorEvent {
  type: "error";
  code: ErrorCode;
  message: string;
  id?: string;
}

export type ServerFrame =
  | HelloEvent
  | MessageEvent
  | SentEvent
  | SyncedEvent
  | TypingEvent
  | RefreshedEvent
  | PongEvent
  | ErrorEvent;

// ---- REST (docs/protocol.md §3)

/** An inbox entry as the REST endpoints return it (a MessageEvent without `type`). */
export type Entry = Omit<MessageEvent, "type">;

/** GET /api/message/v1/history. */
export interface HistoryPage {
  messages: Entry[];
  next_before: number | null;
}

/** One row of GET /api/message/v1/conversations. */
export interface Conversation {
  with: Username;
  last: Entry;
}

/** GET /api/message/v1/conversations. */
export interface ConversationsPage {
  conversations: Conversation[];
  next_before: number | null;
}

/** One row of GET /api/message/v1/presence. */
export interface Presence {
  username: Username;
  online: boolean;
  connections: number;
  /** Unix ms of the last connect or disconnect, or null if never. */
  last_seen: number | null;
}

/** Every 4xx and 5xx REST body. */
export interface RestErrorBody {
  error: { code: string; message: string };
}

/** WebSocket close codes of docs/protocol.md §2.6 that the client acts on. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  tooBig: 1009,
  tokenExpired: 4001,
  userDeleted: 4003,
  slowConsumer: 4008,
} as const;
