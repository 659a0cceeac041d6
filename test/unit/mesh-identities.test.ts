import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdentityBook, incarnationsToForget, MAX_IDENTITIES_PER_NAME } from '../../src/mesh/identities.js';

const k = (b: number): Uint8Array => new Uint8Array(32).fill(b);

test('an incarnation keeps the key it first proved; another key for it is a conflict', () => {
  const book = new IdentityBook();
  assert.equal(book.check('bob@h', 'b1', k(1)), 'new');
  book.remember('bob@h', 'b1', k(1));
  assert.equal(book.check('bob@h', 'b1', k(1)), 'same');
  assert.equal(book.check('bob@h', 'b1', k(2)), 'conflict');
  // A new incarnation (a restart) brings a new key: that is news, not a conflict.
  assert.equal(book.check('bob@h', 'b2', k(2)), 'new');
  // Names and incarnations do not run together.
  assert.equal(book.check('bob@h/b', '1', k(2)), 'new');
});

test('the book is bounded: the oldest incarnations are forgotten first, and a refreshed one stays', () => {
  const book = new IdentityBook(3);
  for (const inc of ['1', '2', '3']) book.remember('n@h', inc, k(Number(inc)));
  book.remember('n@h', '1', k(1)); // seen again: now the newest
  book.remember('n@h', '4', k(4));
  assert.equal(book.size, 3);
  assert.equal(book.check('n@h', '2', k(9)), 'new', 'the oldest went');
  assert.equal(book.check('n@h', '1', k(9)), 'conflict', 'the refreshed one stayed');
});

test('incarnationsToForget keeps the newest max of a name (table)', () => {
  const cases: [string[], number, string[]][] = [
    [[], 4, []],
    [['a'], 4, []],
    [['a', 'b', 'c', 'd'], 4, []],
    [['a', 'b', 'c', 'd', 'e'], 4, ['a']],
    [['a', 'b', 'c', 'd', 'e', 'f'], 4, ['a', 'b']],
    [['a', 'b', 'c'], 1, ['a', 'b']],
    // A cap below one still keeps the newest: the live incarnation is never forgotten.
    [['a', 'b'], 0, ['a']],
  ];
  for (const [incs, max, out] of cases) assert.deepEqual(incarnationsToForget(incs, max), out, `${incs.join(',')} max ${max}`);
  assert.equal(MAX_IDENTITIES_PER_NAME, 4);
});

test('a node that restarts forever costs the book a constant: at most MAX_IDENTITIES_PER_NAME incarnations of its name', () => {
  const book = new IdentityBook();
  book.remember('alice@h', 'a0', k(200));
  for (let i = 1; i <= 1000; i++) book.remember('bob@h', `b${i}`, k(i % 200));
  assert.equal(book.size, 1 + MAX_IDENTITIES_PER_NAME);
  assert.equal(book.names, 2);
  // The newest incarnations keep their keys; the one before them is forgotten.
  for (let i = 1000 - MAX_IDENTITIES_PER_NAME + 1; i <= 1000; i++) assert.equal(book.check('bob@h', `b${i}`, k(250)), 'conflict', `b${i}`);
  assert.equal(book.check('bob@h', `b${1000 - MAX_IDENTITIES_PER_NAME}`, k(250)), 'new');
  // Other names are untouched by one name's restarts.
  assert.equal(book.check('alice@h', 'a0', k(250)), 'conflict');
});

test('a long-lived incarnation seen again is the newest of its name and stays', () => {
  const book = new IdentityBook(4096, 2);
  book.remember('bob@h', 'live', k(1));
  book.remember('bob@h', 'x1', k(2));
  book.remember('bob@h', 'live', k(1)); // seen again (a reconnect)
  book.remember('bob@h', 'x2', k(3));
  assert.equal(book.check('bob@h', 'live', k(9)), 'conflict');
  assert.equal(book.check('bob@h', 'x1', k(9)), 'new');
  assert.equal(book.size, 2);
});
