#!/usr/bin/env node
'use strict';
// wsvisor benchmark peer: Socket.IO 4.8 server (WebSocket transport only).
//
//   node socketio_peer.js [--port N] [--redis URL]
//   N defaults to 0 (OS picks), binds 127.0.0.1
//   prints exactly one line "listening <port>" on stdout once ready
//   path /socket.io/, client URL: ws://127.0.0.1:N/socket.io/?EIO=4&transport=websocket
//   event "echo"    (1 arg) -> socket.emit('echo', arg) back to the sender
//   event "publish" (1 arg) -> socket.broadcast.emit('msg', arg) to every other socket
//   connection state recovery is on (see README.md for the exact wire frames)
//   --redis URL (redis://127.0.0.1:PORT): one node of a cluster. The server
//     uses @socket.io/redis-streams-adapter on that Redis, so a broadcast
//     reaches the sockets of every node started with the same URL, and
//     recovery works on any of them (sessions are kept in Redis). Without it,
//     the default in-memory adapter: one process, as before.
//   SIGTERM / SIGINT -> exit 0

const http = require('http');
const { Server } = require('socket.io');

const { parseArgs } = require('./peer_args');

const args = parseArgs('socketio_peer', process.argv.slice(2), ['redis']);

function fail(what) {
  process.stderr.write(`socketio_peer: ${what}\n`);
  process.exit(1);
}

// Socket.IO takes over /socket.io/; anything else gets a plain 404 (without a
// handler such requests would hang).
const httpServer = http.createServer((req, res) => {
  res.writeHead(404, { 'Content-Type': 'text/plain', Connection: 'close' });
  res.end('Not Found\n');
});

const options = {
  transports: ['websocket'],
  perMessageDeflate: false,
  serveClient: false,
  maxHttpBufferSize: 16e6,
  connectionStateRecovery: {
    maxDisconnectionDuration: 120000,
    skipMiddlewares: true,
  },
};

async function redisAdapter(url) {
  // Required here only: a peer without --redis needs neither package.
  const { createClient } = require('redis');
  const { createAdapter } = require('@socket.io/redis-streams-adapter');
  let connected = false;
  const client = createClient({
    url,
    // A Redis that cannot be reached at start fails the start (connect()
    // rejects); once connected, a lost connection is retried.
    socket: { reconnectStrategy: (retries, cause) => (connected ? Math.min(50 * retries, 500) : cause) },
  });
  // Without a listener an error event would crash the process; a lost Redis
  // shows as missing deliveries.
  client.on('error', (err) => {
    if (connected) process.stderr.write(`socketio_peer: redis: ${err.message}\n`);
  });
  await client.connect();
  connected = true;
  return createAdapter(client);
}

function start(io) {
  io.on('connection', (socket) => {
    socket.on('echo', (arg) => {
      socket.emit('echo', arg);
    });
    socket.on('publish', (arg) => {
      socket.broadcast.emit('msg', arg);
    });
  });

  httpServer.on('error', (err) => fail(err.message));
  httpServer.listen(args.port, '127.0.0.1', () => {
    process.stdout.write(`listening ${httpServer.address().port}\n`);
  });
}

function shutdown() {
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

if (args.redis === undefined) {
  start(new Server(httpServer, options));
} else {
  redisAdapter(args.redis).then(
    (adapter) => start(new Server(httpServer, { ...options, adapter })),
    (err) => fail(`cannot use Redis at ${args.redis}: ${err.message}`),
  );
}
