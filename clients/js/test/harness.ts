// Test harness: starts the real chat-engine binary ($CHAT_ENGINE_BIN, default build/chat-engine at
// the repository root) on a free loopback port with a temporary data directory and a known JWT
// secret, as tests/e2e/conftest.py does; mints tokens with `jsonwebtoken`; creates users over REST;
// and waits for client events with time-outs (never sleeps in their place).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, closeSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import jwt from "jsonwebtoken";
import WebSocket from "ws";
import { ChatClient, type ChatClientOptions, type ChatEvents } from "../src/index.js";

/** The repository root: this file runs from clients/js/build-test/test/. */
export const REPO_ROOT = resolve(fileURLToPath(new URL("../../../../", import.meta.url)));
export const BINARY = resolve(REPO_ROOT, process.env.CHAT_ENGINE_BIN ?? "build/chat-engine");

/** A reason to skip the suites that need the binary, or false. Under CI a missing binary fails instead. */
export const skipWithoutBinary: string | false = (() => {
  if (existsSync(BINARY)) return false;
  const message = `chat-engine binary not found at ${BINARY} (build it, or set CHAT_ENGINE_BIN)`;
  if (process.env.CI) throw new Error(`${message}; CI is set, so a missing binary fails the suite`);
  return message;
})();

const READY_TIMEOUT_MS = 20_000;
export const EVENT_TIMEOUT_MS = 10_000;

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** One chat-engine process; restart() brings it back on the same port and data directory. */
export class TestServer {
  readonly secret = randomBytes(32).toString("hex");
  readonly workdir = mkdtempSync(join(tmpdir(), "chat-js-"));
  readonly dataDir = join(this.workdir, "data");
  readonly logPath = join(this.workdir, "server.log");
  port = 0;
  private proc: ChildProcess | null = null;

  constructor(private readonly args: string[] = []) {}

  static async start(args: string[] = []): Promise<TestServer> {
    const server = new TestServer(args);
    server.port = await freePort();
    await server.spawnAndWait();
    return server;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private async spawnAndWait(): Promise<void> {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (!key.startsWith("CHAT_") && value !== undefined) env[key] = value;
    }
    env.CHAT_JWT_SECRET = this.secret;
    const log = openSync(this.logPath, "a");
    const proc = spawn(BINARY, ["--listen", `127.0.0.1:${this.port}`, "--data-dir", this.dataDir, ...this.args], {
      env,
      stdio: ["ignore", log, log],
    });
    closeSync(log);
    this.proc = proc;
    let exited = false;
    proc.once("exit", () => (exited = true));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`chat-engine exited before it was ready\n${this.logTail()}`);
      try {
        const response = await fetch(`${this.httpUrl}/readyz`);
        if (response.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50)); // the polling interval of a bounded wait for readiness
    }
    throw new Error(`chat-engine not ready within ${READY_TIMEOUT_MS} ms\n${this.logTail()}`);
  }

  /** SIGKILL, and wait for the exit. */
  async kill9(): Promise<void> {
    await this.signal("SIGKILL");
  }

  /** Starts again on the same port and data directory. */
  async restart(): Promise<void> {
    await this.spawnAndWait();
  }

  async stop(): Promise<void> {
    await this.signal("SIGTERM");
    rmSync(this.workdir, { recursive: true, force: true });
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((r) => {
      proc.once("exit", () => r());
      proc.kill(signal);
    });
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logPath, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  /** A token for `username`, signed with this server's secret (HS256, with iat). */
  mint(username: string, ttlSeconds = 3600): string {
    return jwt.sign({ username }, this.secret, { algorithm: "HS256", expiresIn: ttlSeconds });
  }

  async createUser(prefix: string): Promise<string> {
    const username = uniqueName(prefix);
    const response = await fetch(`${this.httpUrl}/api/user/v1/create`, {
      method: "POST",
      body: JSON.stringify({ username }),
    });
    if (response.status !== 201) throw new Error(`create ${username}: ${response.status} ${await response.text()}`);
    return username;
  }

  async deleteUser(username: string): Promise<void> {
    const response = await fetch(`${this.httpUrl}/api/user/v1/${username}`, { method: "DELETE" });
    if (response.status !== 204) throw new Error(`delete ${username}: ${response.status}`);
  }

  async recreateUser(username: string): Promise<void> {
    const response = await fetch(`${this.httpUrl}/api/user/v1/create`, { method: "POST", body: JSON.stringify({ username }) });
    if (response.status !== 201) throw new Error(`create ${username}: ${response.status}`);
  }

  /** The value of one metric without labels. */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.httpUrl}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    if (!line) throw new Error(`no metric ${name}`);
    return Number(line.split(" ")[1]);
  }

  /** A client for `username` on this server over `ws`; fast back-off so that tests reconnect quickly. */
  client(username: string, options: Partial<ChatClientOptions> = {}): ChatClient {
    return new ChatClient({
      url: this.wsUrl,
      getToken: () => this.mint(username),
      WebSocket: WebSocket as unknown as ChatClientOptions["WebSocket"],
      backoff: { initialMs: 50, maxMs: 500 },
      ...options,
    });
  }
}

let nameCounter = 0;
export function uniqueName(prefix: string): string {
  nameCounter += 1;
  return `${prefix}_${process.pid}_${nameCounter}_${randomBytes(3).toString("hex")}`;
}

/** The next `event` of `client` for which `match` holds, or a time-out failure. */
export function waitFor<K extends keyof ChatEvents>(
  client: ChatClient,
  event: K,
  match: (payload: ChatEvents[K]) => boolean = () => true,
  timeoutMs = EVENT_TIMEOUT_MS,
): Promise<ChatEvents[K]> {
  return new Promise((resolvePayload, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${String(event)}"`));
    }, timeoutMs);
    const off = client.on(event, (payload) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      off();
      resolvePayload(payload);
    });
  });
}

/** Records every payload of `event` from now on. */
export function record<K extends keyof ChatEvents>(client: ChatClient, event: K): ChatEvents[K][] {
  const seen: ChatEvents[K][] = [];
  client.on(event, (payload) => seen.push(payload));
  return seen;
}

/** Waits until `records` holds `count` items (checked on each `event`), or fails after a time-out. */
export async function waitForCount<K extends keyof ChatEvents>(
  client: ChatClient,
  event: K,
  records: unknown[],
  count: number,
  timeoutMs = EVENT_TIMEOUT_MS,
): Promise<void> {
  if (records.length >= count) return;
  await waitFor(client, event, () => records.length >= count, timeoutMs).catch((error: Error) => {
    throw new Error(`${error.message}: have ${records.length} of ${count}`);
  });
}

/** Rejects after `ms` unless `promise` settles first. */
export function within<T>(promise: Promise<T>, what: string, ms = EVENT_TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
