// node-discover runner: one node-discover instance (the npm package, a dev dependency)
// started the way the benchmarks start cluster-node — `node bench/node-discover-runner.mjs
// --name NAME --broadcast ADDR`, one process per virtual host — printing one JSON line per
// event on stdout with a timestamp, so the side-by-side benchmarks can time it like ours:
//   {"event":"ready","name":N,"t":MS}            UDP socket bound, first hello sent
//   {"event":"added","name":N,"peer":P,"id":I,"t":MS}   first hello from P (node-discover's `added`)
//   {"event":"removed","name":N,"peer":P,"id":I,"t":MS} P not heard within nodeTimeout
//   {"event":"promotion","name":N,"t":MS}        this process became master
//   {"event":"demotion","name":N,"t":MS}         this process stopped being master
//   {"event":"master","name":N,"peer":P,"t":MS}  a new master P was seen
// t is Date.now() in ms. Peers are named by the name each advertises (--name); id is the
// peer instance's uuid (a restarted peer comes back under its name with a new id).
// SIGTERM/SIGINT stop the instance and exit 0.
// Plain JavaScript, not TypeScript through tsx: it must start as cheaply as
// `node bin/cluster-node.js` does, or the comparison would charge tsx to node-discover.
// Invariant (multicast hygiene): node-discover broadcasts UDP. The runner refuses to start
// unless --broadcast is given and every non-loopback IPv4 address of this process's network
// namespace lies in that broadcast address's /24, i.e. unless it runs on a host of the
// virtual LAN (test/helpers/vlan.ts), whose bridge has no uplink.
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const Discover = require('node-discover');

const USAGE = 'usage: node bench/node-discover-runner.mjs --name NAME --broadcast A.B.C.255 [--port P] [--hello-interval MS] [--check-interval MS] [--node-timeout MS]';

function fail(message) {
  process.stderr.write(`node-discover-runner: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function intArg(name, raw, dflt) {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 600_000) fail(`--${name} must be an integer 1-600000`);
  return n;
}

let values;
try {
  values = parseArgs({
    options: {
      name: { type: 'string' },
      broadcast: { type: 'string' },
      port: { type: 'string' },
      'hello-interval': { type: 'string' },
      'check-interval': { type: 'string' },
      'node-timeout': { type: 'string' },
    },
    strict: true,
  }).values;
} catch (err) {
  fail(err.message);
}
const name = values.name;
if (!name || !/^[A-Za-z0-9_.@-]{1,100}$/.test(name)) fail('--name is required (1-100 of A-Za-z0-9_.@-)');
const broadcast = values.broadcast ?? '';
const bm = /^(\d{1,3}\.\d{1,3}\.\d{1,3})\.255$/.exec(broadcast);
if (!bm) fail('--broadcast A.B.C.255 is required (the virtual LAN\'s subnet broadcast address)');

// Hygiene: only on a virtual LAN host. Any other address means we are on a real network.
const foreign = Object.entries(networkInterfaces()).flatMap(([ifname, addrs]) =>
  (addrs ?? []).filter((a) => a.family === 'IPv4' && !a.internal && !a.address.startsWith(`${bm[1]}.`)).map((a) => `${ifname} ${a.address}`),
);
const own = Object.values(networkInterfaces()).flat().filter((a) => a && a.family === 'IPv4' && !a.internal);
if (foreign.length > 0 || own.length === 0) {
  process.stderr.write(
    `node-discover-runner: refusing to broadcast: this network namespace has ${own.length === 0 ? 'no address in ' + bm[1] + '.0/24' : 'addresses outside ' + bm[1] + '.0/24 (' + foreign.join(', ') + ')'}; run it on a virtual LAN host only\n`,
  );
  process.exit(3);
}

const print = (event, fields) => process.stdout.write(`${JSON.stringify({ event, name, ...fields, t: Date.now() })}\n`);
const peerName = (node) => {
  const n = node?.advertisement?.name;
  return typeof n === 'string' ? n.slice(0, 100) : `?${String(node?.id ?? '').slice(0, 36)}`;
};

const d = new Discover({
  broadcast,
  port: intArg('port', values.port, 12345),
  helloInterval: intArg('hello-interval', values['hello-interval'], 1000),
  checkInterval: intArg('check-interval', values['check-interval'], 2000),
  nodeTimeout: intArg('node-timeout', values['node-timeout'], 2000),
  advertisement: { name },
  start: false,
});
const peerId = (node) => String(node?.id ?? '').slice(0, 36);
d.on('added', (node) => print('added', { peer: peerName(node), id: peerId(node) }));
d.on('removed', (node) => print('removed', { peer: peerName(node), id: peerId(node) }));
d.on('promotion', () => print('promotion', {}));
d.on('demotion', () => print('demotion', {}));
d.on('master', (node) => print('master', { peer: peerName(node) }));
d.on('error', (err) => process.stderr.write(`node-discover-runner: ${err?.message ?? 'error'}\n`));
d.start((err) => {
  if (err) {
    process.stderr.write(`node-discover-runner: cannot start: ${err.message}\n`);
    process.exit(1);
  }
  print('ready', {});
});

const stop = () => {
  d.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
