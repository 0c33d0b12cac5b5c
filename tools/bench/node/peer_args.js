'use strict';
// The command line the Node peers share: [--port N] (0 = the OS picks), plus
// the string options a peer names (socketio_peer.js: --redis URL). Both
// `--flag value` and `--flag=value` work. A bad argument exits 2 naming it,
// like the C++ peers.

function usage(name, options) {
  return `usage: node ${name}.js [--port N]${options.map((o) => ` [--${o} VALUE]`).join('')}\n`;
}

// Returns { port, <option>: string | undefined, ... }.
function parseArgs(name, argv, options = []) {
  const out = { port: 0 };
  for (const o of options) out[o] = undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const flag = eq === -1 ? a : a.slice(0, eq);
    const key = flag.startsWith('--') ? flag.slice(2) : '';
    if (key !== 'port' && !options.includes(key)) {
      process.stderr.write(`${name}: unknown argument ${a}\n${usage(name, options)}`);
      process.exit(2);
    }
    const v = eq === -1 ? argv[++i] : a.slice(eq + 1);
    if (key === 'port') {
      if (v === undefined || !/^\d+$/.test(v) || Number(v) > 65535) {
        process.stderr.write(`${name}: bad --port value ${v}\n`);
        process.exit(2);
      }
      out.port = Number(v);
    } else {
      if (v === undefined || v === '') {
        process.stderr.write(`${name}: --${key} wants a value\n${usage(name, options)}`);
        process.exit(2);
      }
      out[key] = v;
    }
  }
  return out;
}

function parsePort(name, argv) {
  return parseArgs(name, argv).port;
}

module.exports = { parseArgs, parsePort };
