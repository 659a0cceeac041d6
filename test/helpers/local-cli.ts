// Local CLI: the real `cluster-node` CLI spawned on this machine's loopback with mDNS
// off (--no-mdns, static --seed discovery only, listening on 127.0.0.1), so it needs
// no network namespace. Observed through the same CliNode as the virtual-LAN tests.
import { spawn } from 'node:child_process';
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
