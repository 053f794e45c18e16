import { ChatError } from "./errors.js";
import type { ConversationsPage, HistoryPage, Presence, RestErrorBody } from "./protocol.js";

/** The most usernames one presence request may name (docs: `users`, up to 100). */
export const kMaxPresenceUsers = 100;

export interface PageOptions {
  /** Only entries (or conversations whose latest entry has) `seq < before`. */
  before?: number;
  /** 1–1000, default 50 on the server. */
  limit?: number;
}

/**
 * The REST endpoints a client app needs, over `fetch` with `Authorization: Bearer <token>`
 * (docs/protocol.md §3.3 and the conversations and presence endpoints). A 401 asks `token` for a
 * fresh token once and retries. Stateless apart from its configuration; safe to share.
 */
export class RestApi {
  constructor(
    private readonly baseUrl: string,
    private readonly token: (fresh: boolean) => Promise<string>,
    private readonly fetchImpl: typeof fetch,
  ) {}

  /** The caller's entries exchanged with `peer`, newest first. */
  history(peer: string, options: PageOptions = {}): Promise<HistoryPage> {
    return this.get<HistoryPage>("/api/message/v1/history", { with: peer, ...options });
  }

  /** The caller's conversations, the most recently active first. */
  conversations(options: PageOptions = {}): Promise<ConversationsPage> {
    return this.get<ConversationsPage>("/api/message/v1/conversations", { ...options });
  }

  /** Presence of up to 100 users, in the order asked; names that do not exist are left out. */
  async presence(users: readonly string[]): Promise<Presence[]> {
    if (users.length === 0 || users.length > kMaxPresenceUsers) {
      throw new ChatError("bad_request", `presence takes 1 to ${kMaxPresenceUsers} usernames, got ${users.length}`);
    }
    const page = await this.get<{ users: Presence[] }>("/api/message/v1/presence", { users: users.join(",") });
    return page.users;
  }

  private async get<T>(path: string, query: Record<string, string | number | undefined>): Promise<T> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) params.set(key, String(value));
    }
    const url = `${this.baseUrl}${path}?${params}`;
    let response = await this.request(url, await this.token(false));
    if (response.status === 401) response = await this.request(url, await this.token(true));
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ChatError("bad_response", `${path} answered ${response.status} with a body that is not JSON`, response.status);
    }
    if (!response.ok) {
      const error = (body as Partial<RestErrorBody>)?.error;
      throw new ChatError(error?.code ?? "http_error", error?.message ?? `${path} answered ${response.status}`, response.status);
    }
    return body as T;
  }

  private async request(url: string, token: string): Promise<Response> {
    try {
      return await this.fetchImpl(url, { headers: { Authorization: `Bearer ${token}` } });
    } catch (error) {
      throw new ChatError("network", `cannot reach ${url.split("?")[0]}: ${(error as Error).message}`);
    }
  }
}

/**
 * The REST base URL that goes with a WebSocket URL: ws → http, wss → https, and a final `/ws` path
 * segment removed, so `wss://host/chat/ws` gives `https://host/chat`.
 */
export function httpBaseFromWsUrl(wsUrl: string): string {
  const url = new URL(wsUrl);
  if (url.protocol === "ws:") url.protocol = "http:";
  else if (url.protocol === "wss:") url.protocol = "https:";
  else throw new ChatError("bad_request", `not a ws: or wss: URL: ${wsUrl}`);
  const path = url.pathname.replace(/\/ws\/?$/, "").replace(/\/$/, "");
  return `${url.origin}${path}`;
}
