// The handshake queue (src/mesh/handshake-queue.ts) on the manual clock, as tables of
// steps: the bound on turns, FIFO order, silent inbound connections that never hold a
// turn, the per-address cap on running inbound handshakes, the queue bound, and the
// oldest queued inbound connections dropped after their longest wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HandshakeQueue, HANDSHAKE_SLOTS, MAX_QUEUED_HANDSHAKES, MAX_RUNNING_HANDSHAKES_PER_ADDRESS, MAX_RUNNING_INBOUND_HANDSHAKES } from '../../src/mesh/handshake-queue.js';
import type { HandshakeDirection, HandshakeQueueLimits, TurnAnswer } from '../../src/mesh/handshake-queue.js';
import { MAX_CONCURRENT_DIALS } from '../../src/mesh/dialer.js';
import { ManualClock } from '../../src/util/clock.js';

const SMALL: HandshakeQueueLimits = { slots: 2, maxRunningInbound: 2, maxQueued: 3, maxRunningPerAddress: 1 };

type Step =
  | { enter: string; dir: HandshakeDirection; addr?: string; ready?: boolean; answer: TurnAnswer }
  | { ready: string; starts: string[] }
  | { leave: string; starts: string[] }
  | { advance: number }
  | { expire: number; drops: string[] };

function play(steps: Step[], limits = SMALL): HandshakeQueue<string> {
  const clock = new ManualClock();
  const q = new HandshakeQueue<string>(() => clock.now(), limits);
  for (const [i, s] of steps.entries()) {
    const at = `step ${i}: ${JSON.stringify(s)}`;
    if ('enter' in s) assert.equal(q.enter(s.enter, s.dir, s.addr ?? 'a', s.ready), s.answer, at);
    else if ('ready' in s) assert.deepEqual(q.ready(s.ready), s.starts, at);
    else if ('leave' in s) assert.deepEqual(q.leave(s.leave), s.starts, at);
    else if ('advance' in s) clock.advance(s.advance);
    else assert.deepEqual(q.expire(s.expire), s.drops, at);
    assert.ok(q.runningCount <= limits.slots, `${at}: ${q.runningCount} running`);
    assert.ok(q.queuedCount <= limits.maxQueued, `${at}: ${q.queuedCount} queued`);
  }
  return q;
}

test('the defaults: 4 turns, 2 for inbound handshakes (1 per address) and 2 for our dials', () => {
  assert.equal(HANDSHAKE_SLOTS, 4);
  assert.equal(MAX_RUNNING_INBOUND_HANDSHAKES, 2);
  assert.equal(MAX_RUNNING_HANDSHAKES_PER_ADDRESS, 1);
  assert.ok(MAX_QUEUED_HANDSHAKES >= 16 * HANDSHAKE_SLOTS);
  // Inbound handshakes can never take the turns of our dials, and our dials never every
  // turn: neither a flood of connections nor two nodes dialing each other can stall both.
  assert.equal(MAX_RUNNING_INBOUND_HANDSHAKES + MAX_CONCURRENT_DIALS, HANDSHAKE_SLOTS);
  assert.ok(MAX_CONCURRENT_DIALS > 0 && MAX_RUNNING_INBOUND_HANDSHAKES > 0);
});

const cases: { name: string; steps: Step[]; limits?: HandshakeQueueLimits }[] = [
  {
    name: 'at most `slots` run; the rest wait and start in arrival order as turns free',
    steps: [
      { enter: 'o1', dir: 'outbound', answer: 'run' },
      { enter: 'i1', dir: 'inbound', addr: 'x', ready: true, answer: 'run' },
      { enter: 'o2', dir: 'outbound', answer: 'queued' },
      { enter: 'i2', dir: 'inbound', addr: 'y', ready: true, answer: 'queued' },
      { leave: 'i1', starts: ['o2'] },
      { leave: 'o1', starts: ['i2'] },
      { leave: 'o2', starts: [] },
      { leave: 'o2', starts: [] }, // idempotent
    ],
  },
  {
    name: 'a silent inbound connection never holds a turn; it starts once its hello arrived and a turn is free',
    steps: [
      { enter: 'silent', dir: 'inbound', addr: 'x', answer: 'queued' },
      { enter: 'o1', dir: 'outbound', answer: 'run' },
      { enter: 'o2', dir: 'outbound', answer: 'run' },
      { ready: 'silent', starts: [] },
      { leave: 'o1', starts: ['silent'] },
    ],
  },
  {
    name: 'an entry that may run goes ahead of older ones that may not (silent, or from an address at its cap)',
    steps: [
      { enter: 'x1', dir: 'inbound', addr: 'x', ready: true, answer: 'run' },
      { enter: 'x2', dir: 'inbound', addr: 'x', ready: true, answer: 'queued' },
      { enter: 'silent', dir: 'inbound', addr: 'y', answer: 'queued' },
      { enter: 'z1', dir: 'inbound', addr: 'z', ready: true, answer: 'run' },
      { leave: 'z1', starts: [] },
      { ready: 'silent', starts: ['silent'] },
      { leave: 'x1', starts: ['x2'] },
    ],
  },
  {
    name: 'inbound handshakes hold at most maxRunningInbound turns: the others stay free for our dials',
    limits: { slots: 3, maxRunningInbound: 2, maxQueued: 4, maxRunningPerAddress: 2 },
    steps: [
      { enter: 'i1', dir: 'inbound', addr: 'x', ready: true, answer: 'run' },
      { enter: 'i2', dir: 'inbound', addr: 'y', ready: true, answer: 'run' },
      { enter: 'i3', dir: 'inbound', addr: 'z', ready: true, answer: 'queued' },
      { enter: 'o1', dir: 'outbound', answer: 'run' },
      { enter: 'o2', dir: 'outbound', answer: 'queued' },
      { leave: 'o1', starts: ['o2'] },
      { leave: 'i1', starts: ['i3'] },
    ],
  },
  {
    name: 'the queue is bounded: one more is refused, and a place that frees takes one again',
    steps: [
      { enter: 'o1', dir: 'outbound', answer: 'run' },
      { enter: 'o2', dir: 'outbound', answer: 'run' },
      { enter: 'q1', dir: 'inbound', answer: 'queued' },
      { enter: 'q2', dir: 'inbound', answer: 'queued' },
      { enter: 'q3', dir: 'outbound', answer: 'queued' },
      { enter: 'q4', dir: 'inbound', ready: true, answer: 'refused' },
      { leave: 'q1', starts: [] },
      { enter: 'q4', dir: 'inbound', ready: true, answer: 'queued' },
    ],
  },
  {
    name: 'queued inbound entries are dropped oldest first once they waited maxWait; outbound ones and running ones are not',
    steps: [
      { enter: 'o1', dir: 'outbound', answer: 'run' },
      { enter: 'o2', dir: 'outbound', answer: 'run' },
      { enter: 'i1', dir: 'inbound', ready: true, answer: 'queued' },
      { advance: 100 },
      { enter: 'o3', dir: 'outbound', answer: 'queued' },
      { enter: 'i2', dir: 'inbound', addr: 'b', answer: 'queued' },
      { advance: 399 },
      { expire: 500, drops: [] },
      { advance: 1 },
      { expire: 500, drops: ['i1'] },
      { advance: 99 },
      { expire: 500, drops: [] },
      { advance: 1 },
      { expire: 500, drops: ['i2'] },
      { advance: 10_000 },
      { expire: 500, drops: [] },
      { leave: 'o1', starts: ['o3'] },
    ],
  },
];

for (const c of cases) test(`handshake queue: ${c.name}`, () => void play(c.steps, c.limits));

test('the clock time of the oldest queued inbound entry is when its wait started, not when it became ready', () => {
  const clock = new ManualClock(1000);
  const q = new HandshakeQueue<string>(() => clock.now(), SMALL);
  assert.equal(q.oldestInboundQueuedAt(), undefined);
  q.enter('o1', 'outbound', '');
  q.enter('o2', 'outbound', '');
  q.enter('o3', 'outbound', '');
  assert.equal(q.oldestInboundQueuedAt(), undefined, 'outbound entries do not expire');
  clock.advance(50);
  q.enter('i1', 'inbound', 'a');
  clock.advance(50);
  q.ready('i1');
  assert.equal(q.oldestInboundQueuedAt(), 1050);
  q.clear();
  assert.equal(q.runningCount + q.queuedCount, 0);
});
