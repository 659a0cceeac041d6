import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { epochFilePath, readEpochs, writeEpochs } from '../../src/util/state-file.js';

test('epochs round-trip through the state file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cn-state-'));
  const path = epochFilePath(join(dir, 'nested'), 'alice@host');
  writeEpochs(path, [['Singleton', 7], ['Billing', 2]]);
  assert.deepEqual(readEpochs(path).sort(), [['Billing', 2], ['Singleton', 7]]);
});

test('a missing, corrupt or hostile state file reads as empty or keeps only valid entries', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cn-state-'));
  assert.deepEqual(readEpochs(join(dir, 'missing.json')), []);
  const cases: [string, [string, number][]][] = [
    ['not json', []],
    ['[1,2]', []],
    ['null', []],
    ['{"a": 3, "b": -1, "c": 1.5, "d": "9", "e": 1e300}', [['a', 3]]],
  ];
  for (const [text, want] of cases) {
    const p = join(dir, 'x.json');
    writeFileSync(p, text);
    assert.deepEqual(readEpochs(p), want, text);
  }
});

test('the file name is derived from the node name and stays inside the directory', () => {
  assert.equal(epochFilePath('/d', 'alice@host'), '/d/alice@host.epochs.json');
  assert.equal(epochFilePath('/d', '../../etc/x'), '/d/.._.._etc_x.epochs.json');
});
