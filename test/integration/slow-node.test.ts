// A slow node troubles nobody (issue 10, graceful degradation): ten real CLI processes
// on 127.0.0.1 (static seeds, --no-mdns: no namespace needed) form a full mesh; then one
// of them is made slow on purpose, its event loop blocked by a busy loop for 1.5 s of
// every 2 s for 20 s (a hook loaded with --import in that process only, started by
// SIGUSR2; nothing in the production code). Below the failure timeout (3 s), so: no
// nodedown anywhere (neither of the slow node nor declared by it), and no reconnect
// storm (no handshake, new connection or replacement at all after formation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { CLI_BIN, CliNode, REPO_ROOT, cliMissingReason } from '../helpers/cli-process.js';
import type { LogLine } from '../helpers/cli-process.js';
import { readyPort, startLocalCli } from '../helpers/local-cli.js';
import { waitFor } from '../helpers/wait.js';

const missing = cliMissingReason();
const NODES = 10;
const BUSY_MS = 1500;
const PERIOD_MS = 2000;
const PERIODS = 10;
const LOOPBACK = { index: 0, name: 'loopback', address: '127.0.0.1' };

/**
 * Loaded with --import into the slow node: on SIGUSR2, block the event loop for BUSY_MS,
 * idle for PERIOD_MS - BUSY_MS, PERIODS times, and log a JSON line after each busy period.
 */
const BUSY_HOOK =
  'data:text/javascript,' +
  encodeURIComponent(
    [
      "import { writeSync } from 'node:fs';",
      'let periods = 0;',
      'const busy = () => {',
      `  const until = performance.now() + ${BUSY_MS};`,
      '  while (performance.now() < until);',
      '  periods++;',
      `  writeSync(2, JSON.stringify({ level: 'info', message: 'test: busy period over', periods }) + '\\n');`,
      `  if (periods < ${PERIODS}) setTimeout(busy, ${PERIOD_MS - BUSY_MS});`,
      '};',
      "process.on('SIGUSR2', () => { if (periods === 0) busy(); });",
    ].join('\n'),
  );

/** What would show a storm or a false failure: membership changes, handshakes, new or replaced connections. */
const TROUBLE = new Set(['nodeup', 'nodedown', 'handshake failed', 'connection replaced by a new one between the same nodes', 'closing connection']);

test('a node whose event loop is blocked 1.5 s of every 2 s for 20 s causes no nodedown anywhere and no reconnection', { skip: missing }, async () => {
  const nodes: CliNode[] = [];
  try {
    const first = startLocalCli('node1@local');
    nodes.push(first);
    const seed = ['--seed', `127.0.0.1:${await readyPort(first, 60_000)}`];
    for (let i = 2; i < NODES; i++) nodes.push(startLocalCli(`node${i}@local`, seed));
    const slowName = `node${NODES}@local`;
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    delete env.CLUSTER_NODE_COOKIE;
    const args = ['--import', BUSY_HOOK, CLI_BIN, '--name', slowName, '--cookie', 'integration-cookie', '--no-mdns', '--listen', '127.0.0.1', '--log-format', 'json', ...seed];
    const slow = new CliNode(spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env }), slowName, LOOPBACK);
    nodes.push(slow);

    const names = nodes.map((n) => n.name);
    const full = (n: CliNode): boolean => {
      const m = n.lastMembers() ?? [];
      return names.every((x) => x === n.name || m.includes(x));
    };
    await waitFor(() => nodes.every(full), 120_000, () => nodes.map((n) => `${n.name}: ${n.lastMembers()?.length ?? 0}`).join(', '));
    // Formation is over once every node has logged nodeup for all others.
    await waitFor(() => nodes.every((n) => new Set(n.logs.filter((l) => l.message === 'nodeup').map((l) => l.fields.peer)).size === NODES - 1), 30_000);

    const startAt = performance.now();
    process.kill(slow.pid, 'SIGUSR2');
    const periodsDone = (): number => Math.max(0, ...slow.logs.filter((l) => l.message === 'test: busy period over').map((l) => Number(l.fields.periods)));
    await waitFor(() => periodsDone() >= PERIODS, PERIODS * PERIOD_MS + 30_000, () => `${periodsDone()} busy periods`);
    const busyEndAt = performance.now();
    assert.ok(busyEndAt - startAt >= (PERIODS - 1) * PERIOD_MS, 'the slow node was slow for the whole window');
    // Let a whole failure timeout (3 s) and more pass after the last busy period: every
    // node prints its list once a second, so four fresh full lists per node.
    await waitFor(() => nodes.every((n) => n.memberLines.filter((l) => l.at > busyEndAt).length >= 4), 30_000);

    const trouble = (n: CliNode): LogLine[] => n.logs.filter((l) => l.at >= startAt && TROUBLE.has(l.message));
    const report = nodes.flatMap((n) => trouble(n).map((l) => `${n.name}: ${JSON.stringify(l.fields)}`));
    assert.deepEqual(report, [], 'no nodedown, no new or replaced connection, no failed handshake while one node was slow');
    for (const n of nodes) assert.ok(full(n), `${n.name} still sees everyone: ${n.lastMembers()?.join(', ')}`);
  } finally {
    await Promise.all(nodes.map((n) => n.stop(3000).catch(() => undefined)));
  }
});
