// A chat relay as a developer would write it by hand, kept as a benchmark peer for chat-engine:
// ws + jsonwebtoken, a map from user to sockets, nothing kept on disk or in memory beyond the
// open sockets. A message {type:"send", id, to, body} goes to every socket of `to` and is
// answered with {type:"sent", id}; the frames mirror chat-engine's (docs/protocol.md) so that
// tools/chat-bench's adapter stays small.
//
//   CHAT_JWT_SECRET=... node server.js --listen 127.0.0.1:8100
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');
const jwt = require('jsonwebtoken');

const secret = process.env.CHAT_JWT_SECRET;
const listenArg = process.argv.indexOf('--listen');
const [host, port] = (listenArg > 0 ? process.argv[listenArg + 1] : '127.0.0.1:8100').split(':');
if (!secret) {
  console.error('node-relay: set CHAT_JWT_SECRET');
  process.exit(2);
}

const sockets = new Map(); // user -> Set of open sockets

const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/readyz' ? 200 : 404).end();
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://relay');
  let user;
  try {
    user = jwt.verify(url.searchParams.get('token') || '', secret, { algorithms: ['HS256'] }).username;
  } catch (err) {
    user = undefined;
  }
  if (url.pathname !== '/ws' || typeof user !== 'string' || user === '') {
    socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (!sockets.has(user)) sockets.set(user, new Set());
    sockets.get(user).add(ws);
    ws.send(JSON.stringify({ type: 'hello', user }));

    ws.on('message', (data) => {
      let msg;
      try {
        msg = JSON.parse(data);
      } catch (err) {
        ws.send(JSON.stringify({ type: 'error', code: 'bad_request', message: 'not JSON' }));
        return;
      }
      if (msg.type !== 'send' || typeof msg.to !== 'string') {
        ws.send(JSON.stringify({ type: 'error', id: msg.id, code: 'bad_request', message: 'unknown frame' }));
        return;
      }
      const out = JSON.stringify({ type: 'message', from: user, to: msg.to, body: msg.body });
      for (const peer of sockets.get(msg.to) || []) peer.send(out);
      ws.send(JSON.stringify({ type: 'sent', id: msg.id }));
    });

    ws.on('close', () => {
      const set = sockets.get(user);
      set.delete(ws);
      if (set.size === 0) sockets.delete(user);
    });
  });
});

server.listen(Number(port), host, () => console.log(`node-relay listening on ${host}:${port}`));
