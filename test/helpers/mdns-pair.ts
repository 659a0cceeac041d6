// mDNS pair: a script (not a test) that runs real mDNS discovery over multicast loopback
// and prints one JSON line with what it saw. test/unit/mdns.test.ts runs it inside a
// private network namespace (`unshare -rn`, lo with multicast on); it refuses to run
// anywhere a non-loopback interface exists, so no mDNS packet can reach a real network.
// Nodes: alice (default interface selection) and bob (interface 127.0.0.1) of one
// cluster, and carol of another cluster, which both must ignore; plus one garbage packet.
// Invariants: every instance is stopped and the garbage socket closed before the line
// is printed, even on failure; the process then exits by itself (no handle may linger).
import { createSocket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { mdnsDiscovery } from '../../src/discovery/mdns.js';
import type { DiscoveredPeer, Discovery } from '../../src/discovery/discovery.js';
import { systemClock } from '../../src/util/clock.js';
import { systemRandom } from '../../src/util/random.js';
import type { LogMeta, Logger } from '../../src/util/log.js';

/** What the script prints (one JSON line on stdout). */
export interface MdnsPairResult {
  ok: boolean;
  error?: string;
  alice: { instance: string; found: DiscoveredPeer[]; lost: string[]; warnings: string[]; debug: string[] };
  bob: { instance: string; found: DiscoveredPeer[]; lost: string[]; warnings: string[]; debug: string[] };
  carol: { found: DiscoveredPeer[]; warnings: string[] };
  /** Milliseconds from bob.stop() resolving to alice's peerLost for bob, or null. */
  lostAfterMs: number | null;
}

interface Recorder {
  found: DiscoveredPeer[];
  lost: string[];
  warnings: string[];
  debug: string[];
  logger: Logger;
}

function recorder(): Recorder {
  const r: Recorder = { found: [], lost: [], warnings: [], debug: [], logger: undefined as unknown as Logger };
  const line = (m: string, meta?: LogMeta): string => (meta ? `${m} ${JSON.stringify(meta)}` : m);
  r.logger = {
    error: (m, meta) => r.warnings.push(`error: ${line(m, meta)}`),
    warn: (m, meta) => r.warnings.push(line(m, meta)),
    info: () => {},
    debug: (m, meta) => void (r.debug.length < 500 && r.debug.push(line(m, meta))),
    child: () => r.logger,
  };
  return r;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function instanceOf(name: string, inc: string): string {
  return `${name}-${inc}._cluster-node._tcp.local`.toLowerCase();
}

async function main(): Promise<MdnsPairResult> {
  const real = Object.entries(networkInterfaces()).filter(([, infos]) => (infos ?? []).some((i) => !i.internal));
  if (real.length > 0) {
    throw new Error(`refusing to run mDNS: non-loopback interfaces present (${real.map(([n]) => n).join(', ')}); run inside unshare -rn`);
  }
  const a = recorder();
  const b = recorder();
  const c = recorder();
  const common = { clock: systemClock, random: systemRandom, queryMaxIntervalMs: 1000 };
  const alice = mdnsDiscovery({ ...common, name: 'alice@pair.test', incarnation: 'aa01', port: 4001, cluster: 'pair', logger: a.logger });
  const bob = mdnsDiscovery({ ...common, name: 'bob@pair.test', incarnation: 'bb02', port: 4002, cluster: 'pair', interface: '127.0.0.1', logger: b.logger });
  const carol = mdnsDiscovery({ ...common, name: 'carol@pair.test', incarnation: 'cc03', port: 4003, cluster: 'other-pair', logger: c.logger });
  const all: Discovery[] = [alice, bob, carol];
  const garbage = createSocket({ type: 'udp4', reuseAddr: true });
  const result: MdnsPairResult = {
    ok: false,
    alice: { instance: instanceOf('alice@pair-test', 'aa01'), found: a.found, lost: a.lost, warnings: a.warnings, debug: a.debug },
    bob: { instance: instanceOf('bob@pair-test', 'bb02'), found: b.found, lost: b.lost, warnings: b.warnings, debug: b.debug },
    carol: { found: c.found, warnings: c.warnings },
    lostAfterMs: null,
  };
  const sink = (r: Recorder) => ({ peerFound: (p: DiscoveredPeer) => void r.found.push(p), peerLost: (id: string) => void r.lost.push(id) });
  try {
    await Promise.all([alice.start(sink(a)), bob.start(sink(b)), carol.start(sink(c))]);
    await waitFor('alice and bob to find each other', () => a.found.length > 0 && b.found.length > 0, 10_000);
    await waitFor('alice to notice carol (another cluster)', () => a.debug.some((l) => l.includes('another cluster') && l.includes('carol')), 10_000);

    // A packet that is not DNS at all, sent to the group from port 5353 like a real responder.
    await new Promise<void>((resolve, reject) => {
      garbage.once('error', reject);
      garbage.bind(5353, '0.0.0.0', () => {
        garbage.setMulticastInterface('127.0.0.1');
        garbage.send(Buffer.from('\x00\x01not a dns packet'), 5353, '224.0.0.251', (err) => (err ? reject(err) : resolve()));
      });
    });
    await waitFor('alice to drop the garbage packet', () => a.debug.some((l) => l.includes('undecodable')), 5000);
    // Let a few more queries and answers go by (queries are 1 s apart): nothing may be reported twice.
    await new Promise((r) => setTimeout(r, 2500));

    await bob.stop();
    await bob.stop(); // idempotent
    const stopDone = Date.now();
    await waitFor("alice's peerLost for bob", () => a.lost.includes(result.bob.instance), 5000);
    result.lostAfterMs = Date.now() - stopDone;
    result.ok = true;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    await Promise.all(all.map((d) => d.stop().catch(() => undefined)));
    try {
      garbage.close();
    } catch {
      // never bound
    }
  }
  return result;
}

const result = await main().catch(
  (err: unknown): MdnsPairResult => ({
    ok: false,
    error: err instanceof Error ? err.message : String(err),
    alice: { instance: '', found: [], lost: [], warnings: [], debug: [] },
    bob: { instance: '', found: [], lost: [], warnings: [], debug: [] },
    carol: { found: [], warnings: [] },
    lostAfterMs: null,
  }),
);
process.stdout.write(JSON.stringify(result) + '\n');
if (!result.ok) process.exitCode = 1;
