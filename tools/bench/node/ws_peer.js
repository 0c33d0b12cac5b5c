#!/usr/bin/env node
'use strict';
// wsvisor benchmark peer: plain WebSocket server built on `ws`.
//
// Contract (shared with the C++ peers):
//   node ws_peer.js [--port N]      N defaults to 0 (OS picks), binds 127.0.0.1
//   prints exactly one line "listening <port>" on stdout once ready
//   /echo       every message goes back to its sender, same opcode
//   /broadcast  every message goes to every OTHER open /broadcast connection,
//               in receive order, same opcode
//   other path  upgrade rejected with HTTP 404
//   SIGTERM / SIGINT -> exit 0

const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');

const { parsePort } = require('./peer_args');

const port = parsePort('ws_peer', process.argv.slice(2));
const MAX_PAYLOAD = 16 * 1024 * 1024;

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  maxPayload: MAX_PAYLOAD,
  clientTracking: false, // we keep our own Set for /broadcast
});

const broadcastClients = new Set();

function pathOf(url) {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function onEcho(ws) {
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
}

function onBroadcast(ws) {
  broadcastClients.add(ws);
  ws.on('close', () => broadcastClients.delete(ws));
  ws.on('message', (data, isBinary) => {
    // The same Buffer is handed to every sender: no per-client copy or
    // re-encoding (server frames are unmasked, so ws writes header + data).
    const opts = { binary: isBinary };
    for (const peer of broadcastClients) {
      if (peer !== ws && peer.readyState === WebSocket.OPEN) peer.send(data, opts);
    }
  });
}

const server = http.createServer((req, res) => {
  const p = pathOf(req.url || '/');
  if (p === '/echo' || p === '/broadcast') {
    res.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close' });
    res.end('Upgrade Required\n');
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain', Connection: 'close' });
    res.end('Not Found\n');
  }
});

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  const p = pathOf(req.url || '/');
  let handler;
  if (p === '/echo') handler = onEcho;
  else if (p === '/broadcast') handler = onBroadcast;
  else {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('error', () => {}); // protocol errors close the socket; never crash
    handler(ws);
  });
});

server.on('clientError', (err, socket) => {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  else socket.destroy();
});

function shutdown() {
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

server.on('error', (err) => {
  process.stderr.write(`ws_peer: ${err.message}\n`);
  process.exit(1);
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
