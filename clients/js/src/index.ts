// chat-engine's client library: see README.md.
export { ChatClient } from "./client.js";
export type {
  ChatClientOptions,
  ChatEvents,
  ConnectionState,
  SentReceipt,
  StateChange,
  WebSocketConstructor,
  WebSocketLike,
} from "./client.js";
export { Backoff, type BackoffOptions } from "./backoff.js";
export { SeqCursor } from "./cursor.js";
export { Emitter } from "./emitter.js";
export { ChatError } from "./errors.js";
export { RestApi, httpBaseFromWsUrl, type PageOptions } from "./rest.js";
export * from "./protocol.js";
