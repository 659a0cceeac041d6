// Local CLI: the real `cluster-node` CLI spawned on this machine's loopback with mDNS
// off (--no-mdns, static --seed discovery only, listening on 127.0.0.1), so it needs
// no network namespace. Observed through the same CliNode as the virtual-LAN tests.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_BIN, CliNode, REPO_ROOT } from './cli-process.js';

const LOOPBACK_HOST = { index: 0, name: 'loopback', address: '127.0.0.1' };
const EMPTY_HOME = mkdtempSync(join(tmpdir(), 'cn-empty-home-'));

/** Start `node bin/cluster-node.js --name NAME --cookie C --no-mdns --listen 127.0.0.1 --log-format json ...args`. */
export function startLocalCli(name: string, args: readonly string[] = [], opts: { cookie?: string; rawArgs?: readonly string[]; env?: NodeJS.ProcessEnv } = {}): CliNode {
  const argv = opts.rawArgs ?? ['--name', name, '--cookie', opts.cookie ?? 'integration-cookie', '--no-mdns', '--listen', '127.0.0.1', '--log-format', 'json', ...args];
  const env = { ...process.env, ...opts.env };
  if (!opts.env?.CLUSTER_NODE_COOKIE) delete env.CLUSTER_NODE_COOKIE;
  // A home of its own: a ~/.cluster-node.cookie on this machine must not leak into tests.
  if (!opts.env?.HOME) env.HOME = EMPTY_HOME;
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [CLI_BIN, ...argv], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
  return new CliNode(child, name, LOOPBACK_HOST);
}

/** The TCP port a started node logged in its `node ready` line. */
export async function readyPort(node: CliNode, timeoutMs = 10_000): Promise<number> {
  const line = await node.waitReady(timeoutMs);
  return Number(line.fields.port);
}

/** Throws unless the CLI arguments turn mDNS off: a CLI outside a virtual LAN must not multicast. */
export function assertNoMdns(cliArgs: readonly string[]): void {
  if (!cliArgs.includes('--no-mdns')) throw new Error(`a CLI started outside a virtual LAN must have --no-mdns: ${cliArgs.join(' ')}`);
}

/** Options for spawnLocalCliProcess. */
export interface LocalCliProcessOptions {
  /** Node options before the script, e.g. ['--require', hook]; default none. */
  nodeArgs?: readonly string[];
  /** The whole environment of the process; default this process's. */
  env?: NodeJS.ProcessEnv;
  /** The CLI script; default CLI_BIN (another build's bin script for a before/after). */
  bin?: string;
}

/**
 * Spawn `node [nodeArgs] bin/cluster-node.js cliArgs` on this machine, stdout and stderr
 * piped (for a CliNode), for callers that need the process itself (the start-up
 * benchmark). cliArgs must hold --no-mdns (assertNoMdns): without a namespace, no mDNS.
 */
export function spawnLocalCliProcess(cliArgs: readonly string[], opts: LocalCliProcessOptions = {}): ChildProcess {
  assertNoMdns(cliArgs);
  return spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.bin ?? CLI_BIN, ...cliArgs], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
}
