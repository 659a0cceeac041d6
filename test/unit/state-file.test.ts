import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as nodeFs from 'node:fs';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { epochFilePath, readEpochs, writeEpochs } from '../../src/util/state-file.js';
import type { StateFs } from '../../src/util/state-file.js';

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

/** A StateFs over node:fs that records each call, and can fail one of them. */
function recordingFs(failOn?: string): { fs: StateFs; calls: string[] } {
  const calls: string[] = [];
  const fds = new Map<number, string>();
  const rec = <A extends unknown[], R>(name: string, fn: (...a: A) => R, show: (...a: A) => string) => (...a: A): R => {
    calls.push(`${name} ${show(...a)}`);
    if (failOn === name) throw Object.assign(new Error(`${name} failed: EIO: i/o error`), { code: 'EIO' });
    return fn(...a);
  };
  const base = (p: string): string => p.split('/').pop()!.replace(/\.\d+\.tmp$/, '.tmp');
  const fs: StateFs = {
    mkdirSync: rec('mkdir', (p: string, o: { recursive: true }) => nodeFs.mkdirSync(p, o), (p) => base(p)),
    openSync: rec('open', (p: string, f: string, m?: number) => {
      const fd = nodeFs.openSync(p, f, m);
      fds.set(fd, base(p));
      return fd;
    }, (p, f) => `${base(p)} ${f}`),
    writeSync: rec('write', (fd: number, d: string) => nodeFs.writeSync(fd, d), (fd) => fds.get(fd)!),
    fsyncSync: rec('fsync', (fd: number) => nodeFs.fsyncSync(fd), (fd) => fds.get(fd)!),
    closeSync: rec('close', (fd: number) => nodeFs.closeSync(fd), (fd) => fds.get(fd)!),
    renameSync: rec('rename', (a: string, b: string) => nodeFs.renameSync(a, b), (a, b) => `${base(a)} ${base(b)}`),
    unlinkSync: rec('unlink', (p: string) => nodeFs.unlinkSync(p), (p) => base(p)),
  };
  return { fs, calls };
}

test('a save is durable: temporary file written and fsynced, renamed, then the directory fsynced', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'cn-state-')), 'd');
  const path = epochFilePath(dir, 'a@h');
  const { fs, calls } = recordingFs();
  writeEpochs(path, [['S', 3]], fs);
  assert.deepEqual(calls, [
    'mkdir d',
    'open a@h.epochs.json.tmp w',
    'write a@h.epochs.json.tmp',
    'fsync a@h.epochs.json.tmp',
    'close a@h.epochs.json.tmp',
    'rename a@h.epochs.json.tmp a@h.epochs.json',
    'open d r',
    'fsync d',
    'close d',
  ]);
  assert.deepEqual(readEpochs(path), [['S', 3]]);
});

test('a failing step throws the OS error, removes the temporary file and keeps the previous file', () => {
  for (const step of ['write', 'fsync', 'rename']) {
    const dir = mkdtempSync(join(tmpdir(), 'cn-state-'));
    const path = epochFilePath(dir, 'a@h');
    writeEpochs(path, [['S', 1]]);
    const { fs, calls } = recordingFs(step);
    assert.throws(() => writeEpochs(path, [['S', 2]], fs), /EIO/, step);
    assert.ok(calls.includes('unlink a@h.epochs.json.tmp'), `${step}: ${calls.join(', ')}`);
    assert.deepEqual(readdirSync(dir), ['a@h.epochs.json'], step);
    assert.deepEqual(readEpochs(path), [['S', 1]], step);
  }
});

test('a state directory that is a file, or cannot be created, throws with the OS error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cn-state-'));
  const file = join(dir, 'plain-file');
  writeFileSync(file, 'x');
  assert.throws(() => writeEpochs(epochFilePath(file, 'a@h'), [['S', 1]]), (e: NodeJS.ErrnoException) => e.code === 'EEXIST' || e.code === 'ENOTDIR');
  assert.throws(() => writeEpochs(epochFilePath(join(file, 'sub'), 'a@h'), [['S', 1]]), (e: NodeJS.ErrnoException) => e.code === 'EEXIST' || e.code === 'ENOTDIR');
});
