import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideAdmission } from '../../src/mesh/admission.js';
import type { AdmissionAction, AdmissionInput, ExistingConnection } from '../../src/mesh/admission.js';

const HB = 500;
const ME = 'alice@h';

function input(peer: Partial<AdmissionInput['peer']>, over: { existing?: Partial<ExistingConnection>; dialer?: string; selfUp?: number } = {}): AdmissionInput {
  const p = { name: 'bob@h', inc: 'b1', up: 1000, ...peer };
  return {
    self: { name: ME, inc: 'a1', up: over.selfUp ?? 5000 },
    peer: p,
    dialer: over.dialer ?? ME,
    existing: over.existing && { inc: 'b1', open: true, dialer: ME, silentForMs: 0, ...over.existing },
    heartbeatIntervalMs: HB,
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
    ['our name, we have run longer', input({ name: ME, inc: 'a2', up: 100 }), 'refuse-name-in-use'],
    ['our name, the peer says it has run longer', input({ name: ME, inc: 'a2', up: 9000 }), 'yield-name'],
  ];
  for (const [why, i, want] of cases) assert.equal(decideAdmission(i), want, why);
});
