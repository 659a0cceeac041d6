// The failure detector at scale: N detectors (N = 10, 50, 200) on one ManualClock over
// a tiny in-memory message bus, driven through their host port directly (no TCP, no
// handshakes, no registry). A full mesh of connections; each message takes NET_MS to
// arrive. A node can be frozen (its timers do not fire and it reads nothing) forever or
// for a while: its input then waits, as in a socket buffer, and its overdue timers fire
// late when it thaws (its next tick sees the lag). Declaring a member down closes the
// connection on both sides (the other side notices when it next runs).
// Checks: messages and bytes per node per heartbeat interval in steady state do not
// grow with N; a frozen node is declared down by every other node within the bound of
// membership/timing.ts; a 2 s stall takes nobody down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Detector } from '../../src/membership/detector.js';
import type { DetectorHost, FdMessage } from '../../src/membership/detector.js';
import { reportedDetectionMs } from '../../src/membership/timing.js';
import { ManualClock } from '../../src/util/clock.js';
import { FreezableClock } from '../helpers/node-sim.js';
import { seededRandom } from '../../src/util/random.js';
import { silentLogger } from '../../src/util/log.js';
import { encode } from '../../src/wire/codec.js';
import { FRAME_HEADER_BYTES } from '../../src/wire/frame.js';
import { SEAL_OVERHEAD_BYTES } from '../../src/transport/session-crypto.js';
import type { SessionMessage } from '../../src/wire/messages.js';

const HB = 500;
const FT = 3000;
const NET_MS = 1;

interface Verdict {
  by: string;
  peer: string;
  at: number;
  reporters?: readonly string[];
}

/** A detector and the connections of one node. */
class SimNode implements DetectorHost {
  readonly clock: FreezableClock;
  readonly random;
  readonly log = silentLogger;
  readonly heartbeatIntervalMs = HB;
  readonly failureTimeoutMs = FT;
  readonly connected = new Set<string>();
  readonly heard = new Map<string, number>();
  /** Input that arrived while frozen, read on thawing. */
  inbox: (() => void)[] = [];
  detector!: Detector;
  lastPingAt = -Infinity;

  constructor(readonly self: string, readonly inc: string, private readonly bus: Bus, seed: number) {
    this.clock = new FreezableClock(bus.clock);
    this.random = seededRandom(seed);
  }

  members(): string[] {
    return [...this.connected];
  }

  lastHeard(name: string): number | undefined {
    return this.connected.has(name) ? this.heard.get(name) : undefined;
  }

  incarnation(name: string): string | undefined {
    return this.connected.has(name) ? this.bus.nodes.get(name)!.inc : undefined;
  }

  sendPings(seq: number, to: readonly string[]): void {
    this.lastPingAt = this.clock.now();
    for (const t of to) this.bus.send(this.self, t, { t: 'ping', seq });
  }

  sendFd(to: string, msg: FdMessage): void {
    this.bus.send(this.self, to, { t: 'app', ch: 'fd', body: msg });
  }

  declareDown(name: string, _silentForMs: number, reporters?: readonly string[]): void {
    this.bus.verdicts.push({ by: this.self, peer: name, at: this.clock.now(), ...(reporters ? { reporters } : {}) });
    this.bus.disconnect(this.self, name);
  }

  freeze(): void {
    this.clock.freeze();
  }

  thaw(): void {
    this.clock.thaw();
    const input = this.inbox;
    this.inbox = [];
    for (const read of input) read();
  }
}

/** The message bus: a full mesh with NET_MS transit, counting what each node sends. */
class Bus {
  readonly clock = new ManualClock(0, 1_700_000_000_000);
  readonly nodes = new Map<string, SimNode>();
  readonly verdicts: Verdict[] = [];
  /** Per sender: messages and bytes on the wire (frame header + payload + AEAD tag), while counting. */
  readonly sent = new Map<string, { msgs: number; bytes: number }>();
  counting = false;

  constructor(n: number, seed = 1) {
    const names = Array.from({ length: n }, (_, i) => `node${String(i).padStart(3, '0')}@sim`);
    names.forEach((name, i) => this.nodes.set(name, new SimNode(name, (1000 + i).toString(16).padStart(16, '0'), this, seed * 1000 + i)));
    for (const a of this.nodes.values()) {
      for (const b of names) if (b !== a.self) {
        a.connected.add(b);
        a.heard.set(b, 0);
      }
      this.sent.set(a.self, { msgs: 0, bytes: 0 });
    }
    for (const a of this.nodes.values()) a.detector = new Detector(a);
  }

  send(from: string, to: string, msg: SessionMessage): void {
    const a = this.nodes.get(from)!;
    if (!a.connected.has(to)) return;
    if (this.counting) {
      const c = this.sent.get(from)!;
      c.msgs++;
      c.bytes += FRAME_HEADER_BYTES + encode(msg).length + SEAL_OVERHEAD_BYTES;
    }
    this.clock.setTimeout(() => this.deliver(from, to, msg), NET_MS);
  }

  private deliver(from: string, to: string, msg: SessionMessage): void {
    const b = this.nodes.get(to)!;
    const read = (): void => {
      if (!b.connected.has(from)) return; // that connection closed meanwhile
      b.heard.set(from, b.clock.now());
      if (msg.t === 'app') b.detector.onMessage(from, msg.body);
    };
    if (b.clock.isFrozen) b.inbox.push(read);
    else read();
  }

  /** `by` closes its connection to `peer`; `peer` sees the close after NET_MS (when it next runs). */
  disconnect(by: string, peer: string): void {
    const a = this.nodes.get(by)!;
    a.connected.delete(peer);
    a.detector.forget(peer);
    this.clock.setTimeout(() => {
      const b = this.nodes.get(peer)!;
      const close = (): void => {
        b.connected.delete(by);
        b.detector.forget(by);
      };
      if (b.clock.isFrozen) b.inbox.push(close);
      else close();
    }, NET_MS);
  }

  /** Advance in small steps (timers fire in order either way; steps keep each advance() short). */
  run(ms: number): void {
    for (let t = 0; t < ms; t += 50) this.clock.advance(Math.min(50, ms - t));
  }

  stop(): void {
    for (const n of this.nodes.values()) n.detector.stop();
  }
}

/** Steady-state cost: messages and bytes each node sends per heartbeat interval, averaged over the nodes and a 10 s window. */
function steadyCost(n: number): { msgs: number; bytes: number; maxMsgs: number } {
  const bus = new Bus(n);
  bus.run(3000); // subscriptions settle within a tick or two
  bus.counting = true;
  const windowMs = 10_000;
  bus.run(windowMs);
  bus.counting = false;
  const intervals = windowMs / HB;
  let msgs = 0;
  let bytes = 0;
  let maxMsgs = 0;
  for (const c of bus.sent.values()) {
    msgs += c.msgs;
    bytes += c.bytes;
    maxMsgs = Math.max(maxMsgs, c.msgs / intervals);
  }
  assert.deepEqual(bus.verdicts, [], `N=${n}: nobody declared down in steady state`);
  bus.stop();
  return { msgs: msgs / n / intervals, bytes: bytes / n / intervals, maxMsgs };
}

test('steady state: messages and bytes per node per interval do not grow with N', () => {
  const cost = new Map<number, ReturnType<typeof steadyCost>>();
  for (const n of [10, 50, 200]) cost.set(n, steadyCost(n));
  const base = cost.get(10)!;
  for (const [n, c] of cost) {
    // Printed for the record (the figures in the README and the report come from here).
    console.log(`N=${n}: ${c.msgs.toFixed(2)} msgs and ${c.bytes.toFixed(1)} bytes per node per ${HB} ms interval (max per node ${c.maxMsgs.toFixed(2)}); ${(c.msgs * (1000 / HB)).toFixed(1)} msgs/s, ${(c.bytes * (1000 / HB)).toFixed(0)} B/s`);
    assert.ok(c.msgs > 0, `N=${n}: heartbeats flow`);
    assert.ok(c.msgs <= 2 * base.msgs, `N=${n}: ${c.msgs} msgs per node per interval vs ${base.msgs} at N=10`);
    assert.ok(c.bytes <= 2 * base.bytes, `N=${n}: ${c.bytes} bytes per node per interval vs ${base.bytes} at N=10`);
    assert.ok(c.maxMsgs <= 2 * base.msgs, `N=${n}: the busiest node sends ${c.maxMsgs} per interval`);
  }
  // And far below the all-to-all heartbeats it replaces (N - 1 per node per interval).
  assert.ok(cost.get(200)!.msgs < 199 / 10);
});

for (const n of [10, 50, 200]) {
  test(`N=${n}: a frozen node is declared down by every other node within the bound`, () => {
    const bus = new Bus(n, n);
    bus.run(3000);
    // Freeze one (not the first nor the last name: the ring wraps either way).
    const frozen = [...bus.nodes.values()][Math.floor(n / 3)]!;
    bus.run(137); // somewhere inside an interval
    frozen.freeze();
    const lastHeartbeat = frozen.lastPingAt;
    bus.counting = true;
    bus.run(8000);
    bus.counting = false;
    const bound = reportedDetectionMs(FT, HB, NET_MS);
    const downs = bus.verdicts.filter((v) => v.peer === frozen.self);
    const by = new Set(downs.map((v) => v.by));
    for (const node of bus.nodes.values()) {
      if (node === frozen) continue;
      assert.ok(by.has(node.self), `N=${n}: ${node.self} declared ${frozen.self} down`);
      assert.ok(!node.connected.has(frozen.self));
    }
    assert.equal(downs.length, n - 1, 'once each');
    const worst = Math.max(...downs.map((v) => v.at - lastHeartbeat));
    const own = downs.filter((v) => !v.reporters).length;
    assert.ok(worst <= bound, `N=${n}: the last node declared it down ${worst} ms after its last heartbeat (bound ${bound})`);
    // Its watchers (ring predecessors) decide on their own evidence; everyone else on two reports.
    assert.equal(own, Math.min(3, n - 1), `N=${n}: ${own} watchers judged it themselves`);
    const burst = [...bus.sent.values()].reduce((s, c) => s + c.msgs, 0);
    console.log(`N=${n}: frozen node declared down by all ${n - 1} others within ${worst} ms of its last heartbeat (bound ${bound} ms; ${own} on their own evidence, the rest on two reports); ${burst} messages in the 8 s after the freeze`);
    assert.equal(bus.verdicts.length, n - 1, 'nobody else was declared down');
    bus.stop();
  });

  test(`N=${n}: a 2 s stall of one node takes nobody down`, () => {
    const bus = new Bus(n, n + 1);
    bus.run(3000);
    const stalled = [...bus.nodes.values()][Math.floor(n / 2)]!;
    // Right after its heartbeat: the longest silence a 2 s stall can make.
    bus.clock.advance(1);
    stalled.freeze();
    bus.run(2000);
    stalled.thaw();
    bus.run(8000);
    assert.deepEqual(bus.verdicts, [], `N=${n}: nobody declared down`);
    for (const node of bus.nodes.values()) assert.equal(node.connected.size, n - 1, `${node.self} keeps every connection`);
    bus.stop();
  });
}
