// Signed registry entries: an owner signs each entry it writes; a delta relayed by any
// other member counts only if every entry carries the owner's signature, and then only
// its entries count (never its word on removals, versions or floors). So a member with
// the cookie cannot write, evict or hide entries in another member's name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { entrySignedBytes } from '../../src/registry/entry-signature.js';
import { RegistryState } from '../../src/registry/registry.js';
import type { Delta, Entry } from '../../src/registry/registry.js';
import { RegistrySync } from '../../src/registry/sync.js';
import { parseRegistryMessage } from '../../src/registry/messages.js';
import type { RegistryMessage, ReplicationMessage } from '../../src/registry/messages.js';
import { decode, encode } from '../../src/wire/codec.js';
import { ManualClock } from '../../src/util/clock.js';
import { seededRandom } from '../../src/util/random.js';
import { SigningKey, VerifyKey } from '../../src/util/signing.js';
import { recordingLogger } from '../helpers/recording-logger.js';

const A = 'alice@h';
const B = 'bob@h';
const C = 'carol@h';
const M = 'mallory@h';
const key = (n: number): SigningKey => SigningKey.fromSeed(Buffer.alloc(32, n));
const KEYS: Record<string, SigningKey> = { [A]: key(1), [B]: key(2), [C]: key(3), [M]: key(4) };
const INCS: Record<string, string> = { [A]: 'aa', [B]: 'bb', [C]: 'cc', [M]: 'dd' };

interface Replica {
  sync: RegistrySync;
  sent: { to: string; msg: RegistryMessage }[];
  logger: ReturnType<typeof recordingLogger>;
}

/** A replica of `self` connected to every other of A, B, C, M. */
function replica(self: string, clock = new ManualClock()): Replica {
  const logger = recordingLogger();
  const sent: Replica['sent'] = [];
  const sync = new RegistrySync({
    self: { name: self, inc: INCS[self]! },
    signer: KEYS[self]!,
    clock,
    random: seededRandom(1),
    logger,
    port: { send: (to, msg) => void sent.push({ to, msg }) !== undefined },
    events: { registered() {}, lost() {}, freed() {} },
  });
  for (const m of [A, B, C, M]) if (m !== self) sync.nodeUp(m, INCS[m]!, KEYS[m]!.publicKey);
  return { sync, sent, logger };
}

/** What went over the wire: encoded, decoded and parsed, as the router hands it to replication. */
const wire = (msg: unknown): ReplicationMessage => parseRegistryMessage(decode(encode(msg))) as ReplicationMessage;
const deltasTo = (r: Replica, to: string): Extract<RegistryMessage, { k: 'delta' }>[] =>
  r.sent.filter((s) => s.to === to && s.msg.k === 'delta').map((s) => s.msg as Extract<RegistryMessage, { k: 'delta' }>);
const warns = (r: Replica): string[] => r.logger.lines.filter((l) => l.level === 'warn').map((l) => l.message);

test('the signed bytes cover the owner, its incarnation and every field of the entry', () => {
  const e: Entry = { name: 'jobs', stamp: [1000, 2], version: 3, released: false, epoch: 4 };
  const base = Buffer.from(entrySignedBytes(A, 'aa', e)).toString('hex');
  const variants: [string, Uint8Array][] = [
    ['owner', entrySignedBytes(B, 'aa', e)],
    ['inc', entrySignedBytes(A, 'ab', e)],
    ['name', entrySignedBytes(A, 'aa', { ...e, name: 'jobz' })],
    ['stamp wall', entrySignedBytes(A, 'aa', { ...e, stamp: [1001, 2] })],
    ['stamp logical', entrySignedBytes(A, 'aa', { ...e, stamp: [1000, 3] })],
    ['version', entrySignedBytes(A, 'aa', { ...e, version: 4 })],
    ['released', entrySignedBytes(A, 'aa', { ...e, released: true })],
    ['epoch', entrySignedBytes(A, 'aa', { ...e, epoch: 5 })],
    // Field boundaries are length-prefixed: moving a character across them changes the bytes.
    ['boundary', entrySignedBytes('alice@ha', 'a', e)],
  ];
  for (const [what, bytes] of variants) assert.notEqual(Buffer.from(bytes).toString('hex'), base, what);
  // An absent epoch and epoch 0 are the same entry.
  const { epoch: _drop, ...plain } = e;
  assert.deepEqual(entrySignedBytes(A, 'aa', plain), entrySignedBytes(A, 'aa', { ...plain, epoch: 0 }));
});

test('a signature verifies under its own key only; malformed keys and signatures verify nothing', () => {
  const data = entrySignedBytes(A, 'aa', { name: 'x', stamp: [1, 0], version: 1, released: false });
  const sig = KEYS[A]!.sign(data);
  assert.equal(VerifyKey.fromRaw(KEYS[A]!.publicKey).verify(data, sig), true);
  assert.equal(VerifyKey.fromRaw(KEYS[M]!.publicKey).verify(data, sig), false);
  assert.equal(VerifyKey.fromRaw(KEYS[A]!.publicKey).verify(data, sig.subarray(0, 63)), false);
  assert.equal(VerifyKey.fromRaw(KEYS[A]!.publicKey).verify(data, undefined), false);
  assert.equal(VerifyKey.fromRaw(new Uint8Array(31)).verify(data, sig), false);
  // The key is parsed on first use and kept: the same object keeps verifying right.
  const once = VerifyKey.fromRaw(KEYS[A]!.publicKey);
  for (let i = 0; i < 2; i++) assert.equal(once.verify(data, sig), true);
  assert.equal(once.verify(data, KEYS[M]!.sign(data)), false);
  const raw = Uint8Array.from(KEYS[A]!.publicKey);
  const copy = VerifyKey.fromRaw(raw);
  raw.fill(0); // the caller's buffer changing later does not change the key
  assert.equal(copy.verify(data, sig), true);
  assert.equal(JSON.stringify({ k: KEYS[A] }), '{"k":"[signing key]"}');
  const fresh = SigningKey.fromSeed(Buffer.alloc(32, 7));
  assert.equal(inspect(fresh), '[signing key]', 'before first use: the seed is not shown');
  fresh.sign(new Uint8Array(1));
  assert.equal(inspect(fresh), '[signing key]');
  // The same seed makes the same key: a simulated cluster stays replayable.
  assert.deepEqual(key(1).publicKey, KEYS[A]!.publicKey);
});

test('a delta relayed by another member is accepted when every entry carries the owner\'s signature', () => {
  const a = replica(A);
  const b = replica(B);
  a.sync.claim('jobs');
  const [d] = deltasTo(a, C);
  assert.ok(d && d.d.entries[0]!.sig?.length === 64, 'our own entries go out signed');
  // C relays A's push to B (say A's own push to B was lost).
  b.sync.receive(C, wire(d));
  assert.equal(b.sync.whereis('jobs')?.owner, A);
  assert.equal(b.sync.state.ownerDigest(A, 'aa')?.version, 1, 'one signed entry per version proves the range');
  assert.deepEqual(warns(b), []);
});

test('forged deltas in another member\'s name are dropped and logged, whatever they claim', () => {
  const b = replica(B);
  // Carol holds nothing; Mallory writes in her name.
  const entry = (over: Partial<Entry> = {}): Entry => ({ name: 'jobs', stamp: [1, 0], version: 1, released: false, ...over });
  const forged = (entries: Entry[], version = 1, base = 0): ReplicationMessage => wire({ k: 'delta', d: { owner: C, inc: 'cc', base, version, floor: 0, entries }, h: [1, 0] });
  const mallorySigned = entry();
  mallorySigned.sig = KEYS[M]!.sign(entrySignedBytes(C, 'cc', mallorySigned));
  const carolSigned = entry();
  carolSigned.sig = KEYS[C]!.sign(entrySignedBytes(C, 'cc', carolSigned));
  const tampered = { ...carolSigned, stamp: [0, 0] as [number, number] };
  for (const msg of [forged([entry()]), forged([mallorySigned]), forged([tampered]), forged([carolSigned, entry({ name: 'other', version: 2 })], 2)]) {
    assert.doesNotThrow(() => b.sync.receive(M, msg));
    assert.equal(b.sync.whereis('jobs'), undefined);
    assert.equal(b.sync.whereis('other'), undefined);
  }
  assert.equal(warns(b).length, 1, 'rate-limited');
  assert.match(warns(b)[0]!, /^dropped a delta of carol@h's entries relayed by mallory@h: an entry is not signed by carol@h's key \(forged\?\)$/);
  // A relayer cannot move Carol's version: her next own change is still taken.
  b.sync.receive(M, forged([], 1000));
  assert.equal(b.sync.state.ownerDigest(C, 'cc')?.version ?? 0, 0);
  const c = replica(C);
  c.sync.claim('reports');
  b.sync.receive(C, wire(deltasTo(c, B)[0]!));
  assert.equal(b.sync.whereis('reports')?.owner, C);
});

test('a relayer cannot evict or hide an owner\'s entries: its word on removals, versions and floors does not count', () => {
  const a = replica(A);
  const b = replica(B);
  a.sync.claim('jobs');
  a.sync.claim('reports');
  for (const d of deltasTo(a, B)) b.sync.receive(A, wire(d));
  assert.equal(b.sync.state.ownerDigest(A, 'aa')?.version, 2);
  // Mallory relays A's genuine signed entry for 'reports' in a delta claiming (0, 5]: to
  // the direct merge, 'jobs' (version 1, not listed) would look superseded and go.
  const reports = a.sync.state.deltaSince(A, 'aa', 1)[0]!.entries[0]!;
  const lie: Delta = { owner: A, inc: 'aa', base: 0, version: 5, floor: 5, entries: [reports] };
  b.sync.receive(M, wire({ k: 'delta', d: lie, h: [1, 0] }));
  assert.equal(b.sync.whereis('jobs')?.owner, A, 'not evicted');
  assert.equal(b.sync.state.ownerDigest(A, 'aa')?.version, 2, 'version not advanced past what signed entries prove');
  assert.equal(b.sync.state.ownerDigest(A, 'aa')?.floor, 0, 'floor not taken from a relayer');
  // A's real next change still lands.
  a.sent.length = 0;
  a.sync.claim('third');
  b.sync.receive(A, wire(deltasTo(a, B)[0]!));
  assert.equal(b.sync.whereis('third')?.owner, A);
});

test('mergeRelayed: entries only, and the version moves only over a range its entries prove', () => {
  const s = new RegistryState();
  const e = (name: string, version: number): Entry => ({ name, stamp: [version, 0], version, released: false });
  // A gap (version 2 is not listed): entries land, the contiguous version stays.
  assert.deepEqual(s.mergeRelayed({ owner: A, inc: 'aa', base: 0, version: 3, floor: 0, entries: [e('x', 1), e('y', 3)] }), ['x', 'y']);
  assert.equal(s.ownerDigest(A, 'aa')?.version, 0);
  // Every version of (0, 2] listed: proven.
  assert.deepEqual(s.mergeRelayed({ owner: A, inc: 'aa', base: 0, version: 2, floor: 0, entries: [e('x', 1), e('z', 2)] }), ['z']);
  assert.equal(s.ownerDigest(A, 'aa')?.version, 2);
  // A listed range that starts above what we hold: entries land, no version jump.
  s.mergeRelayed({ owner: A, inc: 'aa', base: 5, version: 6, floor: 0, entries: [e('w', 6)] });
  assert.equal(s.ownerDigest(A, 'aa')?.version, 2);
  assert.equal(s.winner('w')?.owner, A);
});
