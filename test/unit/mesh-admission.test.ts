import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideAdmission, decideInbound, FAILED_HANDSHAKES_PER_ADDRESS, InboundSlots, isNewcomer, MAX_PENDING_HANDSHAKES, MAX_PENDING_HANDSHAKES_PER_ADDRESS, NEWCOMER_WINDOW_MS } from '../../src/mesh/admission.js';
import { ManualClock } from '../../src/util/clock.js';
import type { AdmissionAction, AdmissionInput, ExistingConnection } from '../../src/mesh/admission.js';

const HB = 500;
const ME = 'alice@h';

const WINDOW = 5000;
const OLD = WINDOW + 1;

function input(
  peer: Partial<AdmissionInput['peer']>,
  over: { existing?: Partial<ExistingConnection>; dialer?: string; selfUp?: number; newcomer?: boolean; advertised?: string; keyConflict?: boolean } = {},
): AdmissionInput {
  const p = { name: 'bob@h', inc: 'b1', up: 1000, ...peer };
  return {
    self: { name: ME, inc: 'a1', up: over.selfUp ?? 5000, newcomer: over.newcomer ?? false },
    peer: p,
    dialer: over.dialer ?? ME,
    advertisedName: over.advertised,
    ...(over.keyConflict !== undefined ? { keyConflict: over.keyConflict } : {}),
    existing: over.existing && { inc: 'b1', open: true, dialer: ME, silentForMs: 0, ageMs: 0, ...over.existing },
    heartbeatIntervalMs: HB,
    simultaneousWindowMs: WINDOW,
  };
}

test('decideAdmission', () => {
  const cases: [string, AdmissionInput, AdmissionAction][] = [
    ['our own connection looped back', input({ name: ME, inc: 'a1' }), 'self'],
    ['a new member', input({}), 'accept'],
    ['same incarnation, existing closed', input({}, { existing: { open: false } }), 'replace'],
    ['same incarnation, both dialed by alice (the dialer gave up on the old one)', input({}, { existing: { dialer: ME } }), 'replace'],
    ['same incarnation, simultaneous dial: alice sorts first, her dial wins', input({}, { existing: { dialer: ME }, dialer: 'bob@h' }), 'refuse-duplicate'],
    ['same incarnation, simultaneous dial: the new one is alice\'s', input({}, { existing: { dialer: 'bob@h' }, dialer: ME }), 'replace'],
    ['a member\'s name, another incarnation, the member is live', input({ inc: 'b2' }, { existing: { silentForMs: 2 * HB } }), 'refuse-name-in-use'],
    ['a member\'s name, another incarnation, the member is silent (restarted)', input({ inc: 'b2' }, { existing: { silentForMs: 2 * HB + 1 } }), 'replace-restarted'],
    // A member we do not watch sends us no heartbeats: its silence says nothing.
    ['a member\'s name, another incarnation, the member is not watched: check it first', input({ inc: 'b2' }, { existing: { silentForMs: undefined } }), 'refuse-unverified'],
    ['a member\'s name, another incarnation, not watched and its connection closed', input({ inc: 'b2' }, { existing: { silentForMs: undefined, open: false } }), 'replace-restarted'],
    ['same incarnation, not watched, established: the tie-break decides (as for a silent one)', input({}, { existing: { dialer: 'bob@h', ageMs: OLD, silentForMs: undefined }, dialer: ME }), 'replace'],
    ['same incarnation, not watched, established, the old one wins the tie-break', input({}, { existing: { dialer: ME, ageMs: OLD, silentForMs: undefined }, dialer: 'bob@h' }), 'refuse-duplicate'],
    // Relay insertion: a healthy established connection is never replaced.
    ['same incarnation, healthy established connection, new one would win the tie-break', input({}, { existing: { dialer: 'bob@h', ageMs: OLD, silentForMs: 2 * HB }, dialer: ME }), 'refuse-duplicate'],
    ['same incarnation, established but silent for over two intervals', input({}, { existing: { dialer: 'bob@h', ageMs: OLD, silentForMs: 2 * HB + 1 }, dialer: ME }), 'replace'],
    ['same incarnation, established but silent, the old one wins the tie-break', input({}, { existing: { dialer: ME, ageMs: OLD, silentForMs: 2 * HB + 1 }, dialer: 'bob@h' }), 'refuse-duplicate'],
    ['same incarnation, healthy, same dialer on both (would replace if brand-new)', input({}, { existing: { dialer: ME, ageMs: OLD } }), 'refuse-duplicate'],
    ['same incarnation, healthy but within the simultaneous-dial window', input({}, { existing: { dialer: ME, ageMs: WINDOW } }), 'replace'],
    // Our name, another incarnation: an established node keeps it, whatever the peer claims.
    ['our name, established, the peer claims a longer uptime', input({ name: ME, inc: 'a2', up: 9000 }), 'refuse-name-in-use'],
    ['our name, established, the peer claims 2^53-1 ms', input({ name: ME, inc: 'a2', up: Number.MAX_SAFE_INTEGER }), 'refuse-name-in-use'],
    ['our name, established, the peer claims less', input({ name: ME, inc: 'a2', up: 100 }), 'refuse-name-in-use'],
    // A newcomer has only the claims: the longer-running keeps the name, ties by incarnation.
    ['our name, newcomer, we have run longer', input({ name: ME, inc: 'a2', up: 100 }, { newcomer: true }), 'refuse-name-in-use'],
    ['our name, newcomer, the peer has run longer', input({ name: ME, inc: 'a2', up: 9000 }, { newcomer: true }), 'yield-name'],
    ['our name, newcomer, same uptime, our incarnation sorts first', input({ name: ME, inc: 'a2', up: 5000 }, { newcomer: true }), 'refuse-name-in-use'],
    ['our name, newcomer, same uptime, theirs sorts first', input({ name: ME, inc: 'a0', up: 5000 }, { newcomer: true }), 'yield-name'],
    // A member's name: the live holder keeps it; newcomer or not makes no difference.
    ['a live member\'s name, the newcomer claims 2^53-1 ms', input({ inc: 'b2', up: Number.MAX_SAFE_INTEGER }, { existing: {} }), 'refuse-name-in-use'],
    // Advertised vs authenticated name.
    ['advertised as carol, proved bob', input({}, { advertised: 'carol@h' }), 'refuse-name-mismatch'],
    ['advertised as bob, proved bob', input({}, { advertised: 'bob@h' }), 'accept'],
    ['advertised as carol, but it is ourselves', input({ name: ME, inc: 'a1' }, { advertised: 'carol@h' }), 'self'],
    ['advertised with our name, a twin', input({ name: ME, inc: 'a2', up: 9000 }, { advertised: ME }), 'refuse-name-in-use'],
    // An incarnation never changes its signing key: another key is an impostor, whatever else holds.
    ['a known incarnation with another key, no connection now', input({}, { keyConflict: true }), 'refuse-key-mismatch'],
    ['a known incarnation with another key, its connection closed', input({}, { keyConflict: true, existing: { open: false } }), 'refuse-key-mismatch'],
    ['a known incarnation with another key, silent connection', input({}, { keyConflict: true, existing: { dialer: 'bob@h', ageMs: OLD, silentForMs: 2 * HB + 1 }, dialer: ME }), 'refuse-key-mismatch'],
    ['same key as before (no conflict): a reconnect', input({}, { keyConflict: false, existing: { open: false } }), 'replace'],
  ];
  for (const [why, i, want] of cases) assert.equal(decideAdmission(i), want, why);
});

test('isNewcomer: until the first member or the end of the window', () => {
  const cases: [boolean, number, boolean][] = [
    [false, 0, true],
    [false, NEWCOMER_WINDOW_MS - 1, true],
    [false, NEWCOMER_WINDOW_MS, false],
    [true, 0, false],
  ];
  for (const [had, up, want] of cases) assert.equal(isNewcomer(had, up), want, `${had} ${up}`);
});

test('decideInbound: failing sources, busy sources, then the global cap', () => {
  const P = MAX_PENDING_HANDSHAKES_PER_ADDRESS;
  const cases: [number, number, number, string][] = [
    [0, 0, 10, 'accept'],
    [MAX_PENDING_HANDSHAKES - 1, P - 1, 1, 'accept'],
    [MAX_PENDING_HANDSHAKES, 0, 10, 'refuse-busy'],
    [10, P, 10, 'refuse-busy-source'],
    [10, 0, 0.99, 'refuse-failing-source'],
    [MAX_PENDING_HANDSHAKES, P, 0, 'refuse-failing-source'],
  ];
  for (const [total, fromAddr, tokens, want] of cases) assert.equal(decideInbound({ pendingTotal: total, pendingFromAddress: fromAddr, failureTokens: tokens }), want, `${total} ${fromAddr} ${tokens}`);
});

test('InboundSlots: per-address slots are held and given back; failures close an address for a while', () => {
  const clock = new ManualClock();
  const s = new InboundSlots(() => clock.now());
  for (let i = 0; i < MAX_PENDING_HANDSHAKES_PER_ADDRESS; i++) {
    assert.equal(s.check('10.0.0.9', i), 'accept');
    s.opened('10.0.0.9');
  }
  assert.equal(s.check('10.0.0.9', 8), 'refuse-busy-source');
  assert.equal(s.check('10.0.0.8', 8), 'accept', 'another address is not affected');
  s.settled('10.0.0.9');
  assert.equal(s.check('10.0.0.9', 7), 'accept');
  for (let i = 0; i < FAILED_HANDSHAKES_PER_ADDRESS.capacity; i++) s.failed('10.0.0.7');
  assert.equal(s.check('10.0.0.7', 0), 'refuse-failing-source');
  clock.advance(1000 / FAILED_HANDSHAKES_PER_ADDRESS.perSecond);
  assert.equal(s.check('10.0.0.7', 0), 'accept');
});
