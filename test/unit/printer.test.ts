// Printer: prints at start, every interval, and at once (coalesced) when the member
// list changes; nothing extra for a change that leaves the printed list as it was.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { CHANGE_COALESCE_MS, formatMembers, startPrinter } from '../../src/cli/printer.js';

class FakeNode extends EventEmitter {
  list: string[] = [];
  members(): string[] {
    return this.list;
  }
  set(list: string[], event: 'nodeup' | 'nodedown'): void {
    this.list = list;
    this.emit(event);
  }
}

test('formatMembers sorts and brackets', () => {
  assert.equal(formatMembers([]), '[]');
  assert.equal(formatMembers(['carol@h', 'alice@h']), '[alice@h, carol@h]');
});

test('prints at start, at once on a change (bursts coalesced), and every interval', () => {
  mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  try {
    const node = new FakeNode();
    const lines: string[] = [];
    const stop = startPrinter(node, (l) => lines.push(l.trimEnd()), 1000);
    assert.deepEqual(lines, ['[]'], 'a line at start, not a second later');
    mock.timers.tick(200);
    node.set(['bob@h'], 'nodeup');
    node.set(['bob@h', 'carol@h'], 'nodeup'); // a burst: one line
    mock.timers.tick(CHANGE_COALESCE_MS);
    assert.deepEqual(lines, ['[]', '[bob@h, carol@h]']);
    mock.timers.tick(1000 - 200 - CHANGE_COALESCE_MS);
    assert.deepEqual(lines, ['[]', '[bob@h, carol@h]', '[bob@h, carol@h]'], 'the 1 s tick goes on');
    // A down and up that cancel out within the window print nothing extra.
    node.set(['carol@h'], 'nodedown');
    node.set(['bob@h', 'carol@h'], 'nodeup');
    mock.timers.tick(CHANGE_COALESCE_MS);
    assert.equal(lines.length, 3);
    stop();
    node.set([], 'nodedown');
    mock.timers.tick(5000);
    assert.equal(lines.length, 3, 'nothing after stop');
    assert.equal(node.listenerCount('nodeup') + node.listenerCount('nodedown'), 0, 'listeners removed');
  } finally {
    mock.timers.reset();
  }
});

test('a tick when nothing changed reuses the printed line (the list is not read again); a change is read once', () => {
  mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  try {
    const node = new FakeNode();
    let reads = 0;
    node.members = function (this: FakeNode): string[] {
      reads++;
      return this.list;
    };
    node.list = ['bob@h'];
    const lines: string[] = [];
    const stop = startPrinter(node, (l) => lines.push(l.trimEnd()), 1000);
    mock.timers.tick(10_000);
    assert.equal(lines.length, 11);
    assert.ok(lines.every((l) => l === '[bob@h]'));
    assert.equal(reads, 1, 'read at start only');
    node.set(['bob@h', 'carol@h'], 'nodeup');
    mock.timers.tick(1000);
    assert.equal(lines.at(-1), '[bob@h, carol@h]');
    const after = reads;
    mock.timers.tick(5000);
    assert.equal(reads, after, 'not read again while nothing changes');
    stop();
  } finally {
    mock.timers.reset();
  }
});

test('without change events every tick reads the list', () => {
  mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  try {
    let list = ['a@h'];
    const lines: string[] = [];
    const stop = startPrinter({ members: () => list }, (l) => lines.push(l.trimEnd()), 1000);
    list = ['a@h', 'b@h'];
    mock.timers.tick(1000);
    assert.deepEqual(lines, ['[a@h]', '[a@h, b@h]']);
    stop();
  } finally {
    mock.timers.reset();
  }
});
