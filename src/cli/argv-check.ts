// Argv check: what the command line parser forgives and a user should hear about, found
// on the raw argument list before yargs sees it — Erlang habits (`-sname a -setcookie
// foo`), a single-value flag given twice (`--sname a --sname b` would become "a,b"),
// and a flag that needs a value given none (`--port` at the end). Pure: argv in, the
// first problem out as a sentence that names the flag and the fix.
// Invariant: a message never quotes the value of --cookie.

/** Flags that take exactly one value. */
export const SINGLE_VALUE_FLAGS: readonly string[] = [
  'sname',
  'name',
  'cookie',
  'cookie-file',
  'cluster',
  'port',
  'listen',
  'interface',
  'log-level',
  'log-format',
  'heartbeat-interval',
  'failure-timeout',
  'settle',
  'quorum',
  'state-dir',
  'lease',
  'etcd-endpoints',
  'etcd-prefix',
  'etcd-user',
  'etcd-password-file',
  'timeout',
  'file',
];

/** Flags that take a value and may be repeated. */
const REPEATABLE_VALUE_FLAGS: readonly string[] = ['seed'];

/** Erlang's flags and what to write here instead. */
const ERLANG_HABITS: Record<string, string> = {
  sname: '--sname',
  name: '--name',
  setcookie: '--cookie',
  cookie: '--cookie',
};

/** Flags whose values are never quoted back. */
const SECRET_FLAGS = new Set(['cookie']);

function quote(flag: string, value: string): string {
  return SECRET_FLAGS.has(flag) ? '(hidden)' : JSON.stringify(value);
}

/** The first problem with argv, or undefined when there is none. */
export function argvProblem(argv: readonly string[]): string | undefined {
  const seen = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    // One dash and a word: an Erlang habit, or a long option missing a dash.
    const single = /^-([A-Za-z][A-Za-z_-]+)$/.exec(arg);
    if (single) {
      const word = single[1]!;
      const erlang = ERLANG_HABITS[word];
      if (erlang) {
        return `-${word} is Erlang's spelling; here it is ${erlang}${word === 'sname' || word === 'name' ? ' (and --cookie for -setcookie)' : ''}: for example cluster-node --sname alice --cookie foo`;
      }
      return `unknown option ${arg}: long options take two dashes (--${word})`;
    }
    const long = /^--([A-Za-z][A-Za-z0-9-]*)(=(.*))?$/s.exec(arg);
    if (!long) continue;
    const flag = long[1]!;
    const takesValue = SINGLE_VALUE_FLAGS.includes(flag) || REPEATABLE_VALUE_FLAGS.includes(flag);
    if (!takesValue) continue;
    let value = long[3];
    if (value === undefined) {
      const next = argv[i + 1];
      // A value that starts with a dash must be attached: --cookie=-x (yargs reads -x as flags).
      if (next === undefined || (next.startsWith('-') && next.length > 1 && !/^-\d/.test(next))) {
        const dashed = next !== undefined ? ` (a value that starts with '-' goes after '=': --${flag}=${SECRET_FLAGS.has(flag) ? '-...' : next})` : '';
        return `--${flag} needs a value${example(flag)}${dashed}`;
      }
      value = next;
      i++;
    }
    if (!SINGLE_VALUE_FLAGS.includes(flag)) continue;
    const before = seen.get(flag);
    if (before !== undefined) {
      return SECRET_FLAGS.has(flag)
        ? `--${flag} is given more than once; give it once`
        : `--${flag} is given more than once (${quote(flag, before)}, then ${quote(flag, value)}); give it once`;
    }
    seen.set(flag, value);
  }
  return undefined;
}

function example(flag: string): string {
  const examples: Record<string, string> = {
    port: '--port 4370 (0 = any free port)',
    sname: '--sname alice',
    name: '--name alice@host',
    cookie: '--cookie SECRET',
    'cookie-file': '--cookie-file ~/.cluster-node.cookie',
    seed: '--seed 192.168.1.20:4370',
    listen: '--listen 0.0.0.0',
    quorum: '--quorum 2',
    settle: '--settle 2000',
    'heartbeat-interval': '--heartbeat-interval 500',
    'failure-timeout': '--failure-timeout 3000',
  };
  const e = examples[flag];
  return e ? `, for example ${e}` : '';
}

/**
 * A whole number from a flag's text, within [min, max]; or the sentence saying what is
 * wrong (naming the flag, the range and what was given).
 */
export function wholeNumber(flag: string, raw: string | number | undefined, min: number, max: number, what: string): number | string {
  const text = String(raw ?? '').trim();
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `${min} to ${max}`;
    return `--${flag} must be a whole number of ${what}, ${range}; got ${JSON.stringify(String(raw ?? ''))}`;
  }
  return n;
}

/** True if s is a dotted-quad IPv4 address. */
export function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}
