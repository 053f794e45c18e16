// Browser test harness: the real chat-engine binary ($CHAT_ENGINE_BIN, default build/chat-engine at
// the repository root) serving the built web client (--web-dir web/dist) on a free loopback port,
// with a temporary data directory and its own JWT secret; Debian's Chromium (/usr/bin/chromium)
// driven by playwright-core. Waits are for events (a selector, a text, readiness), never sleeps.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import jwt from "jsonwebtoken";
import { chromium } from "playwright-core";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../../", import.meta.url)));
export const BINARY = resolve(REPO_ROOT, process.env.CHAT_ENGINE_BIN ?? "build/chat-engine");
export const WEB_DIR = resolve(REPO_ROOT, process.env.CHAT_WEB_DIR ?? "web/dist");
export const CHROMIUM = process.env.CHAT_CHROMIUM ?? "/usr/bin/chromium";
/** Where each run saves its screenshots (printed at the end of the run). */
export const SCREENSHOTS = resolve(REPO_ROOT, process.env.CHAT_BROWSER_SCREENSHOTS ?? "build/browser-screenshots");

for (const [what, path] of [["chat-engine binary (CHAT_ENGINE_BIN)", BINARY], ["web client build (npm run build in web/)", join(WEB_DIR, "index.html")], ["Chromium (apt-get install chromium)", CHROMIUM]]) {
  if (!existsSync(path)) throw new Error(`missing ${what}: ${path}`);
}
mkdirSync(SCREENSHOTS, { recursive: true });

const READY_TIMEOUT_MS = 20_000;

export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** One chat-engine process; restart() brings it back on the same port and data directory. */
export class TestServer {
  secret = randomBytes(32).toString("hex");
  workdir = mkdtempSync(join(tmpdir(), "chat-browser-"));
  dataDir = join(this.workdir, "data");
  logPath = join(this.workdir, "server.log");
  port = 0;
  proc = null;
  tokens = new Set();

  constructor({ devLogin = false } = {}) {
    this.devLogin = devLogin;
  }

  static async start(options) {
    const server = new TestServer(options);
    server.port = await freePort();
    await server.spawnAndWait();
    return server;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async spawnAndWait() {
    const env = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("CHAT_")) env[key] = value;
    env.CHAT_JWT_SECRET = this.secret;
    const args = ["--listen", `127.0.0.1:${this.port}`, "--data-dir", this.dataDir, "--web-dir", WEB_DIR];
    if (this.devLogin) args.push("--dev-login");
    const log = openSync(this.logPath, "a");
    const proc = spawn(BINARY, args, { env, stdio: ["ignore", log, log] });
    closeSync(log);
    this.proc = proc;
    let exited = false;
    proc.once("exit", () => (exited = true));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`chat-engine exited before it was ready\n${this.logTail()}`);
      try {
        if ((await fetch(`${this.url}/readyz`)).status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50)); // the polling interval of a bounded wait for readiness
    }
    throw new Error(`chat-engine not ready within ${READY_TIMEOUT_MS} ms\n${this.logTail()}`);
  }

  /** SIGTERM (a clean shutdown), and wait for the exit. */
  async terminate() {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise((r) => {
      proc.once("exit", () => r());
      proc.kill("SIGTERM");
    });
  }

  async restart() {
    await this.spawnAndWait();
  }

  /** Stops the server and checks its log: neither the secret nor any token of this run may appear in it. */
  async stop() {
    await this.terminate();
    const log = existsSync(this.logPath) ? readFileSync(this.logPath, "utf8") : "";
    const leaked = [this.secret, ...this.tokens].filter((secret) => log.includes(secret));
    if (leaked.length > 0) throw new Error(`the server log (${this.logPath}) contains ${leaked.length} secret(s) or token(s)`);
    rmSync(this.workdir, { recursive: true, force: true });
  }

  logTail(lines = 40) {
    try {
      return readFileSync(this.logPath, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  /** A token for `username` signed with this server's secret, as `python3 jwt.py --raw` makes one. */
  mint(username, ttlSeconds = 3600) {
    return this.remember(jwt.sign({ username }, this.secret, { algorithm: "HS256", expiresIn: ttlSeconds }));
  }

  /** A token this run handled (minted, or read from a page): checked against the server log at stop(). */
  remember(token) {
    this.tokens.add(token);
    return token;
  }

  /** Creates a user named `prefix` plus a unique suffix (or exactly `prefix` with { exact: true }). */
  async createUser(prefix, { exact = false } = {}) {
    const username = exact ? prefix : uniqueName(prefix);
    const response = await fetch(`${this.url}/api/user/v1/create`, { method: "POST", body: JSON.stringify({ username }) });
    if (response.status !== 201) throw new Error(`create ${username}: ${response.status} ${await response.text()}`);
    return username;
  }
}

let counter = 0;
export function uniqueName(prefix) {
  counter += 1;
  return `${prefix}${counter}_${randomBytes(2).toString("hex")}`;
}

/** Headless Debian Chromium; Playwright gives each launch a fresh temporary profile (user data dir). */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * A page for one user in `context`, signed in with a minted token through the sign-in form, and
 * connected. Records console errors and failed requests to other origins (none may happen: the
 * page fetches nothing from the internet).
 */
export async function signedInPage(context, server, username, { query = "" } = {}) {
  const page = await context.newPage();
  watchPage(page, server);
  await page.goto(`${server.url}/${query}`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Token").fill(server.mint(username));
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expectConnected(page);
  return page;
}

export function watchPage(page, server) {
  page.foreignRequests = [];
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(server.url) && !url.startsWith("ws://127.0.0.1:") && !url.startsWith("data:")) {
      page.foreignRequests.push(url);
    }
  });
}

export async function expectConnected(page, timeout = 30_000) {
  await page.locator('#connection[data-state="open"]').waitFor({ timeout });
}

/** Opens (or starts) the conversation with `peer` through the "Start a conversation with" field. */
export async function startConversation(page, peer) {
  await page.getByLabel("Start a conversation with").fill(peer);
  await page.getByRole("button", { name: "Start", exact: true }).click();
  await page.getByRole("heading", { name: `Conversation with ${peer}` }).waitFor();
}

export async function send(page, text) {
  const box = page.locator("#composer-input");
  await box.fill(text);
  await page.getByRole("button", { name: "Send", exact: true }).click();
}

/** Waits until the message with this exact body is shown (stored: it has a seq, not "sending"). */
export async function waitForMessage(page, body, timeout = 20_000) {
  await messageLocator(page, body).first().waitFor({ timeout });
}

export function messageLocator(page, body) {
  return page.locator("#messages li[data-seq]").filter({ has: page.locator(".body", { hasText: new RegExp(`^${escapeRegExp(body)}$`) }) });
}

/** The bodies of the stored messages shown in the open conversation, top to bottom. */
export async function shownBodies(page) {
  return page.locator("#messages li[data-seq] .body").allTextContents();
}

export function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export async function screenshot(page, name) {
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}
