// Probe runner: runs test/helpers/mdns-probe.ts on a virtual LAN host (the attacker or
// eavesdropper of the lan tests) and collects its output, and waits for a pattern in
// text that grows (a listener's output).
// Invariant: the probe only ever runs inside a VirtualLan host; a probe that outlives
// its timeout is killed.
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { REPO_ROOT } from './cli-process.js';
import type { VirtualLan } from './vlan.js';
import type { CountArgs, FloodArgs, ForgeArgs, QueryArgs, SniffArgs } from './mdns-probe.js';

const PROBE = fileURLToPath(new URL('../helpers/mdns-probe.ts', import.meta.url));
/** tsx by absolute URL: a process entering a host's namespaces starts in '/', where `--import tsx` would not resolve. */
export const TSX = import.meta.resolve('tsx');
/** What a probe printed and how it exited. */
export interface Output {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the probe on a host (inside the virtual LAN) and collect its output. */
export function probe(lan: VirtualLan, host: number, args: ForgeArgs | SniffArgs | QueryArgs | FloodArgs | CountArgs, timeoutMs = 20_000): Promise<Output> {
  const child = lan.spawn(host, process.execPath, ['--import', TSX, PROBE, JSON.stringify(args)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return collect(child, timeoutMs);
}

export function collect(child: ChildProcess, timeoutMs: number): Promise<Output> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Poll get() until it matches pattern; throws naming what was awaited, with the output's tail. */
export async function waitForOutput(get: () => string, pattern: RegExp, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(get())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; output so far: ${get().slice(-500)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
