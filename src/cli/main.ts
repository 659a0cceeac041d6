// CLI: the thin shell over the library (the only importer of yargs). It parses the
// command line, starts a node, runs the Printer, and stops cleanly on SIGINT/SIGTERM.
// Exit codes: 0 after a clean stop, 1 for a fatal runtime error (or a stop that overran
// STOP_DEADLINE_MS), 2 for a usage error, 130 when a second SIGINT/SIGTERM cut the stop short.
// `cluster-node cookie --new` writes a random cookie file (cookie.ts).
// Invariant: the cookie never reaches a log line, an error message or the process title.
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import type { Argv } from 'yargs';
import { createNode } from '../node.js';
import { shortHostname } from '../names.js';
import type { ClusterNode } from '../node.js';
import { ClusterError, describeError } from '../errors.js';
import { createLogger, LOG_LEVELS } from '../util/log.js';
import type { LogLevel } from '../util/log.js';
import { DEFAULT_FAILURE_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS } from '../config.js';
import { DEFAULT_CLUSTER_LABEL, isValidClusterLabel } from '../discovery/mdns-records.js';
import { startPrinter } from './printer.js';
import { argvProblem, isIPv4, wholeNumber } from './argv-check.js';
import { formatStatus, holdersOf, joinHidden, noClusterMessage, observerName, statusJson } from './observe.js';
import type { ObserveOptions } from './observe.js';
import { HOME_COOKIE_FILE, homeCookiePath, resolveCookie, writeNewCookie } from './cookie.js';
import { MAX_NAME_LENGTH } from '../wire/messages.js';
import { roaringSingleton, SINGLETON_NAME } from '../singleton/singleton.js';
import { DEFAULT_SETTLE_MS } from '../singleton/supervisor.js';
import { traceStartup } from '../util/startup-trace.js';
import { cleanText } from '../util/untrusted.js';
import { DEFAULT_ETCD_PREFIX } from '../singleton/etcd-lease.js';
import type { EtcdLeaseOptions } from '../singleton/etcd-lease.js';
import { parseEndpoints } from '../singleton/etcd-client.js';

/** The etcd endpoint --lease etcd uses when --etcd-endpoints is not given. */
const DEFAULT_ETCD_ENDPOINT = 'http://127.0.0.1:2379';

/** Exit code after a clean stop. */
export const EXIT_OK = 0;
/** Exit code for a fatal runtime error (port in use, name in use). */
export const EXIT_FATAL = 1;
/** Exit code for a usage error. */
export const EXIT_USAGE = 2;

class UsageError extends Error {}


interface CliArgs {
  name: string;
  cookie: string;
  cluster: string;
  port: number;
  host: string;
  interface: string | undefined;
  seeds: string[];
  mdns: boolean;
  logLevel: LogLevel;
  logFormat: 'pretty' | 'json';
  heartbeatIntervalMs: number;
  failureTimeoutMs: number;
  settleMs: number;
  singleton: boolean;
  failover: boolean;
  quorum: number | undefined;
  stateDir: string | undefined;
  /** The etcd lease of the Singleton (--lease etcd), or undefined for the cluster's own. */
  etcd: EtcdLeaseOptions | undefined;
}

/**
 * This package's version, from its package.json: two levels up from dist/cli/main.js
 * (the library build), one level up from dist/cli.bundle.cjs (the bundle bin/ runs).
 */
function packageVersion(): string {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'cluster-node' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not there: try the next place
    }
  }
  return 'unknown';
}

/** The yargs settings every command shares: its name and usage, --help, no exit of the process, a usage error thrown as UsageError. */
function commandParser(argv: string[], name: string, usage: string): Argv {
  return yargs(argv)
    .scriptName(name)
    .usage(usage)
    .help()
    .wrap(null)
    .exitProcess(false)
    .fail((msg, err) => {
      throw new UsageError(msg || (err ? err.message : 'invalid arguments'));
    });
}

/** Parse argv; when yargs printed help or the version instead, that text goes to out and the result is undefined. */
async function parseOrPrint<T>(parser: Argv<T>, argv: string[], out: (s: string) => void): Promise<ReturnType<Argv<T>['parseSync']> | undefined> {
  let printed = false;
  const a = await parser.parseAsync(argv, {}, (_err, _argv, output) => {
    if (output) {
      printed = true;
      out(output + '\n');
    }
  });
  return printed ? undefined : a;
}

/** Parse argv into CLI arguments; throws UsageError with what is wrong. */
export async function parseArgs(argv: string[], env: NodeJS.ProcessEnv, out: (s: string) => void): Promise<CliArgs | 'exit'> {
  const problem = argvProblem(argv);
  if (problem) throw new UsageError(problem);
  const parser = commandParser(
    argv,
    'cluster-node',
      [
        '$0 --sname NAME --cookie SECRET [options]',
        '$0 cookie --new        write a random cookie to ~/.cluster-node.cookie (mode 600)',
        '$0 status              show the cluster: members, registered names, the Singleton (--json, --watch)',
        '$0 whereis NAME        print the node holding NAME',
        '$0 ping NODE           pong if NODE is a live member, pang otherwise',
        '',
        'Start a cluster node. Nodes on one LAN with the same --cluster label find each other',
        '(mDNS) and, if they share the cookie, form one cluster. Every second each node prints',
        'the other members on stdout.',
        'The first node to claim it runs the Singleton, which prints',
        '"I am singleton, hear me roar" every second. Logs go to stderr.',
      ].join('\n'),
  )
    .option('sname', { type: 'string', describe: 'short node name; the node is called NAME@<short hostname>' })
    .option('name', { type: 'string', describe: 'full node name NAME@HOST (instead of --sname)' })
    .option('cookie', { type: 'string', describe: `shared secret of the cluster (or --cookie-file, $CLUSTER_NODE_COOKIE, or the file ~/${HOME_COOKIE_FILE}: see "cluster-node cookie --new")` })
    .option('cookie-file', { type: 'string', describe: 'read the cookie from this file (first line)' })
    .option('cluster', { type: 'string', default: DEFAULT_CLUSTER_LABEL, describe: 'public cluster label advertised over mDNS (1-63 of A-Za-z0-9_-); nodes with another label are ignored, so clusters can share a LAN. Not a secret: the cookie is' })
    .option('port', { type: 'string', default: '0', describe: 'TCP port to listen on (0 = any free port)' })
    .option('listen', { type: 'string', default: '0.0.0.0', describe: 'IPv4 address to listen on' })
    .option('interface', { type: 'string', describe: 'IPv4 address of the interface mDNS uses (default: every multicast-capable IPv4 interface)' })
    .option('seed', { type: 'string', array: true, default: [] as string[], describe: 'static peer host:port, repeatable (for networks without multicast)' })
    .option('mdns', { type: 'boolean', default: true, describe: 'discover peers with mDNS (--no-mdns to use only --seed)' })
    .option('log-level', { choices: LOG_LEVELS as LogLevel[], default: 'info' as LogLevel, describe: 'least severe log level written to stderr' })
    .option('log-format', { choices: ['pretty', 'json'] as const, default: 'pretty' as const, describe: 'log line format' })
    .option('heartbeat-interval', { type: 'string', default: String(DEFAULT_HEARTBEAT_INTERVAL_MS), describe: 'milliseconds between heartbeats' })
    .option('failure-timeout', { type: 'string', default: String(DEFAULT_FAILURE_TIMEOUT_MS), describe: 'milliseconds of silence before a peer is declared down (at least twice --heartbeat-interval)' })
    .option('settle', { type: 'string', default: String(DEFAULT_SETTLE_MS), describe: 'milliseconds a starting node waits for discovery and registry sync before it tries to start the Singleton' })
    .option('singleton', { type: 'boolean', default: true, describe: 'run the demo Singleton, which roars on stdout while this node holds the global name Singleton (--no-singleton: membership only)' })
    .option('failover', { type: 'boolean', default: false, describe: 'when the Singleton\'s node dies or leaves, another node takes over (unique and fault tolerant)' })
    .option('quorum', { type: 'string', describe: 'split-brain protection (implies --failover): run the Singleton only while at least N members, this one included, are in sight' })
    .option('state-dir', { type: 'string', describe: 'directory where the node keeps the highest fencing epochs it has seen, so epochs keep rising across a restart of the whole cluster' })
    .option('lease', { choices: ['quorum', 'etcd'] as const, default: 'quorum' as const, describe: 'who elects the failover Singleton: quorum = the cluster itself (with --quorum N, grants from N members); etcd = an etcd v3 lease (implies --failover; see --etcd-endpoints)' })
    .option('etcd-endpoints', { type: 'string', describe: `etcd client URLs for --lease etcd, comma-separated (default ${DEFAULT_ETCD_ENDPOINT})` })
    .option('etcd-prefix', { type: 'string', describe: `key prefix of the election key in etcd (default ${DEFAULT_ETCD_PREFIX}); the key is PREFIX<cluster>/Singleton` })
    .option('etcd-user', { type: 'string', describe: 'etcd user name, when etcd has authentication on; the password comes from --etcd-password-file or $CLUSTER_NODE_ETCD_PASSWORD' })
    .option('etcd-password-file', { type: 'string', describe: 'read the etcd password from this file (first line)' })
    .example('$0 --sname alice --cookie foo', 'start alice@<host> in a cluster with cookie foo')
    .example('$0 --sname alice --cookie foo --failover --quorum 2', 'fault-tolerant Singleton in a 3-node cluster')
    .example('$0 --sname alice --cookie foo --lease etcd --etcd-endpoints http://10.0.0.9:2379', 'the Singleton elected through an etcd lease')
    .example('$0 --sname bob --cookie-file ~/.cookie', 'read the cookie from a file')
    .example('$0 cookie --new', `write a random cookie to ~/${HOME_COOKIE_FILE} (mode 600); then --cookie can be left out`)
    .example('$0 --sname carol --cookie foo --port 4370', 'listen on a fixed port')
    .example('$0 --sname dave --cookie foo --seed 10.0.0.5:4370', 'no multicast: join through a known peer')
    .epilogue('Exit codes: 0 after SIGINT/SIGTERM and a clean stop (within 2 s), 1 on a fatal runtime error, 2 on a usage error, 130 when a second Ctrl-C cuts the stop short.')
    .strict()
    .version(packageVersion())
    .alias('h', 'help');
  const a = await parseOrPrint(parser, argv, out);
  if (!a || a.help || a.version) return 'exit';

  if (a._.length) throw new UsageError(`unexpected argument ${String(a._[0])}`);
  if (a.sname !== undefined && a.name !== undefined) throw new UsageError('give either --sname or --name, not both');
  let name: string;
  if (a.name !== undefined) {
    if (a.name.length > MAX_NAME_LENGTH) throw new UsageError(`--name is ${a.name.length} characters; a node name can be at most ${MAX_NAME_LENGTH}`);
    if (!/^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$/.test(a.name)) throw new UsageError(`--name "${a.name}" must look like NAME@HOST (letters, digits, '.', '_' and '-' on each side of one @)`);
    name = a.name;
  } else if (a.sname !== undefined) {
    const host = shortHostname();
    if (a.sname.length + 1 + host.length > MAX_NAME_LENGTH) {
      throw new UsageError(`--sname is ${a.sname.length} characters; with "@${host}" a node name can be at most ${MAX_NAME_LENGTH}, so --sname at most ${MAX_NAME_LENGTH - 1 - host.length}`);
    }
    if (!/^[A-Za-z0-9_.-]+$/.test(a.sname)) throw new UsageError(`--sname "${a.sname}" may hold only letters, digits, '.', '_' and '-'`);
    name = `${a.sname}@${host}`;
  } else {
    throw new UsageError('a node name is required: --sname NAME or --name NAME@HOST');
  }
  if (!isValidClusterLabel(a.cluster)) throw new UsageError(`--cluster must be 1 to 63 characters of letters, digits, '_' and '-' (for example lab-2)`);
  const num = (flag: string, raw: string | undefined, min: number, max: number, what: string): number => {
    const n = wholeNumber(flag, raw, min, max, what);
    if (typeof n === 'string') throw new UsageError(n);
    return n;
  };
  const settle = num('settle', a.settle, 0, Number.MAX_SAFE_INTEGER, 'milliseconds');
  const quorum = a.quorum === undefined ? undefined : num('quorum', a.quorum, 1, 1_000_000, 'members');
  const port = num('port', a.port, 0, 65535, 'a TCP port (0 = any free port)');
  const heartbeat = num('heartbeat-interval', a['heartbeat-interval'], 1, Number.MAX_SAFE_INTEGER, 'milliseconds');
  const failureTimeout = num('failure-timeout', a['failure-timeout'], 1, Number.MAX_SAFE_INTEGER, 'milliseconds');
  if (failureTimeout < 2 * heartbeat) {
    throw new UsageError(`--failure-timeout (${failureTimeout} ms) must be at least twice --heartbeat-interval (${heartbeat} ms): raise --failure-timeout to ${2 * heartbeat} or more, or lower --heartbeat-interval`);
  }
  if (!isIPv4(a.listen)) throw new UsageError(`--listen must be an IPv4 address of this machine, such as 0.0.0.0 (every interface) or 192.168.1.5; got ${JSON.stringify(a.listen)}`);
  if (a.interface !== undefined && !isIPv4(a.interface)) throw new UsageError(`--interface must be the IPv4 address of a local interface, such as 192.168.1.5; got ${JSON.stringify(a.interface)}`);

  const etcd = etcdArgs(a, env, quorum);

  const found = resolveCookie({ cookie: a.cookie, cookieFile: a['cookie-file'], env });
  if ('error' in found) throw new UsageError(found.error);
  const cookie = found.cookie;
  return {
    name,
    cookie,
    cluster: a.cluster,
    port,
    host: a.listen,
    interface: a.interface,
    seeds: a.seed.map(String),
    mdns: a.mdns,
    logLevel: a['log-level'],
    logFormat: a['log-format'],
    heartbeatIntervalMs: heartbeat,
    failureTimeoutMs: failureTimeout,
    settleMs: settle,
    singleton: a.singleton,
    failover: a.failover || quorum !== undefined || etcd !== undefined,
    quorum,
    stateDir: a['state-dir'],
    etcd,
  };
}

/** The --lease etcd options, checked: endpoints as URLs, a printable prefix, a password only with a user. */
function etcdArgs(
  a: { lease: 'quorum' | 'etcd'; 'etcd-endpoints'?: string | undefined; 'etcd-prefix'?: string | undefined; 'etcd-user'?: string | undefined; 'etcd-password-file'?: string | undefined },
  env: NodeJS.ProcessEnv,
  quorum: number | undefined,
): EtcdLeaseOptions | undefined {
  const given = (['etcd-endpoints', 'etcd-prefix', 'etcd-user', 'etcd-password-file'] as const).filter((f) => a[f] !== undefined);
  if (a.lease !== 'etcd') {
    if (given.length) throw new UsageError(`--${given[0]} is for --lease etcd`);
    return undefined;
  }
  if (quorum !== undefined) throw new UsageError('--quorum is for the cluster\'s own election; with --lease etcd, etcd is the quorum: drop --quorum');
  let endpoints: string[];
  try {
    endpoints = parseEndpoints((a['etcd-endpoints'] ?? DEFAULT_ETCD_ENDPOINT).split(',').map((e) => e.trim()).filter((e) => e.length > 0));
  } catch (err) {
    throw new UsageError(`--etcd-endpoints: ${describeError(err)}`);
  }
  const prefix = a['etcd-prefix'];
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 200 || cleanText(prefix) !== prefix)) throw new UsageError('--etcd-prefix must be 1 to 200 printable characters, for example /cluster-node/');
  const username = a['etcd-user'];
  let password = env.CLUSTER_NODE_ETCD_PASSWORD;
  if (a['etcd-password-file'] !== undefined) {
    if (username === undefined) throw new UsageError('--etcd-password-file needs --etcd-user');
    try {
      password = readFileSync(a['etcd-password-file'], 'utf8').split(/\r?\n/)[0] ?? '';
    } catch (err) {
      throw new UsageError(`--etcd-password-file: cannot read it: ${describeError(err)}`);
    }
  }
  return {
    endpoints,
    ...(prefix !== undefined ? { prefix } : {}),
    ...(username !== undefined ? { username, password: password ?? '' } : {}),
  };
}

/** `cluster-node cookie --new [--file PATH] [--force]`: write a random cookie with mode 600. */
async function cookieCommand(argv: string[], env: NodeJS.ProcessEnv, out: (s: string) => void): Promise<number> {
  try {
    const parser = commandParser(
      argv,
      'cluster-node cookie',
      `$0 --new [--file PATH] [--force]\n\nWrite a new random cookie (256 bits) to ~/${HOME_COOKIE_FILE}, readable by you only (mode 600).\nA node started without --cookie, --cookie-file or $CLUSTER_NODE_COOKIE reads it.\nCopy the same file to every host of the cluster.`,
    )
      .option('new', { type: 'boolean', default: false, describe: 'make a new cookie' })
      .option('file', { type: 'string', default: homeCookiePath(env), describe: 'where to write it' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an existing file (nodes using the old cookie will no longer join)' })
      .strict();
    const a = await parseOrPrint(parser, argv, out);
    if (!a) return EXIT_OK;
    if (a._.length) throw new UsageError(`unexpected argument ${String(a._[0])}`);
    if (!a.new) throw new UsageError('say --new to write a new cookie (cluster-node cookie --new)');
    const path = writeNewCookie(a.file, a.force);
    out(`wrote a new cookie to ${path} (mode 600); copy it to every host of the cluster\n`);
    return EXIT_OK;
  } catch (err) {
    process.stderr.write(`cluster-node cookie: ${err instanceof Error ? err.message : describeError(err)}\n`);
    return err instanceof UsageError ? EXIT_USAGE : EXIT_FATAL;
  }
}

/** Default of --timeout for status, whereis and ping: 5 s. */
export const DEFAULT_OBSERVE_TIMEOUT_MS = 5000;

type ObserveCommand = 'status' | 'whereis' | 'ping';

const OBSERVE_USAGE: Record<ObserveCommand, string> = {
  status: '$0 [--cookie SECRET] [--json] [--watch] [--seed HOST:PORT] [--timeout MS]\n\nJoin the cluster as a hidden node (never a member, never counted, never a holder), print\nits members, registered names and the Singleton\'s holder and epoch, and each member\'s\nview where the views disagree; then leave. Exit 0 when a cluster answered, 1 when none did.',
  whereis: '$0 NAME [--cookie SECRET] [--json] [--seed HOST:PORT] [--timeout MS]\n\nPrint the node holding the registered NAME (like :global.whereis_name/1); exit 1 when nobody holds it.',
  ping: '$0 NODE [--cookie SECRET] [--seed HOST:PORT] [--timeout MS]\n\nPrint pong when NODE is a live member that answers, pang (and exit 1) otherwise (like net_adm:ping/1).',
};

/** `cluster-node status | whereis NAME | ping NODE`: a hidden node looks, prints, leaves. */
async function observeCommand(cmd: ObserveCommand, argv: string[], env: NodeJS.ProcessEnv, out: (s: string) => void): Promise<number> {
  try {
    const problem = argvProblem(argv);
    if (problem) throw new UsageError(problem);
    const parser = commandParser(argv, `cluster-node ${cmd}`, OBSERVE_USAGE[cmd])
      .option('cookie', { type: 'string', describe: 'the cluster\'s shared secret (or --cookie-file, $CLUSTER_NODE_COOKIE, ~/.cluster-node.cookie)' })
      .option('cookie-file', { type: 'string', describe: 'read the cookie from this file (first line)' })
      .option('cluster', { type: 'string', default: DEFAULT_CLUSTER_LABEL, describe: 'the cluster label to look for over mDNS' })
      .option('seed', { type: 'string', array: true, default: [] as string[], describe: 'a member host:port to ask, repeatable' })
      .option('mdns', { type: 'boolean', default: true, describe: 'find members with mDNS (--no-mdns: only --seed)' })
      .option('interface', { type: 'string', describe: 'IPv4 address of the interface mDNS uses' })
      .option('timeout', { type: 'string', default: String(DEFAULT_OBSERVE_TIMEOUT_MS), describe: 'milliseconds to wait for the cluster to answer' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' })
      .option('log-level', { choices: LOG_LEVELS as LogLevel[], default: 'warn' as LogLevel, describe: 'least severe log level written to stderr' })
      .option('watch', { type: 'boolean', default: false, describe: 'ask again every second until Ctrl-C', hidden: cmd !== 'status' })
      .strictOptions();
    const a = await parseOrPrint(parser, argv, out);
    if (!a) return EXIT_OK;
    if (a.watch && cmd !== 'status') throw new UsageError(`--watch is for status only`);
    const positional = a._.map(String);
    if (cmd === 'status' && positional.length) throw new UsageError(`unexpected argument ${positional[0]}`);
    if (cmd !== 'status' && positional.length !== 1) throw new UsageError(`${cmd} takes one ${cmd === 'ping' ? 'NODE (name@host)' : 'NAME'}: cluster-node ${cmd} ${cmd === 'ping' ? 'alice@host' : 'Singleton'}`);
    const target = positional[0];
    const timeout = wholeNumber('timeout', a.timeout, 1, Number.MAX_SAFE_INTEGER, 'milliseconds');
    if (typeof timeout === 'string') throw new UsageError(timeout);
    if (!isValidClusterLabel(a.cluster)) throw new UsageError(`--cluster must be 1 to 63 characters of letters, digits, '_' and '-' (for example lab-2)`);
    if (a.interface !== undefined && !isIPv4(a.interface)) throw new UsageError(`--interface must be the IPv4 address of a local interface, such as 192.168.1.5; got ${JSON.stringify(a.interface)}`);
    const found = resolveCookie({ cookie: a.cookie, cookieFile: a['cookie-file'], env });
    if ('error' in found) throw new UsageError(found.error);
    const logger = createLogger({ level: a['log-level'], format: 'pretty' });
    const o: ObserveOptions = {
      name: observerName(cmd, shortHostname()),
      cookie: found.cookie,
      cluster: a.cluster,
      seeds: a.seed.map(String),
      mdns: a.mdns,
      interface: a.interface,
      timeoutMs: timeout,
      logger,
    };
    const node = await joinHidden(o, cmd === 'ping' ? (ms) => ms.includes(target!) : undefined);
    if (!node) {
      if (cmd === 'ping') {
        out('pang\n');
        return EXIT_FATAL;
      }
      process.stderr.write(`cluster-node ${cmd}: ${noClusterMessage(o)}\n`);
      return EXIT_FATAL;
    }
    try {
      if (cmd === 'ping') {
        const status = await node.clusterStatus(Math.min(2000, timeout));
        const ok = status.views.some((v) => v.node === target);
        out(ok ? 'pong\n' : 'pang\n');
        return ok ? EXIT_OK : EXIT_FATAL;
      }
      if (cmd === 'whereis') {
        const status = await node.clusterStatus(Math.min(2000, timeout), target);
        const holders = holdersOf(status, target!);
        if (a.json) out(JSON.stringify({ name: target, holders, agree: holders.length <= 1 && status.agree }) + '\n');
        if (holders.length === 0) {
          if (!a.json) process.stderr.write(`cluster-node whereis: nobody holds ${target}\n`);
          return EXIT_FATAL;
        }
        if (!a.json) {
          for (const h of holders) out(`${h.holder}\n`);
          if (holders.length > 1) process.stderr.write(`cluster-node whereis: the members' views differ on ${target} (a partition that is healing?)\n`);
        }
        return EXIT_OK;
      }
      const show = async (): Promise<void> => {
        const status = await node.clusterStatus(Math.min(2000, timeout));
        if (a.json) out(JSON.stringify(statusJson(status, node.memberList(), a.cluster)) + '\n');
        else out(formatStatus(status, node.memberList(), a.cluster));
      };
      await show();
      if (!a.watch) return EXIT_OK;
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const stop = (): void => {
          clearTimeout(timer);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        const again = (): void => {
          timer = setTimeout(() => {
            if (!a.json) out(`\n--- ${new Date().toISOString()}\n`);
            show().then(again, stop);
          }, 1000);
        };
        again();
      });
      return EXIT_OK;
    } finally {
      await node.stop();
    }
  } catch (err) {
    process.stderr.write(`cluster-node ${cmd}: ${err instanceof Error ? err.message : describeError(err)}\n`);
    return err instanceof UsageError ? EXIT_USAGE : EXIT_FATAL;
  }
}

/** A stopping node that has not finished after this long exits anyway: 2 s. */
export const STOP_DEADLINE_MS = 2000;
/** Exit code when a second SIGINT/SIGTERM cuts the stop short (128 + SIGINT's number, as shells report Ctrl-C). */
export const EXIT_INTERRUPTED = 130;

/**
 * Run the CLI; resolves with the process exit code. hardExit ends the process at once: on
 * a second signal while stopping, and when the stop overruns STOP_DEADLINE_MS.
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, hardExit: (code: number) => void = (code) => process.exit(code)): Promise<number> {
  const out = (s: string): void => void process.stdout.write(s);
  if (argv[0] === 'cookie') return cookieCommand(argv.slice(1), env, out);
  if (argv[0] === 'status' || argv[0] === 'whereis' || argv[0] === 'ping') return observeCommand(argv[0], argv.slice(1), env, out);
  let args: CliArgs | 'exit';
  try {
    args = await parseArgs(argv, env, out);
  } catch (err) {
    process.stderr.write(`cluster-node: ${describeError(err)}\nRun cluster-node --help for usage.\n`);
    return EXIT_USAGE;
  }
  if (args === 'exit') return EXIT_OK;
  traceStartup('args');
  process.title = `cluster-node ${args.name}`;

  const logger = createLogger({ level: args.logLevel, format: args.logFormat });
  traceStartup('logger');
  if (!args.mdns && args.seeds.length === 0) {
    logger.warn('--no-mdns and no --seed: this node finds no one and stays alone until a peer dials it (add --seed HOST:PORT, or drop --no-mdns)', { node: args.name });
  }
  let node: ClusterNode;
  try {
    node = createNode({
      name: args.name,
      cookie: args.cookie,
      cluster: args.cluster,
      listen: args.host,
      port: args.port,
      seeds: args.seeds,
      mdns: args.mdns,
      interface: args.interface,
      heartbeatIntervalMs: args.heartbeatIntervalMs,
      failureTimeoutMs: args.failureTimeoutMs,
      settleMs: args.settleMs,
      ...(args.stateDir !== undefined ? { stateDir: args.stateDir } : {}),
      logger,
    });
    traceStartup('created');
  } catch (err) {
    process.stderr.write(`cluster-node: ${describeError(err)}\n`);
    return err instanceof ClusterError && err.code === 'ERR_CONFIG' ? EXIT_USAGE : EXIT_FATAL;
  }

  return new Promise<number>((resolve) => {
    let stopPrinter = (): void => {};
    let finishing = false;
    const finish = (code: number): void => {
      if (finishing) return;
      finishing = true;
      stopPrinter();
      // Goodbyes, handover and closing sockets take milliseconds; a stop that hangs (a
      // stuck disk under --state-dir, say) must not keep a service manager waiting.
      const deadline = setTimeout(() => {
        logger.error(`did not stop within ${STOP_DEADLINE_MS / 1000} s; exiting anyway`, { node: args.name });
        hardExit(EXIT_FATAL);
      }, STOP_DEADLINE_MS);
      deadline.unref();
      node.stop().then(
        () => {
          clearTimeout(deadline);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          resolve(code);
        },
        () => {
          clearTimeout(deadline);
          resolve(EXIT_FATAL);
        },
      );
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      if (finishing) {
        // A second Ctrl-C: the user does not want to wait.
        logger.warn('second signal: exiting at once', { node: args.name, signal });
        hardExit(EXIT_INTERRUPTED);
        return;
      }
      logger.info('stopping', { node: args.name, signal });
      finish(EXIT_OK);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    node.on('fatal', (err) => {
      process.stderr.write(`cluster-node: ${err.message}\n`);
      finish(EXIT_FATAL);
    });
    node.start().then(
      () => {
        if (finishing) return;
        stopPrinter = startPrinter(node, out);
        if (args.singleton) {
          const options = args.etcd ? { etcd: args.etcd } : args.quorum !== undefined ? { failover: true, quorum: args.quorum } : { failover: args.failover };
          node.singleton(SINGLETON_NAME, roaringSingleton(out, 1000, args.failover), options);
        }
      },
      (err: unknown) => {
        logger.error(describeError(err), { code: err instanceof ClusterError ? err.code : undefined });
        process.stderr.write(`cluster-node: ${describeError(err)}\n`);
        finishing = true;
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolve(EXIT_FATAL);
      },
    );
  });
}
