// CLI: the thin shell over the library (the only importer of yargs). It parses the
// command line, starts a node, runs the Printer, and stops cleanly on SIGINT/SIGTERM.
// Exit codes: 0 after a clean stop, 1 for a fatal runtime error, 2 for a usage error.
// Invariant: the cookie never reaches a log line, an error message or the process title.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import yargs from 'yargs';
import { createNode } from '../node.js';
import type { ClusterNode } from '../node.js';
import { ClusterError, describeError } from '../errors.js';
import { createLogger, LOG_LEVELS } from '../util/log.js';
import type { LogLevel } from '../util/log.js';
import { DEFAULT_FAILURE_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS } from '../config.js';
import { DEFAULT_CLUSTER_LABEL, isValidClusterLabel } from '../discovery/mdns-records.js';
import { startPrinter } from './printer.js';
import { roaringSingleton, SINGLETON_NAME } from '../singleton/singleton.js';
import { DEFAULT_SETTLE_MS } from '../singleton/supervisor.js';
import { traceStartup } from '../util/startup-trace.js';

/** Exit code after a clean stop. */
export const EXIT_OK = 0;
/** Exit code for a fatal runtime error (port in use, name in use). */
export const EXIT_FATAL = 1;
/** Exit code for a usage error. */
export const EXIT_USAGE = 2;

class UsageError extends Error {}

/** The short host name used by --sname: the first label of the machine's host name. */
export function shortHostname(): string {
  const h = (hostname().split('.')[0] ?? '').replace(/[^A-Za-z0-9_-]/g, '-');
  return h || 'localhost';
}

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
}

/**
 * This package's version, from its package.json: two levels up from dist/cli/main.js
 * (the library build), one level up from dist/cli.bundle.js (the bundle bin/ runs).
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

/** Parse argv into CLI arguments; throws UsageError with what is wrong. */
async function parseArgs(argv: string[], env: NodeJS.ProcessEnv, out: (s: string) => void): Promise<CliArgs | 'exit'> {
  let exited = false;
  const parser = yargs(argv)
    .scriptName('cluster-node')
    .usage(
      [
        '$0 --sname NAME --cookie SECRET [options]',
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
    .option('cookie', { type: 'string', describe: 'shared secret of the cluster (or --cookie-file, or $CLUSTER_NODE_COOKIE)' })
    .option('cookie-file', { type: 'string', describe: 'read the cookie from this file (first line)' })
    .option('cluster', { type: 'string', default: DEFAULT_CLUSTER_LABEL, describe: 'public cluster label advertised over mDNS (1-63 of A-Za-z0-9_-); nodes with another label are ignored, so clusters can share a LAN. Not a secret: the cookie is' })
    .option('port', { type: 'number', default: 0, describe: 'TCP port to listen on (0 = any free port)' })
    .option('listen', { type: 'string', default: '0.0.0.0', describe: 'IPv4 address to listen on' })
    .option('interface', { type: 'string', describe: 'IPv4 address of the interface mDNS uses (default: every multicast-capable IPv4 interface)' })
    .option('seed', { type: 'string', array: true, default: [] as string[], describe: 'static peer host:port, repeatable (for networks without multicast)' })
    .option('mdns', { type: 'boolean', default: true, describe: 'discover peers with mDNS (--no-mdns to use only --seed)' })
    .option('log-level', { choices: LOG_LEVELS as LogLevel[], default: 'info' as LogLevel, describe: 'least severe log level written to stderr' })
    .option('log-format', { choices: ['pretty', 'json'] as const, default: 'pretty' as const, describe: 'log line format' })
    .option('heartbeat-interval', { type: 'number', default: DEFAULT_HEARTBEAT_INTERVAL_MS, describe: 'milliseconds between heartbeats' })
    .option('failure-timeout', { type: 'number', default: DEFAULT_FAILURE_TIMEOUT_MS, describe: 'milliseconds of silence before a peer is declared down' })
    .option('settle', { type: 'number', default: DEFAULT_SETTLE_MS, describe: 'milliseconds a starting node waits for discovery and registry sync before it tries to start the Singleton' })
    .option('singleton', { type: 'boolean', default: true, describe: 'run the demo Singleton, which roars on stdout while this node holds the global name Singleton (--no-singleton: membership only)' })
    .option('failover', { type: 'boolean', default: false, describe: 'when the Singleton\'s node dies or leaves, another node takes over (unique and fault tolerant)' })
    .option('quorum', { type: 'number', describe: 'split-brain protection (implies --failover): run the Singleton only while at least N members, this one included, are in sight' })
    .option('state-dir', { type: 'string', describe: 'directory where the node keeps the highest fencing epochs it has seen, so epochs keep rising across a restart of the whole cluster' })
    .example('$0 --sname alice --cookie foo', 'start alice@<host> in a cluster with cookie foo')
    .example('$0 --sname alice --cookie foo --failover --quorum 2', 'fault-tolerant Singleton in a 3-node cluster')
    .example('$0 --sname bob --cookie-file ~/.cookie', 'read the cookie from a file')
    .example('$0 --sname carol --cookie foo --port 4370', 'listen on a fixed port')
    .example('$0 --sname dave --cookie foo --seed 10.0.0.5:4370', 'no multicast: join through a known peer')
    .epilogue('Exit codes: 0 after SIGINT/SIGTERM and a clean stop, 1 on a fatal runtime error, 2 on a usage error.')
    .strict()
    .version(packageVersion())
    .help()
    .alias('h', 'help')
    .wrap(null)
    .exitProcess(false)
    .fail((msg, err) => {
      throw new UsageError(msg || (err ? err.message : 'invalid arguments'));
    });
  const a = await parser.parseAsync(argv, {}, (_err, _argv, output) => {
    if (output) {
      exited = true;
      out(output + '\n');
    }
  });
  if (exited || a.help || a.version) return 'exit';

  if (a._.length) throw new UsageError(`unexpected argument ${String(a._[0])}`);
  if (a.sname !== undefined && a.name !== undefined) throw new UsageError('give either --sname or --name, not both');
  let name: string;
  if (a.name !== undefined) {
    if (!/^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$/.test(a.name)) throw new UsageError(`--name "${a.name}" must look like NAME@HOST`);
    name = a.name;
  } else if (a.sname !== undefined) {
    if (!/^[A-Za-z0-9_.-]+$/.test(a.sname)) throw new UsageError(`--sname "${a.sname}" may hold only letters, digits, '.', '_' and '-'`);
    name = `${a.sname}@${shortHostname()}`;
  } else {
    throw new UsageError('a node name is required: --sname NAME or --name NAME@HOST');
  }
  if (!isValidClusterLabel(a.cluster)) throw new UsageError(`--cluster must be 1 to 63 characters of letters, digits, '_' and '-' (for example lab-2)`);
  if (!Number.isFinite(a.settle) || a.settle < 0) throw new UsageError('--settle must be 0 or more milliseconds');
  if (a.quorum !== undefined && (!Number.isInteger(a.quorum) || a.quorum < 1)) throw new UsageError('--quorum must be a positive whole number of members');

  const sources = [a.cookie !== undefined, a['cookie-file'] !== undefined].filter(Boolean).length;
  if (sources > 1) throw new UsageError('give either --cookie or --cookie-file, not both');
  let cookie: string | undefined = a.cookie;
  if (a['cookie-file'] !== undefined) {
    try {
      cookie = (readFileSync(a['cookie-file'], 'utf8').split(/\r?\n/)[0] ?? '').trim();
    } catch (err) {
      throw new UsageError(`cannot read --cookie-file ${a['cookie-file']}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    if (!cookie) throw new UsageError(`--cookie-file ${a['cookie-file']} is empty`);
  }
  cookie ??= env.CLUSTER_NODE_COOKIE;
  if (!cookie) throw new UsageError('a cookie is required: --cookie SECRET, --cookie-file PATH or CLUSTER_NODE_COOKIE=SECRET');

  const port = a.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got ${String(port)}`);
  for (const [flag, v] of [['--heartbeat-interval', a['heartbeat-interval']], ['--failure-timeout', a['failure-timeout']]] as const) {
    if (!Number.isFinite(v) || v <= 0) throw new UsageError(`${flag} must be a positive number of milliseconds`);
  }
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
    heartbeatIntervalMs: a['heartbeat-interval'],
    failureTimeoutMs: a['failure-timeout'],
    settleMs: a.settle,
    singleton: a.singleton,
    failover: a.failover || a.quorum !== undefined,
    quorum: a.quorum,
    stateDir: a['state-dir'],
  };
}

/** Run the CLI; resolves with the process exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const out = (s: string): void => void process.stdout.write(s);
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
  let node: ClusterNode;
  try {
    node = createNode({
      name: args.name,
      cookie: args.cookie,
      cluster: args.cluster,
      host: args.host,
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
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      node.stop().then(
        () => resolve(code),
        () => resolve(EXIT_FATAL),
      );
    };
    const onSignal = (signal: NodeJS.Signals): void => {
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
          const options = args.quorum !== undefined ? { failover: true, quorum: args.quorum } : { failover: args.failover };
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
