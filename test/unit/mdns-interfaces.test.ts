import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ipv4ToInt } from '../../src/discovery/mdns-interfaces.js';

/** The plain reading of a dotted quad, as a reference for the fast parser. */
function reference(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

test('ipv4ToInt reads dotted quads and nothing else', () => {
  const cases: [string, number | undefined][] = [
    ['0.0.0.0', 0],
    ['10.77.0.1', 0x0a4d0001],
    ['255.255.255.255', 0xffffffff],
    ['192.168.001.010', 0xc0a8010a],
    ['256.0.0.1', undefined],
    ['1.2.3', undefined],
    ['1.2.3.4.5', undefined],
    ['1..2.3', undefined],
    ['.1.2.3', undefined],
    ['1.2.3.', undefined],
    ['1.2.3.1234', undefined],
    ['1.2.3.-4', undefined],
    ['1.2.3.4 ', undefined],
    ['::1', undefined],
    ['', undefined],
  ];
  for (const [ip, want] of cases) assert.equal(ipv4ToInt(ip), want, ip);
});

test('ipv4ToInt agrees with the plain reading on arbitrary strings of digits and dots', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9.a ]{0,20}$/), (s) => ipv4ToInt(s) === reference(s)),
    { seed: 42, numRuns: 5000 },
  );
  fc.assert(
    fc.property(fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)), (q) => {
      const s = q.join('.');
      return ipv4ToInt(s) === reference(s);
    }),
    { seed: 43, numRuns: 5000 },
  );
});
