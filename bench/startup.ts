// Start-up benchmark: how long the CLI (`node` + its bin script, CLI_BIN) takes from
// exec to its `node ready` log line, as a user's clock sees it, and where that time goes.
// - exec -> `node ready`: the built CLI run R times one after another as
//   `node <bin script> --sname sN --cookie x --no-mdns --log-format json` (through
//   spawnLocalCliProcess, which refuses to start it without --no-mdns), the wall clock
//   from spawn() to the line arriving on stderr; then the process is stopped.
// - Node's own boot: `node -e 0`, spawn to exit.
// - The breakdown: the same command with CLUSTER_NODE_STARTUP_TRACE=1 and
//   `--require bench/startup-hook.cjs`, which prints the CLI's User Timing marks
//   (src/util/startup-trace.ts; ms since the process's time origin): boot, module
//   loading, command line, logger, createNode, listen, discovery, the ready line.
// - Module loading per package: each runtime dependency, the unbundled CLI
//   (tsc's output) and the bundle (CLI_MAIN) imported alone in a fresh
//   process, timed inside it.
// - With mDNS (unless --no-mdns, and where namespaces work): the CLI on a one-host
//   virtual LAN (private namespaces; multicast never leaves them), mDNS on against
//   --no-mdns in the same place, alternating.
// - When NODE_EXTRA_CA_CERTS is set (Node 20 reads and parses that file while it
//   boots), every row is measured as is and without it, alternating run by run.
// - npx (--npx): `npx --offline --no -- cluster-node ...` from a scratch directory whose
//   node_modules links to this checkout (no registry is asked).
// Invariants: runs are sequential (one process at a time); every process started is
// stopped before the next starts; no mDNS outside the virtual LAN.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CLI_BIN, CLI_MAIN, CliNode, REPO_ROOT } from '../test/helpers/cli-process.js';
import { assertNoMdns, spawnLocalCliProcess } from '../test/helpers/local-cli.js';
import type { Host, VirtualLan } from '../test/helpers/vlan.js';
import { canCreateNamespaces, createVirtualLan } from '../test/helpers/vlan.js';
import { environment, intOption, preflight, usageText, UsageError } from './common.js';
import { percentile, summarize } from './stats.js';

/** One-line description for the bench runner's usage. */
export const STARTUP_SUMMARY = 'exec -> `node ready` of one CLI process, broken down (boot, modules, listen, mDNS)';

/** Target: median exec -> `node ready` for the CLI's bin script run with node, ms. */
export const STARTUP_TARGET_MS = 150;

const USAGE = `usage: npm run bench -- startup [--runs R] [--module-runs M] [--no-mdns] [--npx] [--baseline FILE] [--out DIR]
  --runs R          runs of each start-up variant (default 20)
  --module-runs M   fresh processes per package import measurement (default 10)
  --no-mdns         skip the runs with mDNS on a one-host virtual LAN
  --npx             also time \`npx cluster-node\` (npm's own start-up included)
  --baseline FILE   also time another build's CLI script (e.g. an older checkout's
                    bin script), alternating with this one run by run
  --out DIR         where results are written (default bench/results)`;

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
/** tsc's build of the CLI module, beside the bundle: what the bin script loaded before the bundle. */
const UNBUNDLED_CLI = join(dirname(CLI_MAIN), 'cli', 'main.js');

/** A path relative to the repository root when it is inside it, for labels. */
function rel(path: string): string {
  const r = relative(REPO_ROOT, path);
  return r.startsWith('..') ? path : r;
}
const HOOK = fileURLToPath(new URL('./startup-hook.cjs', import.meta.url));
/** A start-up slower than this is a failed run. */
const READY_TIMEOUT_MS = 20_000;
const CA_ENV = 'NODE_EXTRA_CA_CERTS';
/** How long after `node ready` the trace line may take before the build is taken to have no marks. */
const TRACE_WAIT_MS = 2000;
const NO_TRACE = 'the CLI measured makes no start-up trace marks (a build older than the trace?): no breakdown';

/** What each package's import measurement loads (as src/ imports it), in the CLI's load order. */
const MODULES: readonly { label: string; specifier: string }[] = [
  { label: 'winston', specifier: 'winston' },
  { label: 'yargs', specifier: 'yargs' },
  { label: 'msgpackr', specifier: 'msgpackr' },
  { label: 'multicast-dns', specifier: 'multicast-dns' },
  { label: '@noble/curves', specifier: '@noble/curves/ed25519.js' },
  { label: `${rel(UNBUNDLED_CLI)} (unbundled CLI, all of the above + ours)`, specifier: pathToFileURL(UNBUNDLED_CLI).href },
  { label: `${rel(CLI_MAIN)} (the bundle the bin script loads, here compiled without its code cache)`, specifier: pathToFileURL(CLI_MAIN).href },
];

/** The trace's marks, in order; each phase runs from the previous mark to this one. */
const PHASES: readonly { mark: string; label: string }[] = [
  { mark: 'shim', label: 'Node boot (time origin -> first line of the bin script)' },
  { mark: 'loaded', label: 'module loading (import of the CLI)' },
  { mark: 'args', label: 'command line, cookie (yargs)' },
  { mark: 'logger', label: 'logger (winston)' },
  { mark: 'created', label: 'createNode (configuration)' },
  { mark: 'listening', label: 'TCP listen' },
  { mark: 'discovery', label: 'discovery start (mDNS when on)' },
  { mark: 'ready', label: '`node ready` written' },
];

interface StartupOptions {
  runs: number;
  moduleRuns: number;
  mdns: boolean;
  npx: boolean;
  /** Another CLI script measured alternately with CLI_BIN (exec -> ready rows only). */
  baseline: string | undefined;
  out: string;
}

function parseOptions(argv: string[]): StartupOptions | string {
  try {
    const v = parseArgs({
      args: argv,
      options: {
        runs: { type: 'string' },
        'module-runs': { type: 'string' },
        'no-mdns': { type: 'boolean' },
        npx: { type: 'boolean' },
        baseline: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
    if (v.help) return USAGE;
    if (v.baseline !== undefined && !existsSync(v.baseline)) throw new UsageError(`--baseline ${v.baseline} does not exist`);
    return {
      runs: intOption('runs', v.runs, 20, 1, 1000),
      moduleRuns: intOption('module-runs', v['module-runs'], 10, 1, 1000),
      mdns: !v['no-mdns'],
      npx: v.npx ?? false,
      baseline: v.baseline,
      out: v.out ?? RESULTS_DIR,
    };
  } catch (err) {
    return usageText(err, USAGE);
  }
}

/** Summary of one row: median and p90 over runs, with min, max and count. */
interface Row {
  label: string;
  median: number;
  p90: number;
  min: number;
  max: number;
  count: number;
  /** Runs that failed (no ready line in time, or a crash). */
  failed: number;
}

function row(label: string, values: readonly number[], failed = 0): Row {
  const s = summarize(values);
  return { label, median: s.median, p90: percentile(values, 90), min: s.min, max: s.max, count: s.count, failed };
}

/** The environment a measured process gets: the caller's, minus what would change the CLI behind our back. */
function childEnv(withoutCa: boolean, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.CLUSTER_NODE_COOKIE;
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS; // tsx's loader must not ride along into the measured process
  if (withoutCa) delete env[CA_ENV];
  return env;
}

/** One measured start-up: spawn-to-line wall time, CPU time, and for traced runs the marks. */
interface Start {
  ms: number;
  /** CPU time the process had used (all its threads) when the line arrived, ms; undefined if unreadable. */
  cpuMs?: number;
  trace?: Record<string, number>;
}

/**
 * CPU time a process has used so far, all threads, in ms (nanosecond resolution: the
 * first field of /proc/<pid>/task/<tid>/schedstat). Close to the wall time when
 * start-up is CPU-bound; on a virtual machine it still grows with hypervisor steal and
 * cache contention, so it is no cure for a busy machine. undefined when unreadable.
 */
function readCpuMs(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return Number.isFinite(ns) ? ns / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

const LOOPBACK: Host = { index: 0, name: 'local', address: '127.0.0.1' };

/** SIGTERM, then SIGKILL after a grace period, to a whole process group (npx runs sh, which runs node). */
async function stopGroup(node: CliNode, graceMs: number): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-node.pid, sig);
    } catch {
      // the group is gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  try {
    await node.exited;
  } finally {
    clearTimeout(timer);
  }
  signal('SIGKILL'); // whatever the group leader left behind
}

/**
 * Start one CLI process, wait for `node ready` (and the trace line when traced), stop it.
 * With group, the launched process leads its own process group, and the whole group is stopped.
 */
async function startOnce(launch: () => ChildProcess, host: Host, traced: boolean, group = false): Promise<Start> {
  const t0 = performance.now();
  const node = new CliNode(launch(), 'bench', host);
  try {
    const ready = await node.waitReady(READY_TIMEOUT_MS);
    const cpuMs = readCpuMs(node.pid);
    const result: Start = { ms: ready.at - t0, ...(cpuMs !== undefined ? { cpuMs } : {}) };
    if (traced) {
      // The hook writes the line right after `node ready`; a build without the marks never does.
      const line = await node.waitUntil(() => node.logs.find((l) => Array.isArray(l.fields.startupTrace)), TRACE_WAIT_MS, 'the start-up trace line').catch(() => undefined);
      if (line) result.trace = Object.fromEntries(line.fields.startupTrace as [string, number][]);
    }
    return result;
  } finally {
    if (group) await stopGroup(node, 3000);
    else await node.stop(3000);
  }
}

function cliArgs(run: number, mdns: boolean): string[] {
  return ['--sname', `s${run}`, '--cookie', 'x', ...(mdns ? [] : ['--no-mdns']), '--log-format', 'json'];
}

/** The CLI on this machine, mDNS off (spawnLocalCliProcess insists on --no-mdns). */
function localCli(run: number, withoutCa: boolean, traced: boolean, bin = CLI_BIN): () => ChildProcess {
  const nodeArgs = traced ? ['--require', HOOK] : [];
  const env = childEnv(withoutCa, traced ? { CLUSTER_NODE_STARTUP_TRACE: '1' } : {});
  return () => spawnLocalCliProcess(cliArgs(run, false), { nodeArgs, env, bin });
}

function lanCli(lan: VirtualLan, run: number, mdns: boolean, withoutCa: boolean, traced: boolean): () => ChildProcess {
  const pre = traced ? ['--require', HOOK] : [];
  const env = childEnv(withoutCa, traced ? { CLUSTER_NODE_STARTUP_TRACE: '1' } : {});
  return () => lan.spawn(1, process.execPath, [...pre, CLI_BIN, ...cliArgs(run, mdns)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
}

/** Run a command to its exit; resolves with the wall time and its stdout. */
function runToExit(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd = REPO_ROOT): Promise<{ ms: number; stdout: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), READY_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - t0, stdout, code });
    });
  });
}

/** Time importing specifier alone in a fresh process (ms, measured inside it), or undefined when it does not load. */
async function importOnce(specifier: string, withoutCa: boolean): Promise<number | undefined> {
  const code = `const t = performance.now(); await import(${JSON.stringify(specifier)}); process.stdout.write(String(performance.now() - t));`;
  const r = await runToExit(process.execPath, ['--input-type=module', '-e', code], childEnv(withoutCa));
  const ms = Number(r.stdout);
  return r.code === 0 && r.stdout !== '' && Number.isFinite(ms) ? ms : undefined;
}

/** A scratch directory where `npx cluster-node` finds this checkout without asking a registry. */
function npxScratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cluster-node-npx-'));
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'cluster-node'));
  const bin = join(dir, 'node_modules', '.bin');
  symlinkSync(relative(bin, join(dir, 'node_modules', 'cluster-node', rel(CLI_BIN))), join(bin, 'cluster-node'));
  return dir;
}

/** Collects successes and failures of repeated runs under one label. */
class Series {
  readonly values: number[] = [];
  failed = 0;
  errors: string[] = [];
  async add(f: () => Promise<number | undefined>): Promise<void> {
    try {
      const v = await f();
      if (v === undefined) this.failed++;
      else this.values.push(v);
    } catch (err) {
      this.failed++;
      if (this.errors.length < 3) this.errors.push((err as Error).message.split('\n')[0] ?? 'error');
    }
  }
}

/** Median of each phase over traced runs (a phase runs from the previous mark to its own). */
function phaseRows(traces: readonly Record<string, number>[], walls: readonly number[]): Row[] {
  const rows: Row[] = [];
  let prev: string | undefined;
  for (const p of PHASES) {
    const vals = traces.filter((t) => t[p.mark] !== undefined && (prev === undefined || t[prev] !== undefined)).map((t) => t[p.mark]! - (prev ? t[prev]! : 0));
    rows.push(row(p.label, vals));
    prev = p.mark;
  }
  const outside = traces.map((t, i) => walls[i]! - (t.ready ?? NaN)).filter(Number.isFinite);
  rows.push(row('outside the process clock (exec before the time origin, pipe to the reader)', outside));
  rows.push(row('total: exec -> `node ready` line with the trace hook', walls));
  return rows;
}

function fmt(ms: number): string {
  return Number.isFinite(ms) ? ms.toFixed(1) : '-';
}

function table(title: string, rows: readonly Row[]): string[] {
  const lines = [`### ${title}`, '', '| what | median ms | p90 ms | min | max | runs |', '| --- | ---: | ---: | ---: | ---: | ---: |'];
  for (const r of rows) lines.push(`| ${r.label} | ${fmt(r.median)} | ${fmt(r.p90)} | ${fmt(r.min)} | ${fmt(r.max)} | ${r.count}${r.failed ? ` (${r.failed} failed)` : ''} |`);
  lines.push('');
  return lines;
}

/** `npm run bench -- startup [options]`: resolves with the exit code. */
export async function runStartup(argv: string[]): Promise<number> {
  const o = parseOptions(argv);
  const stop = await preflight('startup', o, USAGE, false);
  if (stop !== undefined || typeof o === 'string') return stop ?? 2;
  const loadBefore = loadavg()[0]!;
  // Both environments when the CA variable is set: Node 20 loads that file at boot.
  const envs: readonly { key: string; withoutCa: boolean; label: string }[] =
    process.env[CA_ENV] !== undefined
      ? [
          { key: 'as-is', withoutCa: false, label: `environment as is (${CA_ENV} set)` },
          { key: 'no-ca', withoutCa: true, label: `without ${CA_ENV}` },
        ]
      : [{ key: 'as-is', withoutCa: false, label: 'environment as is' }];

  const sections: { title: string; rows: Row[] }[] = [];
  const raw: Record<string, number[]> = {};
  const failures: string[] = [];
  const notes: string[] = [];
  const failedRuns: Record<string, number> = {};
  const keep = (key: string, s: Series): void => {
    raw[key] = s.values;
    failedRuns[key] = s.failed;
    for (const e of s.errors) failures.push(`${key}: ${e}`);
  };

  // 1. exec -> node ready, no mDNS, and Node's own boot; alternating environments.
  console.log(`startup: ${o.runs} runs of each variant; CLI ${CLI_BIN}`);
  const boot = envs.map(() => new Series());
  const cli = envs.map(() => new Series());
  const cliCpu = envs.map((): number[] => []);
  const baseline = envs.map(() => new Series());
  for (let run = 0; run < o.runs; run++) {
    for (const [i, e] of envs.entries()) {
      await boot[i]!.add(async () => {
        const r = await runToExit(process.execPath, ['-e', '0'], childEnv(e.withoutCa));
        return r.code === 0 ? r.ms : undefined;
      });
      await cli[i]!.add(async () => {
        const s = await startOnce(localCli(run, e.withoutCa, false), LOOPBACK, false);
        if (s.cpuMs !== undefined) cliCpu[i]!.push(s.cpuMs);
        return s.ms;
      });
      if (o.baseline !== undefined) await baseline[i]!.add(async () => (await startOnce(localCli(run, e.withoutCa, false, o.baseline), LOOPBACK, false)).ms);
    }
  }
  const headline: Row[] = [];
  for (const [i, e] of envs.entries()) {
    keep(`cli-${e.key}`, cli[i]!);
    keep(`boot-${e.key}`, boot[i]!);
    raw[`cli-cpu-${e.key}`] = cliCpu[i]!;
    headline.push(row(`\`node ${rel(CLI_BIN)}\` exec -> \`node ready\`, ${e.label}`, cli[i]!.values, cli[i]!.failed));
    headline.push(row(`\`node -e 0\` exec -> exit, ${e.label}`, boot[i]!.values, boot[i]!.failed));
    headline.push(row(`CPU time the CLI had used when its \`node ready\` line arrived (all threads), ${e.label}`, cliCpu[i]!));
  }
  if (o.baseline !== undefined) {
    for (const [i, e] of envs.entries()) {
      keep(`baseline-${e.key}`, baseline[i]!);
      headline.push(row(`baseline \`node ${o.baseline}\` exec -> \`node ready\` (alternating with the above), ${e.label}`, baseline[i]!.values, baseline[i]!.failed));
    }
  }
  sections.push({ title: 'exec -> `node ready` (--no-mdns, 127.0.0.1 static discovery)', rows: headline });

  // 2. The breakdown from the trace marks, in the last (cleanest) environment.
  const traceEnv = envs.at(-1)!;
  const traces: Record<string, number>[] = [];
  const traceWalls: number[] = [];
  const traceFailures = new Series();
  let hasTrace = true;
  for (let run = 0; run < o.runs && hasTrace; run++) {
    await traceFailures.add(async () => {
      const s = await startOnce(localCli(run, traceEnv.withoutCa, true), LOOPBACK, true);
      if (!s.trace) {
        hasTrace = false;
        return 0;
      }
      traces.push(s.trace);
      traceWalls.push(s.ms);
      return s.ms;
    });
  }
  if (hasTrace) {
    keep('trace', traceFailures);
    sections.push({ title: `Where the time goes (trace marks, ${traceEnv.label}; phase = previous mark -> this one)`, rows: phaseRows(traces, traceWalls) });
  } else {
    console.log(`note: ${NO_TRACE}`);
    notes.push(NO_TRACE);
  }

  // 3. Each package imported alone in a fresh process.
  const modRows: Row[] = [];
  for (const m of MODULES) {
    if (m.specifier.startsWith('file:') && !existsSync(fileURLToPath(m.specifier))) continue;
    const s = new Series();
    for (let run = 0; run < o.moduleRuns; run++) await s.add(() => importOnce(m.specifier, traceEnv.withoutCa));
    keep(`import ${m.label}`, s);
    modRows.push(row(s.values.length ? m.label : `${m.label} (does not load here)`, s.values, s.failed));
  }
  sections.push({ title: `Module loading: each alone in a fresh process, timed inside it (${traceEnv.label}; they share built-ins, so the parts add up to more than the whole)`, rows: modRows });

  // 4. mDNS on a one-host virtual LAN.
  if (o.mdns) {
    const ns = await canCreateNamespaces();
    if (!ns.ok) {
      console.log(`note: no virtual LAN (${ns.reason}); the mDNS rows are skipped`);
    } else {
      const lan = await createVirtualLan(1);
      try {
        const on = new Series();
        const off = new Series();
        const lanTraces: Record<string, number>[] = [];
        const tracedOn = new Series();
        for (let run = 0; run < o.runs; run++) {
          await on.add(async () => (await startOnce(lanCli(lan, run, true, traceEnv.withoutCa, false), lan.hosts[0]!, false)).ms);
          await off.add(async () => (await startOnce(lanCli(lan, run, false, traceEnv.withoutCa, false), lan.hosts[0]!, false)).ms);
          if (hasTrace) {
            await tracedOn.add(async () => {
              const s = await startOnce(lanCli(lan, run, true, traceEnv.withoutCa, true), lan.hosts[0]!, true);
              lanTraces.push(s.trace ?? {});
              return s.ms;
            });
          }
        }
        keep('lan-mdns', on);
        keep('lan-no-mdns', off);
        if (hasTrace) keep('lan-mdns-traced', tracedOn);
        const mdnsPhase = lanTraces.filter((t) => t.discovery !== undefined && t.listening !== undefined).map((t) => t.discovery! - t.listening!);
        sections.push({
          title: `With mDNS: one host of a virtual LAN (spawned through nsenter and ip netns exec, so both rows carry that; ${traceEnv.label})`,
          rows: [
            row('exec -> `node ready`, mDNS on (the default)', on.values, on.failed),
            row('exec -> `node ready`, --no-mdns', off.values, off.failed),
            row('mDNS start (trace: listening -> discovery, module load included)', mdnsPhase, tracedOn.failed),
          ],
        });
      } finally {
        await lan.destroy();
      }
    }
  }

  // 5. npx.
  if (o.npx) {
    const dir = npxScratch();
    try {
      const rows: Row[] = [];
      for (const e of envs) {
        const s = new Series();
        const env = childEnv(e.withoutCa, { npm_config_update_notifier: 'false' });
        for (let run = 0; run < o.runs; run++) {
          const args = cliArgs(run, false);
          assertNoMdns(args);
          const launch = (): ChildProcess => spawn('npx', ['--offline', '--no', '--', 'cluster-node', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env, detached: true });
          await s.add(async () => (await startOnce(launch, LOOPBACK, false, true)).ms);
        }
        keep(`npx-${e.key}`, s);
        rows.push(row(`\`npx cluster-node\` exec -> \`node ready\`, ${e.label}`, s.values, s.failed));
      }
      sections.push({ title: 'npx (npm resolves the bin, then runs it)', rows });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const env = environment(loadBefore);
  const cliRow = headline[0]!;
  const verdict = `${Number.isFinite(cliRow.median) && cliRow.median <= STARTUP_TARGET_MS ? 'PASS' : 'FAIL'}: median ${fmt(cliRow.median)} ms (${envs[0]!.label}) against the ${STARTUP_TARGET_MS} ms target`;
  const verdicts = [verdict];
  if (envs.length > 1) {
    const clean = headline[3]!;
    verdicts.push(`${Number.isFinite(clean.median) && clean.median <= STARTUP_TARGET_MS ? 'PASS' : 'FAIL'}: median ${fmt(clean.median)} ms (${envs[1]!.label}) against the ${STARTUP_TARGET_MS} ms target`);
  }
  const md = [
    `## Start-up: exec -> \`node ready\` (${o.runs} runs per row)`,
    '',
    `Environment: ${env.date}, commit ${env.commit ?? '?'}, CLI ${env.cli}, Node ${env.node}, ${env.cores} x ${env.cpu ?? '?'}, load average ${env.loadAverageBefore} before / ${env.loadAverageAfter} after.`,
    '',
    ...sections.flatMap((s) => table(s.title, s.rows)),
    ...verdicts.map((v) => `- ${v}`),
    ...notes.map((n) => `- note: ${n}`),
    ...(failures.length ? ['', 'Failures (first of each):', ...failures.map((f) => `- ${f}`)] : []),
    '',
  ].join('\n');
  console.log(`\n${md}`);
  mkdirSync(o.out, { recursive: true });
  const stamp = env.date.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = `${o.out.replace(/\/$/, '')}/startup-${stamp}`;
  writeFileSync(`${base}.json`, JSON.stringify({ benchmark: 'startup', env, options: o, targetMs: STARTUP_TARGET_MS, sections, verdicts, traces, raw, failedRuns, failures }, null, 2) + '\n');
  writeFileSync(`${base}.md`, md);
  console.log(`results: ${base}.json, ${base}.md`);
  // A start-up that failed is a failed benchmark; a package that does not load here (for
  // example one the build no longer uses) is only reported.
  const anyFailed = Object.keys(failedRuns).some((k) => !k.startsWith('import ') && (raw[k]!.length === 0 || failedRuns[k]! > 0));
  return anyFailed ? 1 : 0;
}
