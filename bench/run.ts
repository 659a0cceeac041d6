// Bench runner: `npm run bench -- <name> [options]` runs one benchmark by name.
// Adding a benchmark is one line in BENCHMARKS. Exit codes: the benchmark's own
// (0 ok, 1 failed), 2 for an unknown name or bad usage.
import { FORMATION_SUMMARY, runFormation } from './formation.js';
import { REGISTRY_SUMMARY, runRegistry } from './registry.js';

/** A runnable benchmark: a one-line summary and a function from its arguments to an exit code. */
export interface Benchmark {
  summary: string;
  run(argv: string[]): Promise<number>;
}

/** Every benchmark, by the name given on the command line. */
export const BENCHMARKS: Readonly<Record<string, Benchmark>> = {
  formation: { summary: FORMATION_SUMMARY, run: runFormation },
  registry: { summary: REGISTRY_SUMMARY, run: runRegistry },
  hostile: { summary: 'what a sender without the cookie costs a node before the handshake: freeze, memory, survival', run: async (argv) => (await import('./hostile.js')).runHostile(argv) },
  handshake: { summary: 'CPU per side of one CPace handshake (pure state machine, in process), warm and cold', run: async (argv) => (await import('./handshake.js')).runHandshake(argv) },
  failover: { summary: 'Singleton takeover time and overlap after SIGKILL/SIGSTOP/SIGTERM of the holder', run: async (argv) => (await import('./failover.js')).runFailover(argv) },
  report: { summary: 'write bench/REPORT.md (tables, SVG charts) from the latest results in bench/results/', run: async (argv) => (await import('./report.js')).runReport(argv) },
  scale: { summary: 'cost per node against N (10, 25, 50 on 5 hosts): launch -> full mesh, idle CPU, RSS, bytes/s, mDNS packets/s, nodedown', run: async (argv) => (await import('./scale.js')).runScale(argv) },
  churn: { summary: 'memory a long-lived node keeps per peer incarnation that came and went (heap, old space, code per cycle); sim or --live', run: async (argv) => (await import('./churn.js')).runChurn(argv) },
  startup: { summary: 'exec -> `node ready` of one CLI process, broken down (boot, modules, listen, mDNS)', run: async (argv) => (await import('./startup.js')).runStartup(argv) },
};

function usage(): string {
  const names = Object.entries(BENCHMARKS).map(([name, b]) => `  ${name.padEnd(12)} ${b.summary}`);
  return ['usage: npm run bench -- <benchmark> [options]   (<benchmark> --help for its options)', 'benchmarks:', ...names].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const bench = Object.hasOwn(BENCHMARKS, name) ? BENCHMARKS[name] : undefined;
  if (!bench) {
    process.stderr.write(`unknown benchmark "${name}"\n${usage()}\n`);
    return 2;
  }
  return bench.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
