// etcd for tests: a real etcd server on 127.0.0.1 (client and peer URLs on free
// loopback ports), in a temporary data directory, stopped and removed afterwards. No
// namespace is needed: it binds to loopback only. When the etcd binary is missing the
// tests fail with a message saying how to install it (CI's .ci/run does), never skip.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The etcd binary: $ETCD_BIN, or `etcd` on the PATH. */
export const ETCD_BIN = process.env.ETCD_BIN ?? 'etcd';

/** Throws a clear error unless an etcd binary can be run. */
export function requireEtcd(): void {
  const r = spawnSync(ETCD_BIN, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`these tests need a real etcd (v3.4 or later) and none was found as "${ETCD_BIN}": install it (Debian: apt-get install etcd-server; .ci/run does) or set ETCD_BIN`);
  }
}

/** A free TCP port on 127.0.0.1 (bound and released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A running etcd server. */
export class EtcdServer {
  private child: ChildProcess | undefined;
  readonly log: string[] = [];

  private constructor(
    readonly endpoint: string,
    private readonly args: string[],
    private readonly dataDir: string,
  ) {}

  /** Start an etcd on free loopback ports in a fresh data directory; resolves once it answers. */
  static async start(): Promise<EtcdServer> {
    const server = await EtcdServer.prepare();
    await server.resume();
    return server;
  }

  /** Choose the ports and the data directory, but do not start it yet (resume() does): its endpoint refuses connections until then. */
  static async prepare(): Promise<EtcdServer> {
    requireEtcd();
    const [client, peer] = [await freePort(), await freePort()];
    const dataDir = mkdtempSync(join(tmpdir(), 'cn-etcd-'));
    const endpoint = `http://127.0.0.1:${client}`;
    const args = [
      '--name', 'test',
      '--data-dir', dataDir,
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `test=http://127.0.0.1:${peer}`,
      '--listen-metrics-urls', '',
      '--log-level', 'warn',
    ];
    return new EtcdServer(endpoint, args, dataDir);
  }

  /** Start (again, on the same ports and data) and wait until it answers. */
  async resume(timeoutMs = 15_000): Promise<void> {
    const child = spawn(ETCD_BIN, this.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.log.push(d);
      if (this.log.length > 200) this.log.shift();
    });
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${this.log.join('').slice(-2000)}`);
      try {
        const res = await fetch(`${this.endpoint}/v3/kv/range`, { method: 'POST', body: '{"key":"AA=="}', signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not up yet
      }
      if (performance.now() > deadline) throw new Error(`etcd did not answer within ${timeoutMs} ms: ${this.log.join('').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** POST a JSON body to the gateway and return the JSON answer (for checks from the test). */
  async post(path: string, body: unknown): Promise<unknown> {
    const res = await fetch(this.endpoint + path, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
    return res.json();
  }

  /** Stop the server (SIGKILL: as if its host died), keep its data. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stop it and remove its data directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
