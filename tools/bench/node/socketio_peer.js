#!/usr/bin/env node
'use strict';
// wsvisor benchmark peer: Socket.IO 4.8 server (WebSocket transport only).
//
//   node socketio_peer.js [--port N]   N defaults to 0 (OS picks), binds 127.0.0.1
//   prints exactly one line "listening <port>" on stdout once ready
//   path /socket.io/, client URL: ws://127.0.0.1:N/socket.io/?EIO=4&transport=websocket
//   event "echo"    (1 arg) -> socket.emit('echo', arg) back to the sender
//   event "publish" (1 arg) -> socket.broadcast.emit('msg', arg) to every other socket
//   connection state recovery is on (see README.md for the exact wire frames)
//   SIGTERM / SIGINT -> exit 0

const http = require('http');
const { Server } = require('socket.io');

const { parsePort } = require('./peer_args');

const port = parsePort('socketio_peer', process.argv.slice(2));

// Socket.IO takes over /socket.io/; anything else gets a plain 404 (without a
// handler such requests would hang).
const httpServer = http.createServer((req, res) => {
  res.writeHead(404, { 'Content-Type': 'text/plain', Connection: 'close' });
  res.end('Not Found\n');
});

const io = new Server(httpServer, {
  transports: ['websocket'],
  perMessageDeflate: false,
  serveClient: false,
  maxHttpBufferSize: 16e6,
  connectionStateRecovery: {
    maxDisconnectionDuration: 120000,
    skipMiddlewares: true,
  },
});

io.on('connection', (socket) => {
  socket.on('echo', (arg) => {
    socket.emit('echo', arg);
  });
  socket.on('publish', (arg) => {
    socket.broadcast.emit('msg', arg);
  });
});

function shutdown() {
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

httpServer.on('error', (err) => {
  process.stderr.write(`socketio_peer: ${err.message}\n`);
  process.exit(1);
});

httpServer.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${httpServer.address().port}\n`);
});
