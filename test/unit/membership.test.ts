import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nameHolder, preferConnection } from '../../src/membership/membership.js';

test('preferConnection: both sides keep the connection dialed by the smaller name', () => {
  // From a's side and from b's side, with the two connections in either order.
  assert.equal(preferConnection({ dialer: 'a@h' }, { dialer: 'b@h' }, 'a@h', 'b@h'), 'existing');
  assert.equal(preferConnection({ dialer: 'b@h' }, { dialer: 'a@h' }, 'a@h', 'b@h'), 'incoming');
  assert.equal(preferConnection({ dialer: 'a@h' }, { dialer: 'b@h' }, 'b@h', 'a@h'), 'existing');
  assert.equal(preferConnection({ dialer: 'b@h' }, { dialer: 'a@h' }, 'b@h', 'a@h'), 'incoming');
  // Same dialer: the newer connection replaces the older.
  assert.equal(preferConnection({ dialer: 'b@h' }, { dialer: 'b@h' }, 'a@h', 'b@h'), 'incoming');
});

test('nameHolder: the longer-running node keeps a contested name; ties by incarnation', () => {
  assert.deepEqual(nameHolder({ inc: 'aa', up: 10 }, { inc: 'bb', up: 5 }), { inc: 'aa', up: 10 });
  assert.deepEqual(nameHolder({ inc: 'aa', up: 5 }, { inc: 'bb', up: 10 }), { inc: 'bb', up: 10 });
  assert.deepEqual(nameHolder({ inc: 'bb', up: 7 }, { inc: 'aa', up: 7 }), { inc: 'aa', up: 7 });
});
