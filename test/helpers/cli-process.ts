// CLI process: one real `cluster-node` (node bin/cluster-node.js, the built JS) run on
// a virtual LAN host, observed the way a user sees it: stdout demo lines (the
// Printer's `[a@h, b@h]` member lists) and stderr JSON logs (--log-format json).
// Every line is kept with the monotonic time (performance.now()) it arrived, so a
// test can ask "did X happen after moment T, and when". Waits are event-driven with
// a deadline, and fail early (with the log tail) if the process exits first.
// Invariant: the process is only ever started through a VirtualLan, so it runs in
// a private network namespace (see vlan.ts) and its mDNS never reaches a real network.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { ChildProcess } from 'node:child_process';
import type { Host, VirtualLan } from './vlan.js';

/** Repository root (two levels above test/helpers/). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * The CLI script run with `node`: bin/cluster-node.js (the shim users run, which imports
 * the bundle dist/cli.bundle.cjs), or the file named by env CLUSTER_NODE_BIN (e.g. an
 * installed copy).
 */
export const CLI_BIN = process.env.CLUSTER_NODE_BIN ?? fileURLToPath(new URL('../../bin/cluster-node.js', import.meta.url));
/** The built CLI the shim loads (`npm run build` makes it: tsc, then scripts/bundle-cli.mjs). */
export const CLI_MAIN = fileURLToPath(new URL('../../dist/cli.bundle.cjs', import.meta.url));

/** Why the CLI cannot be run, or undefined when it can. */
export function cliMissingReason(): string | undefined {
  if (process.env.CLUSTER_NODE_BIN !== undefined) {
    return existsSync(CLI_BIN) ? undefined : `CLUSTER_NODE_BIN=${CLI_BIN} does not exist`;
  }
  return existsSync(CLI_MAIN) ? undefined : `${CLI_MAIN} is missing: run \`npm run build\` first`;
}

/** A stdout line and when it arrived (performance.now() ms). */
export interface StdoutLine {
  text: string;
  at: number;
}

/** A parsed stderr JSON log line and when it arrived (performance.now() ms). */
export interface LogLine {
  level: string;
  message: string;
  /** The whole parsed object (level, message and every field). */
  fields: Record<string, unknown>;
  at: number;
}

/** A member list printed by the Printer and when it arrived. */
export interface MembersLine {
  members: string[];
  at: number;
}

/** How a CLI process ended. */
export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/** Options for startCliNode. */
export interface CliNodeOptions {
  /** Full node name passed as --name; default `node<I>@h<I>` for host I. */
  name?: string;
  /** Cookie passed as --cookie; default 'lan-test-cookie'. */
  cookie?: string;
  /** --log-level; default 'info' (nodeup/nodedown/node ready are info). */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** More CLI arguments, e.g. ['--failure-timeout', '10000']. */
  args?: readonly string[];
  /** Replace the whole argument list (after the script path); name, cookie and logLevel are then ignored. */
  rawArgs?: readonly string[];
  /** Node.js options before the script path, e.g. ['--require', hook]; default none. */
  nodeArgs?: readonly string[];
  /** More environment variables for the process; default none. */
  env?: Readonly<Record<string, string>>;
}

/** Options for the wait methods. */
export interface WaitOptions {
  /** Only lines that arrived at or after this performance.now() time count; default 0 (all). */
  since?: number;
}

const MEMBERS_LINE = /^\[(.*)\]$/;

/**
 * Parse a Printer line: `[]` -> [], `[a@h1, b@h2]` -> ['a@h1', 'b@h2'].
 * Returns undefined for any other line.
 */
export function parseMembersLine(line: string): string[] | undefined {
  const m = MEMBERS_LINE.exec(line.trim());
  if (!m) return undefined;
  const body = m[1]!.trim();
  return body === '' ? [] : body.split(',').map((s) => s.trim());
}

/** True when the two name lists hold the same names, ignoring order. */
export function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((x, i) => x === sb[i]);
}

/** One running CLI node on a virtual host. */
export class CliNode {
  /** The node's full name (as passed with --name). */
  readonly name: string;
  readonly host: Host;
  /** The node process's pid (nsenter and `ip netns exec` exec, so it is node itself). */
  readonly pid: number;
  /** performance.now() when the process was spawned. */
  readonly spawnedAt: number;
  readonly stdoutLines: StdoutLine[] = [];
  readonly logs: LogLine[] = [];
  /** stderr lines that were not JSON (fatal shim messages, Node warnings). */
  readonly stderrRaw: StdoutLine[] = [];
  readonly memberLines: MembersLine[] = [];
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<CliExit>;
  private exitInfo: CliExit | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(child: ChildProcess, name: string, host: Host) {
    this.name = name;
    this.host = host;
    this.spawnedAt = performance.now();
    if (child.pid === undefined) throw new Error(`could not start ${name}: no pid`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      // 'close' (not 'exit'): every line the process wrote has been read by then.
      child.once('close', (code, signal) => {
        this.exitInfo = { code, signal, at: performance.now() };
        this.notify();
        resolve(this.exitInfo);
      });
      child.once('error', (err) => {
        this.stderrRaw.push({ text: `spawn error: ${err.message}`, at: performance.now() });
        this.exitInfo = { code: null, signal: null, at: performance.now() };
        this.notify();
        resolve(this.exitInfo);
      });
    });
    readLines(child.stdout!, (text, at) => {
      this.stdoutLines.push({ text, at });
      const members = parseMembersLine(text);
      if (members) this.memberLines.push({ members, at });
      this.notify();
    });
    readLines(child.stderr!, (text, at) => {
      const parsed = parseLog(text, at);
      if (parsed) this.logs.push(parsed);
      else if (text.trim() !== '') this.stderrRaw.push({ text, at });
      this.notify();
    });
  }

  /** How the process ended, or undefined while it runs. */
  get exit(): CliExit | undefined {
    return this.exitInfo;
  }

  /** The latest printed member list, or undefined before the first one. */
  lastMembers(): string[] | undefined {
    return this.memberLines.at(-1)?.members;
  }

  /** Wait for a stdout line matching predicate; rejects after timeoutMs or if the process exits first. */
  waitForLine(predicate: (line: string) => boolean, timeoutMs: number, opts?: WaitOptions): Promise<StdoutLine> {
    const since = opts?.since ?? 0;
    return this.waitFor(() => this.stdoutLines.find((l) => l.at >= since && predicate(l.text)), timeoutMs, 'a matching stdout line');
  }

  /** Wait for a log line matching predicate; rejects after timeoutMs or if the process exits first. */
  waitForLog(predicate: (log: LogLine) => boolean, timeoutMs: number, opts?: WaitOptions): Promise<LogLine> {
    const since = opts?.since ?? 0;
    return this.waitFor(() => this.logs.find((l) => l.at >= since && predicate(l)), timeoutMs, 'a matching log line');
  }

  /** Wait for a printed member list that satisfies predicate. */
  waitForMembers(predicate: (members: string[]) => boolean, timeoutMs: number, opts?: WaitOptions): Promise<MembersLine> {
    const since = opts?.since ?? 0;
    return this.waitFor(() => this.memberLines.find((l) => l.at >= since && predicate(l.members)), timeoutMs, 'a matching member list');
  }

  /** Wait for a printed member list holding exactly these names (any order). */
  waitForExactMembers(expected: readonly string[], timeoutMs: number, opts?: WaitOptions): Promise<MembersLine> {
    return this.waitForMembers((m) => sameMembers(m, expected), timeoutMs, opts).catch((err: Error) => {
      throw new Error(`${this.name}: expected members [${[...expected].sort().join(', ')}]: ${err.message}`);
    });
  }

  /** Wait for the `node ready` log line and return it (fields node, address, port). */
  waitReady(timeoutMs: number): Promise<LogLine> {
    return this.waitForLog((l) => l.message === 'node ready', timeoutMs);
  }

  /** Send a signal (default SIGTERM); a no-op once the process has exited. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.exitInfo) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // exited meanwhile
    }
  }

  /**
   * Ask the node to stop (SIGTERM; then SIGCONT, so a node a test froze wakes to handle
   * it), SIGKILL it if it has not exited after graceMs; resolves with how it ended.
   */
  async stop(graceMs = 3000): Promise<CliExit> {
    this.kill('SIGTERM');
    this.kill('SIGCONT');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The last lines of stdout, stderr logs and raw stderr, for failure messages. */
  tail(lines = 15): string {
    const logs = this.logs.slice(-lines).map((l) => JSON.stringify(l.fields));
    const raw = this.stderrRaw.slice(-lines).map((l) => l.text);
    const out = this.stdoutLines.slice(-5).map((l) => l.text);
    return [`--- ${this.name} (pid ${this.pid}) stdout:`, ...out, '--- logs:', ...logs, ...(raw.length ? ['--- raw stderr:', ...raw] : [])].join('\n');
  }

  /** Wait until the process exits; rejects (without killing it) if it is still running after timeoutMs. */
  async waitExit(timeoutMs: number): Promise<CliExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} still running ${timeoutMs} ms later\n${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Wait until find() returns a value; it is called now and after every line the
   * process writes. Rejects after timeoutMs, or when the process exits first.
   */
  waitUntil<T>(find: () => T | undefined, timeoutMs: number, what = 'the condition'): Promise<T> {
    return this.waitFor(find, timeoutMs, what);
  }

  private waitFor<T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = find();
        if (found !== undefined) {
          done();
          resolve(found);
          return true;
        }
        if (this.exitInfo) {
          done();
          reject(new Error(`${this.name} exited (${this.exitInfo.code ?? this.exitInfo.signal}) while waiting for ${what}\n${this.tail()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}\n${this.tail()}`));
      }, timeoutMs);
      const listener = (): void => {
        check();
      };
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      if (!check()) this.listeners.add(listener);
    });
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

function readLines(stream: NodeJS.ReadableStream, onLine: (text: string, at: number) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const at = performance.now();
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl).replace(/\r$/, ''), at);
      buf = buf.slice(nl + 1);
    }
  });
  stream.on('end', () => {
    if (buf !== '') onLine(buf, performance.now());
    buf = '';
  });
}

function parseLog(text: string, at: number): LogLine | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    const fields = v as Record<string, unknown>;
    return { level: String(fields.level ?? ''), message: String(fields.message ?? ''), fields, at };
  } catch {
    return undefined;
  }
}

/** The caller's environment minus what would change the CLI's behaviour behind the test's back. */
function cliEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.CLUSTER_NODE_COOKIE; // the test passes --cookie explicitly
  delete env.NODE_TEST_CONTEXT; // set by node --test for its own children
  return env;
}

/**
 * Start the built CLI on a host of the virtual LAN:
 * `node bin/cluster-node.js --name node<I>@h<I> --cookie ... --log-format json --log-level info [args]`.
 */
export function startCliNode(lan: VirtualLan, host: Host | number, opts?: CliNodeOptions): CliNode {
  const h = lan.host(host);
  const name = opts?.name ?? `node${h.index}@${h.name}`;
  const args = opts?.rawArgs ?? [
    '--name',
    name,
    '--cookie',
    opts?.cookie ?? 'lan-test-cookie',
    '--log-format',
    'json',
    '--log-level',
    opts?.logLevel ?? 'info',
    ...(opts?.args ?? []),
  ];
  const child = lan.spawn(h, process.execPath, [...(opts?.nodeArgs ?? []), CLI_BIN, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...cliEnv(), ...opts?.env },
  });
  return new CliNode(child, name, h);
}
