import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdentityBook } from '../../src/mesh/identities.js';

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
