// mDNS traffic while a cluster forms: nine nodes on three hosts started together form
// a full mesh, a late joiner is still discovered quickly, and the mDNS packets on the
// link stay bounded. A counting probe (test/helpers/mdns-probe.ts, mode `count`) on
// host 1 listens on the group and sends nothing; every host receives every multicast
// packet, so what it counts is what each node receives. The counts are printed as a
// diagnostic (the figures of the traffic measurement) and checked against a bound that
// the N^2 behaviour (every node answering every query, answers growing with the number
// of queriers) exceeds: with known-answer and duplicate-question suppression a node
// answers about once per query round and the rounds are shared by the whole cluster.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { lanSkipReason, READY_TIMEOUT_MS, useLan } from '../helpers/lan-fixture.js';
import type { CliNode } from '../helpers/cli-process.js';
import type { CountedPacket } from '../helpers/mdns-probe.js';
import { collect, TSX } from '../helpers/probe-runner.js';
import { REPO_ROOT } from '../helpers/cli-process.js';
import { fileURLToPath } from 'node:url';

const skip = await lanSkipReason();
/** Hosts and nodes per host; MDNS_TRAFFIC_HOSTS / MDNS_TRAFFIC_PER_HOST override them for a bigger measurement. */
const HOSTS = Number(process.env.MDNS_TRAFFIC_HOSTS ?? 3);
const PER_HOST = Number(process.env.MDNS_TRAFFIC_PER_HOST ?? 3);
/** Launch to full mesh of nine nodes on a busy 2-core machine. */
const FORMATION_TIMEOUT_MS = 30_000;
/** Late joiner's launch to being listed by everyone (its own start-up included). */
const LATE_JOIN_TIMEOUT_MS = 15_000;
/** How long after the mesh formed the traffic keeps being counted (the query schedule's tail). */
const TAIL_MS = 8_000;
const PROBE = fileURLToPath(new URL('../helpers/mdns-probe.ts', import.meta.url));

function packets(stdout: string): CountedPacket[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as CountedPacket);
}

test(`${HOSTS * PER_HOST} nodes on ${HOSTS} hosts form with bounded mDNS traffic, and a late joiner is found quickly`, { skip, timeout: 180_000 }, async (t) => {
  const f = await useLan(t, HOSTS);
  const counter = f.lan.spawn(1, process.execPath, ['--import', TSX, PROBE, JSON.stringify({ mode: 'count', durationMs: 100_000 })], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => counter.kill('SIGKILL'));
  const counted = collect(counter, 110_000);
  let out = '';
  counter.stdout!.on('data', (s: string) => (out += s));
  const listening = Date.now() + 20_000;
  while (!out.includes('listening')) {
    if (Date.now() > listening) throw new Error('the counting probe did not start listening');
    await new Promise((r) => setTimeout(r, 50));
  }

  const nodes: CliNode[] = [];
  const launchedAt = Date.now();
  for (let i = 0; i < HOSTS * PER_HOST; i++) {
    const host = (i % HOSTS) + 1;
    nodes.push(f.start(host, { name: `n${i + 1}@h${host}`, args: ['--no-singleton'], logLevel: 'debug' }));
  }
  await Promise.all(nodes.map((n) => n.waitReady(Math.max(READY_TIMEOUT_MS, 3000 * nodes.length))));
  const names = nodes.map((n) => n.name);
  const othersOf = (n: CliNode): string[] => names.filter((x) => x !== n.name);
  // Discovery itself: every node has logged `mDNS: peer found` for every other node.
  const foundAll = async (n: CliNode): Promise<void> => {
    const want = new Set(othersOf(n));
    await n.waitForLog(() => {
      const got = new Set(n.logs.filter((l) => l.message === 'mDNS: peer found').map((l) => l.fields.peer));
      return [...want].every((x) => got.has(x));
    }, FORMATION_TIMEOUT_MS);
  };
  await Promise.all(nodes.map(foundAll));
  const discoveredAt = Date.now();
  // The mesh on top (MDNS_TRAFFIC_MESH=0 skips it: a measurement on a machine too busy for the mesh).
  if (process.env.MDNS_TRAFFIC_MESH !== '0') await Promise.all(nodes.map((n) => n.waitForExactMembers(othersOf(n), FORMATION_TIMEOUT_MS)));
  const formedAt = Date.now();
  await new Promise((r) => setTimeout(r, TAIL_MS));
  const tailEnd = Date.now();

  const late = f.start(2, { name: 'late@h2', args: ['--no-singleton'], logLevel: 'debug' });
  const lateStart = Date.now();
  nodes.push(late);
  const lateOthers = new Set(names);
  await late.waitForLog(() => {
    const got = new Set(late.logs.filter((l) => l.message === 'mDNS: peer found').map((l) => l.fields.peer));
    return [...lateOthers].every((x) => got.has(x));
  }, LATE_JOIN_TIMEOUT_MS);
  await Promise.all(nodes.slice(0, -1).map((n) => n.waitForLog((l) => l.message === 'mDNS: peer found' && l.fields.peer === 'late@h2', LATE_JOIN_TIMEOUT_MS)));
  const lateDiscovered = Date.now();
  const lateReady = late.logs.find((l) => l.message === 'node ready')?.at ?? NaN;
  const lateFoundTimes = late.logs.filter((l) => l.message === 'mDNS: peer found').map((l) => l.at - lateReady);
  const foundLateTimes = nodes.slice(0, -1).map((n) => (n.logs.find((l) => l.message === 'mDNS: peer found' && l.fields.peer === 'late@h2')?.at ?? NaN) - lateReady);
  if (process.env.MDNS_TRAFFIC_MESH !== '0') {
    await Promise.all(nodes.slice(0, -1).map((n) => n.waitForMembers((m) => m.includes('late@h2'), LATE_JOIN_TIMEOUT_MS)));
    await late.waitForExactMembers(names, LATE_JOIN_TIMEOUT_MS);
  }
  const lateFound = Date.now();

  counter.kill('SIGTERM');
  const seen = packets((await counted).stdout);
  const during = seen.filter((p) => p.at >= launchedAt && p.at <= tailEnd);
  const queries = during.filter((p) => p.qr === 'q').length;
  const responses = during.filter((p) => p.qr === 'r').length;
  const bytes = during.reduce((s, p) => s + p.bytes, 0);
  const lateSeen = seen.filter((p) => p.at >= lateStart && p.at <= lateDiscovered);
  t.diagnostic(
    `formation of ${names.length} nodes: launch -> all discovered by mDNS ${discoveredAt - launchedAt} ms, -> full lists ${formedAt - launchedAt} ms; ` +
      `mDNS packets each node received from launch to ${TAIL_MS} ms after: ${during.length} (${queries} queries, ${responses} responses, ${bytes} bytes); ` +
      `late joiner: discovered both ways in ${lateDiscovered - lateStart} ms with ${lateSeen.length} packets (${lateSeen.filter((p) => p.qr === 'r').length} responses), listed by all in ${lateFound - lateStart} ms; ` +
      `from its node ready: it found the others after ${Math.round(Math.min(...lateFoundTimes))}..${Math.round(Math.max(...lateFoundTimes))} ms, they found it after ${Math.round(Math.min(...foundLateTimes))}..${Math.round(Math.max(...foundLateTimes))} ms`,
  );
  // Floor: every node announces twice. Bound: a few answers per node on top; every node
  // answering every other node's query rounds (the N^2 pattern) costs well above it.
  const n = names.length;
  assert.ok(responses >= 2 * n, `each of the ${n} nodes announces twice, yet only ${responses} responses were counted`);
  assert.ok(responses <= 6 * n, `${responses} mDNS responses while ${n} nodes formed: more than 6 per node`);
  assert.ok(queries <= 3 * n, `${queries} mDNS queries while ${n} nodes formed: more than 3 per node (one browse query per node and interval is the N^2 pattern)`);
});
