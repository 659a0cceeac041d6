// `npm run soak -- [--minutes M] [--seed S] [--out FILE]`: one seeded soak run (runner.ts)
// of 10 nodes on 5 virtual-LAN hosts under churn, printing actions as they happen and the
// report (resource slopes of the long-lived nodes, Singleton invariants, identical views).
// Exit codes: 0 passed, 1 a check failed (or the cluster could not be built), 2 bad usage.
// Invariant: every node runs inside the virtual LAN's namespaces (vlan.ts).
import { randomInt } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { canCreateNamespaces } from '../helpers/vlan.js';
import { cliMissingReason } from '../helpers/cli-process.js';
import { parseSeed } from '../chaos/schedule.js';
import { formatSoakReport, runSoak } from './runner.js';

const USAGE = `usage: npm run soak -- [--minutes M] [--seed S] [--nodes N] [--hosts H] [--sample-seconds S] [--out FILE]
  --minutes M         length of the churn phase (default 30)
  --seed S            schedule seed, 0 to 2^32-1 (default: random; printed, so the run can be replayed)
  --nodes N           nodes (default 10); the first H (one per host) are long-lived
  --hosts H           virtual hosts (default 5)
  --sample-seconds S  resource sampling interval (default 5)
  --gc-control-seconds S  the first long-lived node forces a full GC every S seconds (a control for the heap figures; default off)
  --out FILE          also write the report as JSON (and FILE with .md for the text)
  --logs DIR          write each process run's output (stdout and JSON logs, timed) to DIR/<node>-run<R>.log`;

async function main(argv: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args: argv,
      options: {
        minutes: { type: 'string' },
        seed: { type: 'string' },
        nodes: { type: 'string' },
        hosts: { type: 'string' },
        'sample-seconds': { type: 'string' },
        'gc-control-seconds': { type: 'string' },
        out: { type: 'string' },
        logs: { type: 'string' },
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
  const num = (raw: string | undefined, dflt: number, min: number, max: number): number | undefined => {
    if (raw === undefined) return dflt;
    const n = Number(raw);
    return Number.isFinite(n) && n >= min && n <= max ? n : undefined;
  };
  const minutes = num(v.minutes, 30, 0.5, 24 * 60);
  const nodes = num(v.nodes, 10, 3, 50);
  const hosts = num(v.hosts, 5, 1, 20);
  const sample = num(v['sample-seconds'], 5, 1, 600);
  const gcControl = num(v['gc-control-seconds'], 0, 0, 3600);
  const seed = v.seed === undefined ? randomInt(2 ** 32 - 1) : parseSeed(v.seed);
  if (minutes === undefined || nodes === undefined || !Number.isInteger(nodes) || hosts === undefined || !Number.isInteger(hosts) || sample === undefined || gcControl === undefined || seed === undefined) {
    process.stderr.write(`bad option value\n${USAGE}\n`);
    return 2;
  }
  const missing = cliMissingReason();
  if (missing) {
    process.stderr.write(`soak: ${missing}\n`);
    return 1;
  }
  const ns = await canCreateNamespaces();
  if (!ns.ok) {
    process.stderr.write(`soak: cannot build the virtual LAN: ${ns.reason}\n`);
    return 1;
  }
  console.log(`soak: seed ${seed} (replay with --seed ${seed})`);
  const report = await runSoak({ seed, durationMs: minutes * 60_000, nodes, hosts, sampleMs: sample * 1000, gcControlMs: gcControl * 1000, log: (l) => console.log(l), keepTranscripts: v.logs !== undefined });
  const text = formatSoakReport(report);
  console.log(`\n${text}`);
  const { transcripts, ...rest } = report;
  if (v.logs && transcripts) {
    mkdirSync(v.logs, { recursive: true });
    for (const [key, lines] of Object.entries(transcripts)) writeFileSync(`${v.logs}/${key.replace(/@/g, '-').replace(/ run /, '-run')}.log`, lines.join('\n') + '\n');
    console.log(`process logs written to ${v.logs}/`);
  }
  if (v.out) {
    mkdirSync(dirname(v.out), { recursive: true });
    writeFileSync(v.out, JSON.stringify(rest, null, 2) + '\n');
    writeFileSync(v.out.replace(/\.json$/, '') + '.md', text + '\n');
    console.log(`report written to ${v.out}`);
  }
  return report.failures.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
