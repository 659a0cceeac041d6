// Start-up: the CLI users run (bin/cluster-node.js) loads the one-file bundle, and the
// start-up trace the benchmark reads (CLUSTER_NODE_STARTUP_TRACE=1, bench/startup-hook.cjs)
// marks every phase in order; without the variable there are no marks at all.
// Real processes on 127.0.0.1 with static discovery (--no-mdns): no namespace needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CLI_BIN, CliNode, REPO_ROOT, cliMissingReason } from '../helpers/cli-process.js';
import type { LogLine } from '../helpers/cli-process.js';

const missing = cliMissingReason();
const started: CliNode[] = [];
const BENCH_HOOK = fileURLToPath(new URL('../../bench/startup-hook.cjs', import.meta.url));
const LOOPBACK = { index: 0, name: 'loopback', address: '127.0.0.1' };

/**
 * A hook (loaded with --import) that, when the process exits, writes one JSON line
 * {"exitReport": {marks: [[name, ms]...], cjs: [paths in require.cache]}} to stderr.
 */
const EXIT_REPORT_HOOK =
  'data:text/javascript,' +
  encodeURIComponent(
    [
      "import { writeSync } from 'node:fs';",
      "import { createRequire } from 'node:module';",
      'const req = createRequire(process.cwd() + "/");',
      "process.on('exit', () => writeSync(2, JSON.stringify({ exitReport: {",
      "  marks: performance.getEntriesByType('mark').map((e) => [e.name, e.startTime]),",
      '  cjs: Object.keys(req.cache) } }) + "\\n"));',
    ].join('\n'),
  );

/** hooks: [--require'd CommonJS file, --import'ed module]. */
function startCli(name: string, env: NodeJS.ProcessEnv, hooks: readonly [string, string]): CliNode {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.CLUSTER_NODE_COOKIE;
  delete childEnv.NODE_TEST_CONTEXT;
  delete childEnv.NODE_OPTIONS;
  if (env.CLUSTER_NODE_STARTUP_TRACE === undefined) delete childEnv.CLUSTER_NODE_STARTUP_TRACE;
  const args = ['--require', hooks[0], '--import', hooks[1], CLI_BIN, '--name', name, '--cookie', 'startup-test', '--no-mdns', '--listen', '127.0.0.1', '--log-format', 'json'];
  const node = new CliNode(spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv }), name, LOOPBACK);
  started.push(node);
  return node;
}

test.afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop(1000).catch(() => undefined)));
});

async function exitReport(node: CliNode): Promise<{ marks: [string, number][]; cjs: string[] }> {
  const exit = await node.stop(5000);
  assert.equal(exit.code, 0, node.tail());
  const line = node.logs.find((l: LogLine) => typeof l.fields.exitReport === 'object');
  assert.ok(line, `no exit report\n${node.tail()}`);
  return line.fields.exitReport as { marks: [string, number][]; cjs: string[] };
}

const PHASES = ['shim', 'loaded', 'args', 'logger', 'created', 'listening', 'discovery', 'ready'];

test('with CLUSTER_NODE_STARTUP_TRACE=1 the CLI marks every start-up phase in order, and the bench hook prints them at ready', { skip: missing }, async () => {
  const node = startCli('traced@local', { CLUSTER_NODE_STARTUP_TRACE: '1' }, [BENCH_HOOK, EXIT_REPORT_HOOK]);
  await node.waitReady(10_000);
  const traceLine = await node.waitForLog((l) => Array.isArray(l.fields.startupTrace), 5000);
  const trace = traceLine.fields.startupTrace as [string, number][];
  assert.deepEqual(
    trace.map(([name]) => name),
    PHASES,
  );
  for (let i = 1; i < trace.length; i++) assert.ok(trace[i]![1] >= trace[i - 1]![1], `phase ${trace[i]![0]} at ${trace[i]![1]} ms comes before ${trace[i - 1]![0]}`);
  const report = await exitReport(node);
  assert.deepEqual(
    report.marks.map(([name]) => name),
    PHASES.map((p) => `cluster-node:${p}`),
  );
});

test('without CLUSTER_NODE_STARTUP_TRACE the CLI makes no marks; bin/cluster-node.js runs the bundle, not the dependencies one by one', { skip: missing }, async () => {
  const node = startCli('quiet@local', {}, [BENCH_HOOK, EXIT_REPORT_HOOK]);
  await node.waitReady(10_000);
  const report = await exitReport(node);
  assert.deepEqual(report.marks, []);
  assert.equal(node.logs.filter((l) => l.fields.startupTrace !== undefined).length, 0);
  // winston is CommonJS: loaded from node_modules it would sit in require.cache. In the
  // bundle it is inlined; only msgpackr's optional native accelerator is required at run time.
  const fromNodeModules = report.cjs.filter((p) => p.includes('/node_modules/') && !/[\\/]node_modules[\\/](msgpackr-extract|@msgpackr-extract[\\/][^\\/]+|node-gyp-build-optional-packages|detect-libc)[\\/]/.test(p));
  assert.deepEqual(fromNodeModules, []);
  assert.ok(!report.cjs.some((p) => p.includes('/node_modules/winston/')));
});
