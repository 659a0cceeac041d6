import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CandidateTable, candidateName } from '../../src/mesh/candidates.js';

test('upsertDiscovered: added, unchanged, moved (address or port), name kept when the refresh has none', () => {
  const t = new CandidateTable();
  const steps: [string | undefined, string[], number, string][] = [
    ['bob@h', ['10.0.0.2'], 4000, 'added'],
    ['bob@h', ['10.0.0.2'], 4000, 'unchanged'],
    [undefined, ['10.0.0.2'], 4000, 'unchanged'],
    ['bob@h', ['10.0.0.2'], 4001, 'moved'],
    ['bob@h', ['10.0.0.3'], 4001, 'moved'],
  ];
  for (const [name, addrs, port, want] of steps) assert.equal(t.upsertDiscovered('mdns:bob', 'mdns', name, addrs, port).result, want, `${name} ${addrs} ${port}`);
  const c = t.get('mdns:bob')!;
  assert.equal(candidateName(c), 'bob@h');
  assert.deepEqual([c.addresses, c.port], [['10.0.0.3'], 4001]);
});

test('a seed learns its name; an advertised name wins over a learned one', () => {
  const t = new CandidateTable();
  const seed = t.upsertDiscovered('seed:10.0.0.2:4000', 'seed', undefined, ['10.0.0.2'], 4000).candidate!;
  assert.equal(candidateName(seed), undefined);
  seed.learnedName = 'bob@h';
  assert.equal(candidateName(seed), 'bob@h');
  assert.deepEqual(t.named('bob@h').map((c) => c.key), ['seed:10.0.0.2:4000']);
  const m = t.upsertDiscovered('mdns:x', 'mdns', 'carol@h', ['10.0.0.3'], 4000).candidate!;
  m.learnedName = 'mallory@h';
  assert.equal(candidateName(m), 'carol@h');
});

test('unnamedAt: only unnamed candidates at that address and port', () => {
  const t = new CandidateTable();
  t.upsertDiscovered('seed:a', 'seed', undefined, ['10.0.0.2', '10.0.1.2'], 4000);
  t.upsertDiscovered('seed:b', 'seed', undefined, ['10.0.0.2'], 4001);
  t.upsertDiscovered('mdns:c', 'mdns', 'c@h', ['10.0.0.2'], 4000);
  assert.deepEqual(t.unnamedAt('10.0.1.2', 4000).map((c) => c.key), ['seed:a']);
  assert.deepEqual(t.unnamedAt('10.0.0.2', 4000).map((c) => c.key), ['seed:a']);
});

test('discovery cap: new candidates refused when full, existing ones still refreshed, room again after a removal', () => {
  const t = new CandidateTable({ discovery: 3, gossip: 10, gossipPerMember: 10 });
  for (let i = 0; i < 3; i++) assert.equal(t.upsertDiscovered(`mdns:${i}`, 'mdns', undefined, ['10.0.0.9'], 4000 + i).result, 'added');
  assert.equal(t.upsertDiscovered('mdns:3', 'mdns', undefined, ['10.0.0.9'], 5000).result, 'refused-full');
  assert.equal(t.upsertDiscovered('mdns:0', 'mdns', undefined, ['10.0.0.9'], 4999).result, 'moved');
  t.remove('mdns:1');
  assert.equal(t.upsertDiscovered('mdns:3', 'mdns', undefined, ['10.0.0.9'], 5000).result, 'added');
  assert.equal(t.size, 3);
});

test('gossip caps: per gossiping member and in total; gossip does not use discovery room', () => {
  const t = new CandidateTable({ discovery: 1, gossip: 5, gossipPerMember: 3 });
  const results = (from: string, n: number, base: number): string[] => Array.from({ length: n }, (_, i) => t.upsertGossip(from, `n${base + i}@h`, '10.0.0.9', 4000).result);
  assert.deepEqual(results('bob@h', 4, 0), ['added', 'added', 'added', 'refused-full']);
  assert.deepEqual(results('carol@h', 3, 10), ['added', 'added', 'refused-full']);
  assert.equal(t.gossipedBy('bob@h'), 3);
  assert.equal(t.upsertDiscovered('mdns:x', 'mdns', 'x@h', ['10.0.0.1'], 1).result, 'added');
  // carol vouching for one bob already gossiped costs carol a slot, not the total ...
  assert.equal(t.upsertGossip('carol@h', 'n0@h', '10.0.0.9', 4000).result, 'unchanged');
  assert.equal(t.gossipedBy('carol@h'), 3);
  // ... and now carol is at her cap.
  assert.equal(t.upsertGossip('carol@h', 'n1@h', '10.0.0.9', 4000).result, 'refused-full');
});

test('gossiperGone: a gossip candidate goes when the last member vouching for it goes', () => {
  const t = new CandidateTable();
  t.upsertGossip('bob@h', 'dave@h', '10.0.0.4', 4000);
  t.upsertGossip('carol@h', 'dave@h', '10.0.0.4', 4000);
  t.upsertGossip('bob@h', 'erin@h', '10.0.0.5', 4000);
  assert.deepEqual(t.gossiperGone('bob@h').map((c) => c.key), ['gossip:erin@h']);
  assert.deepEqual(t.gossiperGone('carol@h').map((c) => c.key), ['gossip:dave@h']);
  for (const k of ['gossip:erin@h', 'gossip:dave@h']) t.remove(k);
  assert.equal(t.size, 0);
  assert.equal(t.gossipedBy('bob@h'), 0);
});
