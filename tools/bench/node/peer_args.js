'use strict';
// The command line both Node peers share: [--port N] (0 = the OS picks).
// A bad argument exits 2 naming it, like the C++ peers.

function parsePort(name, argv) {
  let port = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    let v;
    if (a === '--port') v = argv[++i];
    else if (a.startsWith('--port=')) v = a.slice('--port='.length);
    else {
      process.stderr.write(`${name}: unknown argument ${a}\nusage: node ${name}.js [--port N]\n`);
      process.exit(2);
    }
    if (v === undefined || !/^\d+$/.test(v) || Number(v) > 65535) {
      process.stderr.write(`${name}: bad --port value ${v}\n`);
      process.exit(2);
    }
    port = Number(v);
  }
  return port;
}

module.exports = { parsePort };
