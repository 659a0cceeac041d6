// mDNS probe: a script (not a test) the lan tests run on a virtual host to play the
// attacker or the eavesdropper on the link. It refuses to run unless every IPv4
// address of the host is loopback or in 10.0.0.0/8 (a virtual LAN host), so none of
// its packets can reach a real network.
//   forge: send a forged announcement (PTR, SRV, TXT, A) of a fake instance, from a
//          chosen source address and port 5353, to the mDNS group or to one address.
//          Prints `sent N` when done.
//   sniff: listen on the group and print, as one JSON line, the first response that
//          holds a record of our service type: every record, TXT entries as strings,
//          plus the whole packet as hex.
//   flood: announce many fake instances (distinct names), all pointing at one victim
//          address, alternating their SRV port between two values on every round, for
//          a while: the red team's "make the cluster hammer a third party" attack.
//          Prints `sent N` (packets) when done.
//   count: listen on the group, send nothing, and print one JSON line per mDNS packet
//          seen ({"at":ms since epoch,"qr":"q"|"r","bytes":n,"from":addr}) for
//          durationMs: every host of the LAN receives every multicast packet, so this
//          is what each node receives (the traffic measure of the lan tests).
//   query: send a legacy unicast query (from an ephemeral port, so the answer comes
//          back by unicast) for our service type from a chosen source address, and
//          print `answered` or, after waitMs of silence, `silent`.
// Arguments come as one JSON object in argv[2] (ForgeArgs or SniffArgs).
// Invariant: the socket is closed and the process exits by itself within timeoutMs.
import { createSocket } from 'node:dgram';
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import { MDNS_SERVICE_TYPE, mdnsIdentity, serviceRecords } from '../../src/discovery/mdns-records.js';

/** Arguments of `forge`. */
export interface ForgeArgs {
  mode: 'forge';
  /** Source address to send from (bound with port 5353); must be an address of this host. */
  from: string;
  /** Destination: 224.0.0.251 (multicast) or a unicast address. */
  to: string;
  /** Node name in TXT and instance label, e.g. 'fake@h2'. */
  name: string;
  /** Hex incarnation, making the instance name unique. */
  incarnation: string;
  /** Cluster label in TXT. */
  cluster: string;
  /** SRV port the fake instance claims. */
  port: number;
  /** A records of the fake instance. */
  addresses: string[];
  /** Packets to send, 200 ms apart; default 1. */
  count?: number;
}

/** Arguments of `sniff`. */
export interface SniffArgs {
  mode: 'sniff';
  /** Only responses from this source address count. */
  source: string;
  /** Give up (exit 3) after this long; default 15 000 ms. */
  timeoutMs?: number;
}

/** Arguments of `query`. */
export interface QueryArgs {
  mode: 'query';
  /** Source address to send from (an ephemeral port is used). */
  from: string;
  /** The node's address (unicast) or 224.0.0.251. */
  to: string;
  /** How long to wait for an answer; default 2000 ms. */
  waitMs?: number;
}

/** Arguments of `count`. */
export interface CountArgs {
  mode: 'count';
  /** How long to listen, in ms. */
  durationMs: number;
}

/** One line of `count`'s output: a packet seen on the group. */
export interface CountedPacket {
  /** Date.now() when it arrived. */
  at: number;
  /** Query or response (the QR bit). */
  qr: 'q' | 'r';
  /** UDP payload size. */
  bytes: number;
  from: string;
}

/** Arguments of `flood`. */
export interface FloodArgs {
  mode: 'flood';
  /** Source address (bound with port 5353); an address of this host. */
  from: string;
  /** Fake instances announced. */
  instances: number;
  /** The victim: every fake instance's A record. */
  victim: string;
  /** The two SRV ports the instances alternate between, round by round. */
  ports: [number, number];
  /** Cluster label in TXT. */
  cluster: string;
  /** How long to keep announcing, in ms. */
  durationMs: number;
  /** Time between rounds, in ms; default 500. */
  roundMs?: number;
}

/** What `sniff` prints. */
export interface SniffResult {
  from: string;
  records: { name: string; type: string; ttl: number; data: unknown }[];
  hex: string;
}

interface DnsPacket {
  encode(packet: unknown): Buffer;
  decode(buf: Buffer): { type?: string; answers?: { name: string; type: string; ttl: number; data: unknown }[]; additionals?: { name: string; type: string; ttl: number; data: unknown }[] };
}

const require = createRequire(import.meta.url);
const dnsPacket = require(require.resolve('dns-packet', { paths: [require.resolve('multicast-dns')] })) as DnsPacket;
const MDNS_GROUP = '224.0.0.251';

function guardVirtualHost(): void {
  for (const [name, infos] of Object.entries(networkInterfaces())) {
    for (const i of infos ?? []) {
      if (i.family !== 'IPv4' || i.internal) continue;
      if (!i.address.startsWith('10.')) throw new Error(`refusing to run: ${name} has ${i.address}, outside 10.0.0.0/8; run on a virtual LAN host`);
    }
  }
}

async function forge(a: ForgeArgs): Promise<void> {
  const id = mdnsIdentity(a.name, a.incarnation, a.port, a.cluster);
  const packet = dnsPacket.encode({ type: 'response', flags: 1024, answers: serviceRecords(id, a.addresses, 120) });
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(5353, a.from, () => resolve());
  });
  if (a.to === MDNS_GROUP) {
    sock.setMulticastInterface(a.from);
    sock.setMulticastTTL(255);
  }
  const count = a.count ?? 1;
  for (let i = 0; i < count; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 200));
    await new Promise<void>((resolve, reject) => sock.send(packet, 5353, a.to, (err) => (err ? reject(err) : resolve())));
  }
  sock.close();
  process.stdout.write(`sent ${count}\n`);
}

async function flood(a: FloodArgs): Promise<void> {
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(5353, a.from, () => resolve());
  });
  sock.setMulticastInterface(a.from);
  sock.setMulticastTTL(255);
  const until = Date.now() + a.durationMs;
  let sent = 0;
  for (let round = 0; Date.now() < until; round++) {
    const port = a.ports[round % 2]!;
    for (let i = 0; i < a.instances; i++) {
      const id = mdnsIdentity(`fake${i}@flood`, (0xf00000 + i).toString(16), port, a.cluster);
      const packet = dnsPacket.encode({ type: 'response', flags: 1024, answers: serviceRecords(id, [a.victim], 120) });
      await new Promise<void>((resolve, reject) => sock.send(packet, 5353, MDNS_GROUP, (err) => (err ? reject(err) : resolve())));
      sent++;
    }
    await new Promise((r) => setTimeout(r, a.roundMs ?? 500));
  }
  sock.close();
  process.stdout.write(`sent ${sent}\n`);
}

async function sniff(a: SniffArgs): Promise<void> {
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  const done = new Promise<SniffResult>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no response of ${MDNS_SERVICE_TYPE} from ${a.source}`)), a.timeoutMs ?? 15_000);
    sock.on('message', (buf, rinfo) => {
      if (rinfo.address !== a.source) return;
      let p: ReturnType<DnsPacket['decode']>;
      try {
        p = dnsPacket.decode(buf);
      } catch {
        return;
      }
      if (p.type !== 'response') return;
      const all = [...(p.answers ?? []), ...(p.additionals ?? [])];
      if (!all.some((r) => r.name.toLowerCase().endsWith(MDNS_SERVICE_TYPE))) return;
      clearTimeout(timer);
      const show = (d: unknown): unknown => (Array.isArray(d) ? d.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : x)) : d);
      resolve({ from: rinfo.address, records: all.map((r) => ({ name: r.name, type: r.type, ttl: r.ttl, data: show(r.data) })), hex: buf.toString('hex') });
    });
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(5353, '0.0.0.0', () => resolve());
  });
  sock.addMembership(MDNS_GROUP);
  // Ask, so that a node that has finished announcing answers at once.
  const query = dnsPacket.encode({ type: 'query', questions: [{ name: MDNS_SERVICE_TYPE, type: 'PTR' }] });
  sock.send(query, 5353, MDNS_GROUP);
  try {
    process.stdout.write(JSON.stringify(await done) + '\n');
  } finally {
    sock.close();
  }
}

async function count(a: CountArgs): Promise<void> {
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  sock.on('message', (buf, rinfo) => {
    if (buf.length < 12) return;
    const line: CountedPacket = { at: Date.now(), qr: (buf[2]! & 0x80) !== 0 ? 'r' : 'q', bytes: buf.length, from: rinfo.address };
    process.stdout.write(JSON.stringify(line) + '\n');
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(5353, '0.0.0.0', () => resolve());
  });
  sock.addMembership(MDNS_GROUP);
  process.stdout.write('listening\n');
  await new Promise((r) => setTimeout(r, a.durationMs));
  sock.close();
}

async function query(a: QueryArgs): Promise<void> {
  const sock = createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, a.from, () => resolve());
  });
  if (a.to === MDNS_GROUP) sock.setMulticastInterface(a.from);
  const answered = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), a.waitMs ?? 2000);
    sock.on('message', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  sock.send(dnsPacket.encode({ type: 'query', id: 4242, questions: [{ name: MDNS_SERVICE_TYPE, type: 'PTR' }] }), 5353, a.to);
  const got = await answered;
  sock.close();
  process.stdout.write(got ? 'answered\n' : 'silent\n');
}

async function main(): Promise<void> {
  guardVirtualHost();
  const args = JSON.parse(process.argv[2] ?? '{}') as ForgeArgs | SniffArgs | QueryArgs | FloodArgs | CountArgs;
  if (args.mode === 'forge') await forge(args);
  else if (args.mode === 'flood') await flood(args);
  else if (args.mode === 'sniff') await sniff(args);
  else if (args.mode === 'query') await query(args);
  else if (args.mode === 'count') await count(args);
  else throw new Error('usage: mdns-probe.ts \'{"mode":"forge"|"flood"|"sniff"|"query"|"count",...}\'');
}

main().catch((err: unknown) => {
  process.stderr.write(`mdns-probe: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 3;
});
