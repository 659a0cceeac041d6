import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goodbyeCode, GOODBYE_CODES } from '../../src/mesh/close-codes.js';

test('goodbyeCode: known codes map onto the union, anything else is undefined', () => {
  for (const c of GOODBYE_CODES) assert.equal(goodbyeCode(c), c);
  for (const raw of [undefined, '', 'duplicate', 'DUPLICATE ', 'ERR_AUTH_FAILED', '__proto__', 'constructor']) assert.equal(goodbyeCode(raw), undefined, String(raw));
});
