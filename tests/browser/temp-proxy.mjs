// TEMPORARY (development only, removed once the binary has --web-dir and --dev-login): serves
// web/dist and the development-login endpoints in front of an older chat-engine, proxying the rest.
import http from "node:http";
import net from "node:net";
import { readFileSync, existsSync } from "node:fs";
import { join, normalize, extname } from "node:path";
import jwt from "jsonwebtoken";

const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".map": "application/json" };

export function startTempProxy({ port, enginePort, webDir, secret, devLogin }) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname.startsWith("/api/dev/")) {
      if (!devLogin) { res.writeHead(404); return res.end('{"error":{"code":"not_found","message":"no"}}'); }
      if (url.pathname === "/api/dev/v1") { res.writeHead(200); return res.end('{"dev_login":true}'); }
      let body = "";
      for await (const chunk of req) body += chunk;
      const { username } = JSON.parse(body);
      await fetch(`http://127.0.0.1:${enginePort}/api/user/v1/create`, { method: "POST", body: JSON.stringify({ username }) });
      const token = jwt.sign({ username }, secret, { algorithm: "HS256", expiresIn: 3600 });
      res.writeHead(200); return res.end(JSON.stringify({ username, token, exp: 0 }));
    }
    if (url.pathname.startsWith("/api/") || ["/readyz", "/healthz", "/metrics"].includes(url.pathname)) {
      const upstream = http.request({ host: "127.0.0.1", port: enginePort, path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      });
      upstream.on("error", () => { res.writeHead(502); res.end(); });
      return req.pipe(upstream);
    }
    const file = join(webDir, normalize(url.pathname === "/" ? "/index.html" : url.pathname));
    if (!existsSync(file)) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { "Content-Type": types[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  server.on("upgrade", (req, socket, head) => {
    const up = net.connect(enginePort, "127.0.0.1", () => {
      up.write(`${req.method} ${req.url} HTTP/1.1\r\n` + Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`).join("\r\n") + "\r\n\r\n");
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on("error", () => socket.destroy());
    socket.on("error", () => up.destroy());
    up.on("close", () => socket.destroy());
    socket.on("close", () => up.destroy());
  });
  return new Promise((r) => server.listen(port, "127.0.0.1", () => r(server)));
}
