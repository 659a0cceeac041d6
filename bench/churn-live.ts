// Churn, live (child of bench/churn.ts, started inside a virtual LAN host; run with
// --expose-gc): one long-lived node in this process — real TCP, real mDNS, winston
// logging at debug level to /dev/null, a failover Singleton candidacy with a quorum of 2
// — and a peer started as a CLI process (the CLI script, CLI_BIN: a new incarnation and port
// each time) that joins, stands by as a Singleton candidate and dies: SIGKILL on odd
// cycles, SIGTERM (goodbye) on even ones. After each cycle listed in --at it forces GC
// twice and prints one `MARK {json}` line (churn-sim.ts's mark()).
// Multicast: only ever inside a private network namespace (bench/churn.ts puts it in a
// virtual LAN host).
import { spawn } from 'node:child_process';
import { createWriteStream, readlinkSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { createLogger, createNode } from '../src/index.js';
import { CLI_BIN } from '../test/helpers/cli-process.js';
import { arg, mark, report } from './churn-sim.js';

/**
 * True when this process runs in another network namespace than the one churn.ts ran in
 * (it passes its own, `net:[inode]`, in CHURN_OUTER_NETNS) and every external interface
 * it sees is on the virtual LAN (10.77.0.0/16): never on the machine's network.
 */
function inPrivateNetworkNamespace(): boolean {
  const outer = process.env.CHURN_OUTER_NETNS ?? '';
  if (!/^net:\[\d+\]$/.test(outer)) return false;
  try {
    if (readlinkSync('/proc/self/ns/net') === outer) return false;
  } catch {
    return false;
  }
  const external = Object.values(networkInterfaces()).flatMap((list) => list ?? []).filter((i) => !i.internal);
  return external.every((i) => i.family === 'IPv4' ? i.address.startsWith('10.77.') : i.address.startsWith('fe80:'));
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<void> {
  // It runs mDNS and starts CLI processes that do: never on the machine's own network.
  if (!inPrivateNetworkNamespace()) throw new Error('churn-live runs only inside a virtual LAN host (npm run bench -- churn --live)');
  const cycles = Number(arg('cycles', '300'));
  const at = new Set(arg('at', '100,200,300').split(',').map(Number));
  const snapshots = process.argv.includes('--snapshots') ? arg('snapshots', '.') : undefined;
  const cookie = 'churn-live';
  const timing = { heartbeatIntervalMs: 100, failureTimeoutMs: 600, settleMs: 300 };
  const logger = createLogger({ stream: createWriteStream('/dev/null'), level: 'debug' });
  const a = createNode({ name: 'a@churn', cookie, logger, ...timing });
  await a.start();
  a.singleton('Singleton', () => () => {}, { failover: true, quorum: 2 });
  const bin = CLI_BIN;
  const args = ['--name', 'b@churn', '--cookie', cookie, '--failover', '--quorum', '2'];
  args.push('--heartbeat-interval', String(timing.heartbeatIntervalMs), '--failure-timeout', String(timing.failureTimeoutMs), '--settle', String(timing.settleMs));
  try {
    for (let i = 1; i <= cycles; i++) {
      const b = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let tail = '';
      b.stderr!.setEncoding('utf8').on('data', (d: string) => (tail = (tail + d).slice(-2000)));
      let code: number | null | undefined;
      const exited = new Promise((r) => b.once('exit', (c) => r((code = c))));
      try {
        await until(() => a.members().includes('b@churn') || code !== undefined, 20_000, `b@churn to join (cycle ${i})`);
      } catch (err) {
        b.kill('SIGKILL');
        throw new Error(`${(err as Error).message}; b's stderr: ${tail}`);
      }
      if (code !== undefined) {
        // Ended from outside before it joined (a busy shared machine): run the cycle again.
        console.log(`b@churn exited with ${code} before it joined (cycle ${i}); again`);
        i--;
        continue;
      }
      await new Promise((r) => setTimeout(r, 700));
      b.kill(i % 2 === 1 ? 'SIGKILL' : 'SIGTERM');
      await exited;
      await until(() => !a.members().includes('b@churn'), 20_000, `b@churn to go down (cycle ${i})`);
      if (at.has(i)) report(mark(i), snapshots, 'churn-live');
    }
  } finally {
    await a.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
