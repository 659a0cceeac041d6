// LAN fixture: what every test in test/lan/ needs around the virtual LAN and the CLI
// processes — a skip reason when this machine cannot make namespaces, and a fixture
// that tears everything down after the test, pass or fail (t.after).
// Invariant: a test that uses useLan() leaves no process and no namespace behind.
import type { TestContext } from 'node:test';
import { canCreateNamespaces, createVirtualLan } from './vlan.js';
import type { Host, VirtualLan } from './vlan.js';
import { CliNode, cliMissingReason, startCliNode } from './cli-process.js';
import type { CliNodeOptions } from './cli-process.js';

/** How long a node may take from spawn to `node ready` on a busy 2-core machine: 15 000 ms. */
export const READY_TIMEOUT_MS = 15_000;

/** A virtual LAN plus the CLI nodes started on it, all stopped after the test. */
export interface LanFixture {
  lan: VirtualLan;
  /** Every node started through this fixture, in start order. */
  nodes: CliNode[];
  /** Start the CLI on a host (see startCliNode). */
  start(host: Host | number, opts?: CliNodeOptions): CliNode;
  /** Start one node per host (node<I>@h<I>) and wait until each has logged `node ready`. */
  startAll(opts?: CliNodeOptions): Promise<CliNode[]>;
}

/**
 * Why lan tests must be skipped on this machine (no user/network namespaces), or
 * false when they can run. A missing build is not a reason to skip: useLan() fails
 * with "run npm run build" instead, so a broken setup never passes silently.
 */
export async function lanSkipReason(): Promise<string | false> {
  const ns = await canCreateNamespaces();
  return ns.ok ? false : `virtual LAN unavailable: ${ns.reason}`;
}

/** Build a virtual LAN of `hosts` hosts for this test; everything is torn down in t.after. */
export async function useLan(t: TestContext, hosts: number): Promise<LanFixture> {
  const missing = cliMissingReason();
  if (missing) throw new Error(missing);
  const lan = await createVirtualLan(hosts);
  const nodes: CliNode[] = [];
  t.after(async () => {
    await Promise.all(nodes.map((n) => n.stop(2000)));
    await lan.destroy();
  });
  const start = (host: Host | number, opts?: CliNodeOptions): CliNode => {
    const node = startCliNode(lan, host, opts);
    nodes.push(node);
    return node;
  };
  return {
    lan,
    nodes,
    start,
    async startAll(opts) {
      const started = lan.hosts.map((h) => start(h, opts));
      await Promise.all(started.map((n) => n.waitReady(READY_TIMEOUT_MS)));
      return started;
    },
  };
}

/** The names of every node in `nodes` except `self`, sorted. */
export function othersOf(nodes: readonly CliNode[], self: CliNode): string[] {
  return nodes
    .filter((n) => n !== self)
    .map((n) => n.name)
    .sort();
}
