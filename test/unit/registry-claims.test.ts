// The claim rule (registry/claims.ts) on a scripted port and a manual clock: what a
// claimant does with each kind of answer, and what a member answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Claims, claimRef, namesClaim } from '../../src/registry/claims.js';
import type { ClaimOutcome, ClaimPort } from '../../src/registry/claims.js';
import type { ClaimRef, RegistryMessage } from '../../src/registry/messages.js';
import { compareClaims } from '../../src/registry/registry.js';
import type { Claim } from '../../src/registry/registry.js';
import { ManualClock } from '../../src/util/clock.js';
import { recordingLogger } from '../helpers/recording-logger.js';

const SELF = { name: 'a@h', inc: 'a1' };
const TIMEOUT = 1000;

/** A node "a@h" seen from its claim rule: active claims per name, members, and what it sent. */
class ScriptedPort implements ClaimPort {
  readonly self = SELF;
  readonly clock = new ManualClock(1000);
  readonly logger = recordingLogger();
  readonly sent: { to: string; msg: RegistryMessage }[] = [];
  readonly claims: Claim[] = [];
  readonly epochs = new Map<string, number>();
  connected: string[] = ['b@h', 'c@h'];
  writes = 0;
  private seq = 0;

  add(owner: string, inc: string, name: string, epoch = 0, wall = this.clock.wallNow()): Claim {
    const c: Claim = { name, owner, incarnation: inc, stamp: [wall, this.seq++], version: 1, epoch };
    this.claims.push(c);
    this.epochs.set(name, Math.max(this.epochs.get(name) ?? 0, epoch));
    return c;
  }
  holder(name: string): Claim | undefined {
    return this.claims.filter((c) => c.name === name).sort(compareClaims)[0];
  }
  ownClaim(name: string): Claim | undefined {
    return this.claims.find((c) => c.name === name && c.owner === SELF.name && c.incarnation === SELF.inc);
  }
  epochOf(name: string): number {
    return this.epochs.get(name) ?? 0;
  }
  claim(name: string, epoch: number): Claim {
    this.writes++;
    return this.add(SELF.name, SELF.inc, name, epoch);
  }
  release(name: string): boolean {
    const i = this.claims.findIndex((c) => c.name === name && c.owner === SELF.name);
    if (i >= 0) this.claims.splice(i, 1);
    return i >= 0;
  }
  members(): string[] {
    return [...this.connected];
  }
  send(to: string, msg: RegistryMessage): boolean {
    if (!this.connected.includes(to)) return false;
    this.sent.push({ to, msg });
    return true;
  }
  /** The confirm requests sent, as [to, id]. */
  requests(): [string, number][] {
    return this.sent.flatMap(({ to, msg }) => (msg.k === 'cfm' ? [[to, msg.id] as [string, number]] : []));
  }
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Claim 'x', let script act on the port and rule, and return the outcome once settled. */
async function run(port: ScriptedPort, rule: Claims, script: (id: number, mine: Claim) => void): Promise<ClaimOutcome> {
  let outcome: ClaimOutcome | undefined;
  void rule.claim('x').then((o) => (outcome = o));
  const mine = port.ownClaim('x');
  const id = port.requests()[0]?.[1] ?? -1;
  if (mine) script(id, mine);
  await flush();
  if (!outcome) {
    port.clock.advance(TIMEOUT);
    await flush();
  }
  assert.ok(outcome, 'the round settled');
  return outcome;
}

test('namesClaim: only the very same claim (owner, incarnation, stamp, epoch) counts', () => {
  const c: Claim = { name: 'x', owner: 'a@h', incarnation: 'a1', stamp: [5, 1], version: 3, epoch: 2 };
  const rows: [string, ClaimRef | undefined, boolean][] = [
    ['itself', claimRef(c), true],
    ['no holder', undefined, false],
    ['other owner', { ...claimRef(c), owner: 'b@h' }, false],
    ['other incarnation', { ...claimRef(c), inc: 'a2' }, false],
    ['other stamp', { ...claimRef(c), stamp: [5, 2] }, false],
    ['other epoch', { ...claimRef(c), epoch: 3 }, false],
    ['epoch absent (0)', { owner: 'a@h', inc: 'a1', stamp: [5, 1] }, false],
  ];
  for (const [what, ref, expected] of rows) assert.equal(namesClaim(ref, c), expected, what);
  assert.equal(namesClaim(claimRef({ ...c, epoch: 0 }), { ...c, epoch: 0 }), true, 'epoch 0 travels as absent');
  assert.equal('epoch' in claimRef({ ...c, epoch: 0 }), false);
});

type Row = {
  what: string;
  script: (port: ScriptedPort, rule: Claims, id: number, mine: Claim) => void;
  kind: ClaimOutcome['kind'];
  why?: string;
  kept: boolean;
  log?: RegExp;
};

const ROWS: Row[] = [
  {
    what: 'every member names our claim: won, kept',
    script: (_p, rule, id, mine) => {
      rule.receive('b@h', { k: 'cfr', id, holder: claimRef(mine) });
      rule.receive('c@h', { k: 'cfr', id, holder: claimRef(mine) });
    },
    kind: 'won',
    kept: true,
  },
  {
    what: 'one member names an earlier claim: held, released, and the log says who holds it',
    script: (_p, rule, id, mine) => {
      rule.receive('b@h', { k: 'cfr', id, holder: claimRef(mine) });
      rule.receive('c@h', { k: 'cfr', id, holder: { owner: 'd@h', inc: 'd1', stamp: [1, 0] } });
    },
    kind: 'held',
    kept: false,
    log: /claim on x not confirmed: c@h sees d@h holding it \(an earlier claim\); released/,
  },
  {
    what: 'a member names no holder (it never saw our claim): unconfirmed, released',
    script: (_p, rule, id) => rule.receive('b@h', { k: 'cfr', id }),
    kind: 'unconfirmed',
    why: 'unseen',
    kept: false,
    log: /b@h did not see it/,
  },
  {
    what: 'a member never answers: unconfirmed at the deadline, released',
    script: (_p, rule, id, mine) => rule.receive('b@h', { k: 'cfr', id, holder: claimRef(mine) }),
    kind: 'unconfirmed',
    why: 'deadline',
    kept: false,
    log: /not confirmed within 1000 ms: no answer from c@h; released/,
  },
  {
    what: 'a member that goes down is dropped from the round: won',
    script: (p, rule, id, mine) => {
      rule.receive('b@h', { k: 'cfr', id, holder: claimRef(mine) });
      p.connected = ['b@h'];
      rule.memberDown('c@h');
    },
    kind: 'won',
    kept: true,
  },
  {
    what: 'every member confirms, but an earlier claim reached us meanwhile: held, released',
    script: (p, rule, id, mine) => {
      p.add('d@h', 'd1', 'x', 0, 1);
      rule.receive('b@h', { k: 'cfr', id, holder: claimRef(mine) });
      rule.receive('c@h', { k: 'cfr', id, holder: claimRef(mine) });
    },
    kind: 'held',
    kept: false,
    log: /d@h holds it/,
  },
  {
    what: 'answers from a member not asked, for another round, or twice are ignored',
    script: (_p, rule, id, mine) => {
      rule.receive('z@h', { k: 'cfr', id, holder: { owner: 'd@h', inc: 'd1', stamp: [1, 0] } });
      rule.receive('b@h', { k: 'cfr', id: id + 1, holder: { owner: 'd@h', inc: 'd1', stamp: [1, 0] } });
      rule.receive('b@h', { k: 'cfr', id, holder: claimRef(mine) });
      rule.receive('b@h', { k: 'cfr', id, holder: { owner: 'd@h', inc: 'd1', stamp: [1, 0] } });
      rule.receive('c@h', { k: 'cfr', id, holder: claimRef(mine) });
    },
    kind: 'won',
    kept: true,
  },
  {
    what: 'the node stops during the round: unconfirmed, released',
    script: (_p, rule) => rule.stop(),
    kind: 'unconfirmed',
    why: 'stopped',
    kept: false,
  },
];

for (const row of ROWS) {
  test(`claim round: ${row.what}`, async () => {
    const port = new ScriptedPort();
    const rule = new Claims(port, { timeoutMs: TIMEOUT });
    const outcome = await run(port, rule, (id, mine) => row.script(port, rule, id, mine));
    assert.equal(outcome.kind, row.kind);
    if (row.why !== undefined) assert.equal(outcome.kind === 'unconfirmed' && outcome.why, row.why);
    assert.equal(port.ownClaim('x') !== undefined, row.kept, 'claim kept');
    assert.deepEqual(port.requests().map(([to]) => to), ['b@h', 'c@h'], 'asked every member, once');
    assert.equal(rule.pending, 0, 'no round left');
    if (row.log) assert.ok(port.logger.lines.some((l) => row.log!.test(l.message)), port.logger.lines.map((l) => l.message).join('\n'));
    assert.equal(port.clock.pendingCount, 0, "no timer left");
  });
}

test('a name another node holds in our view is not claimed, and nobody is asked', async () => {
  const port = new ScriptedPort();
  port.add('d@h', 'd1', 'x');
  const outcome = await new Claims(port).claim('x');
  assert.equal(outcome.kind, 'held');
  assert.equal(outcome.kind === 'held' && outcome.holder.owner, 'd@h');
  assert.equal(port.writes, 0);
  assert.deepEqual(port.sent, []);
});

test('alone, a claim is confirmed at once', async () => {
  const port = new ScriptedPort();
  port.connected = [];
  const outcome = await new Claims(port).claim('x');
  assert.equal(outcome.kind, 'won');
});

test("epoch 'next' is the highest seen + 1, read when the claim is made; a fixed epoch is taken as given", async () => {
  const port = new ScriptedPort();
  port.connected = [];
  port.epochs.set('x', 4);
  port.epochs.set('y', 4);
  const rule = new Claims(port);
  const x = await rule.claim('x', 'next');
  assert.equal(x.kind === 'won' && x.claim.epoch, 5);
  const y = await rule.claim('y', 9);
  assert.equal(y.kind === 'won' && y.claim.epoch, 9);
});

test('a second claim on a name whose round is in flight joins it: one write, one round', async () => {
  const port = new ScriptedPort();
  const rule = new Claims(port, { timeoutMs: TIMEOUT });
  const first = rule.claim('x');
  const second = rule.claim('x');
  const mine = port.ownClaim('x')!;
  const [[, id]] = port.requests() as [[string, number]];
  rule.receive('b@h', { k: 'cfr', id, holder: claimRef(mine) });
  rule.receive('c@h', { k: 'cfr', id, holder: claimRef(mine) });
  assert.deepEqual((await Promise.all([first, second])).map((o) => o.kind), ['won', 'won']);
  assert.equal(port.writes, 1);
  assert.equal(port.requests().length, 2);
  // Claimed and confirmed already: a later claim is won without a new round.
  assert.equal((await rule.claim('x')).kind, 'won');
  assert.equal(port.requests().length, 2);
});

test('losing to an earlier claim later (lost) releases our claim', () => {
  const port = new ScriptedPort();
  port.add(SELF.name, SELF.inc, 'x');
  new Claims(port).lost('x');
  assert.equal(port.ownClaim('x'), undefined);
});

test('a member asking answers with the holder it sees, or with none; a request about another node is ignored', () => {
  const port = new ScriptedPort();
  const rule = new Claims(port);
  const held = port.add('d@h', 'd1', 'x', 3);
  rule.receive('b@h', { k: 'cfm', id: 7, name: 'x', owner: 'b@h', inc: 'b1' });
  rule.receive('b@h', { k: 'cfm', id: 8, name: 'free', owner: 'b@h', inc: 'b1' });
  rule.receive('b@h', { k: 'cfm', id: 9, name: 'x', owner: 'c@h', inc: 'c1' });
  assert.deepEqual(port.sent, [
    { to: 'b@h', msg: { k: 'cfr', id: 7, holder: { owner: 'd@h', inc: 'd1', stamp: [held.stamp[0], held.stamp[1]], epoch: 3 } } },
    { to: 'b@h', msg: { k: 'cfr', id: 8 } },
  ]);
});
