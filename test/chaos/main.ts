// `npm run chaos -- [options]`: one seeded chaos run against a failover cluster on a
// virtual LAN (runner.ts), printing the plan, every action as it happens and the report.
// Exit codes: 0 passed, 1 a check failed (or the cluster could not be built), 2 bad usage.
// Invariant: every node runs inside the virtual LAN's namespaces (vlan.ts).
import { randomInt } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { canCreateNamespaces } from '../helpers/vlan.js';
import { cliMissingReason } from '../helpers/cli-process.js';
import { parseSeed } from './schedule.js';
import { formatReport, runChaos } from './runner.js';

const USAGE = `usage: npm run chaos -- [--seed S] [--hosts N] [--quorum majority|none|Q] [--duration SECONDS] [--max-disrupted K] [--settle SECONDS] [--gap-limit MS] [--out FILE]
  --seed S            schedule seed, 0 to 2^32-1 (default: random; printed, so the run can be replayed)
  --hosts N           hosts, one node each, 3 to 5 (default 3)
  --quorum Q          majority (default), none (plain --failover) or a number of members
  --duration SECONDS  length of the fault phase (default 60)
  --max-disrupted K   most faults in progress at once (default: a minority, floor((N-1)/2))
  --settle SECONDS    after the last fault, time allowed to become steady again (default 20)
  --gap-limit MS      flag a gap with a longer healthy stretch than this (default 6000)
  --out FILE          also write the full report as JSON
  --log-level L       the nodes' log level: info (default) or debug (shows quorum rounds; use with --logs)
  --logs DIR          write each process run's output (stdout and JSON logs, timed) to DIR/<node>-run<R>.log`;

async function main(argv: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args: argv,
      options: {
        seed: { type: 'string' },
        hosts: { type: 'string' },
        quorum: { type: 'string' },
        duration: { type: 'string' },
        'max-disrupted': { type: 'string' },
        settle: { type: 'string' },
        'gap-limit': { type: 'string' },
        out: { type: 'string' },
        logs: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const bad = (msg: string): number => {
    process.stderr.write(`${msg}\n${USAGE}\n`);
    return 2;
  };
  const num = (raw: string | undefined, dflt: number, min: number, max: number): number | undefined => {
    if (raw === undefined) return dflt;
    const n = Number(raw);
    return Number.isFinite(n) && n >= min && n <= max ? n : undefined;
  };
  const seed = v.seed === undefined ? randomInt(2 ** 32 - 1) : parseSeed(v.seed);
  if (seed === undefined) return bad(`--seed must be an integer 0 to 2^32-1, got "${v.seed}"`);
  const hosts = num(v.hosts, 3, 3, 5);
  if (hosts === undefined || !Number.isInteger(hosts)) return bad(`--hosts must be 3, 4 or 5, got "${v.hosts}"`);
  const q = v.quorum ?? 'majority';
  const quorum = q === 'majority' ? Math.floor(hosts / 2) + 1 : q === 'none' ? 0 : Number(q);
  if (!Number.isInteger(quorum) || quorum < 0 || quorum > hosts) return bad(`--quorum must be majority, none or 1-${hosts}, got "${q}"`);
  const duration = num(v.duration, 60, 5, 3600);
  if (duration === undefined) return bad(`--duration must be 5 to 3600 seconds, got "${v.duration}"`);
  const maxDisrupted = v['max-disrupted'] === undefined ? undefined : num(v['max-disrupted'], 1, 1, hosts);
  if (v['max-disrupted'] !== undefined && (maxDisrupted === undefined || !Number.isInteger(maxDisrupted))) return bad(`--max-disrupted must be 1-${hosts}`);
  const settle = num(v.settle, 20, 1, 600);
  if (settle === undefined) return bad(`--settle must be 1 to 600 seconds`);
  const gapLimit = num(v['gap-limit'], 6000, 100, 600_000);
  if (gapLimit === undefined) return bad(`--gap-limit must be 100 to 600000 ms`);

  const logLevel = v['log-level'] ?? 'info';
  if (logLevel !== 'info' && logLevel !== 'debug') return bad(`--log-level must be info or debug, got "${logLevel}"`);

  const missing = cliMissingReason();
  if (missing) {
    process.stderr.write(`chaos: ${missing}\n`);
    return 1;
  }
  const ns = await canCreateNamespaces();
  if (!ns.ok) {
    process.stderr.write(`chaos: cannot build the virtual LAN: ${ns.reason}\n`);
    return 1;
  }

  console.log(`chaos: seed ${seed} (replay with --seed ${seed})`);
  const report = await runChaos({
    seed,
    hosts,
    quorum,
    durationMs: duration * 1000,
    ...(maxDisrupted !== undefined ? { maxDisrupted } : {}),
    settleMs: settle * 1000,
    gapLimitMs: gapLimit,
    logLevel,
    log: (line) => console.log(line),
  });
  console.log(`\n${formatReport(report)}`);
  if (v.out) {
    writeFileSync(v.out, JSON.stringify(report, null, 2) + '\n');
    console.log(`report written to ${v.out}`);
  }
  if (v.logs) {
    mkdirSync(v.logs, { recursive: true });
    for (const [key, lines] of Object.entries(report.transcripts)) {
      writeFileSync(`${v.logs}/${key.replace(/@/g, '-').replace(/ run /, '-run')}.log`, lines.join('\n') + '\n');
    }
    console.log(`process logs written to ${v.logs}/`);
  }
  return report.failures.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
