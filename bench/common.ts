// Common: what every benchmark does before it measures — integer options checked
// against a range, usage errors, and the checks that the built CLI and the
// virtual LAN are available (with a note when the machine is already busy).
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { CLI_BIN, cliMissingReason } from '../test/helpers/cli-process.js';
import { canCreateNamespaces } from '../test/helpers/vlan.js';

/** A bad command line; the message says what is wrong. */
export class UsageError extends Error {}

/** raw parsed as an integer in [min, max] (dflt when absent); throws a UsageError naming --name. */
export function intOption(name: string, raw: string | undefined, dflt: number, min: number, max: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer ${min}-${max}, got "${raw}"`);
  return n;
}

/**
 * What a benchmark's parseOptions returns for an error it caught: a UsageError's or
 * node:util parseArgs's message followed by the usage. Anything else is a bug: rethrown.
 */
export function usageText(err: unknown, usage: string): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) return `${(err as Error).message}\n${usage}`;
  throw err;
}

/**
 * Handle what parseOptions returned when it is text (usage for --help: exit 0; an error:
 * exit 2), then check the CLI build and, with needsLan, the virtual LAN. Returns the
 * exit code to stop with, or undefined to go on.
 */
export async function preflight(bench: string, parsed: unknown, usage: string, needsLan: boolean): Promise<number | undefined> {
  if (typeof parsed === 'string') {
    const isHelp = parsed === usage;
    (isHelp ? process.stdout : process.stderr).write(`${parsed}\n`);
    return isHelp ? 0 : 2;
  }
  const missing = cliMissingReason();
  if (missing) {
    process.stderr.write(`${bench}: ${missing}\n`);
    return 1;
  }
  if (needsLan) {
    const ns = await canCreateNamespaces();
    if (!ns.ok) {
      process.stderr.write(`${bench}: cannot build the virtual LAN: ${ns.reason}\n`);
      return 1;
    }
  }
  const load = loadavg()[0]!;
  if (load > cpus().length / 2) {
    console.log(`note: load average is ${load.toFixed(2)} on ${cpus().length} cores; other work will inflate the figures`);
  }
  return undefined;
}

/** The commit measured, marked "+modified src/" when src/ has uncommitted changes. */
export function gitCommit(): string | undefined {
  try {
    const git = (args: string[]): string => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return git(['rev-parse', '--short', 'HEAD']) + (git(['status', '--porcelain', '--', 'src']) ? '+modified src/' : '');
  } catch {
    return undefined;
  }
}

/** Where and on what a benchmark ran, for its results file. */
export interface BenchEnvironment {
  date: string;
  commit: string | undefined;
  node: string;
  cpu: string | undefined;
  cores: number;
  cli: string;
  loadAverageBefore: number;
  loadAverageAfter: number;
}

/** Describe the machine and commit a benchmark ran on. */
export function environment(loadBefore: number): BenchEnvironment {
  return {
    date: new Date().toISOString(),
    commit: gitCommit(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    cli: CLI_BIN,
    loadAverageBefore: Number(loadBefore.toFixed(2)),
    loadAverageAfter: Number(loadavg()[0]!.toFixed(2)),
  };
}
