// Config tests: the cluster label option (NodeOptions.cluster -> NodeConfig.cluster),
// its default and its validation with an ERR_CONFIG message that says what to fix.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config.js';
import type { NodeOptions } from '../../src/config.js';
import { isClusterError } from '../../src/errors.js';

const base: NodeOptions = { name: 'alice@host', cookie: 'secret' };

test("the cluster label defaults to 'default' and is kept as given", () => {
  assert.equal(resolveConfig(base).cluster, 'default');
  for (const label of ['lab-2', 'A_b', 'x'.repeat(63)]) assert.equal(resolveConfig({ ...base, cluster: label }).cluster, label);
});

test('a bad cluster label is ERR_CONFIG naming the rule, with hostile text escaped and capped', () => {
  const bad: [string, unknown][] = [
    ['empty', ''],
    ['64 characters', 'x'.repeat(64)],
    ['a dot', 'lab.2'],
    ['a space', 'lab 2'],
    ['non-ASCII', 'läb'],
    ['an ANSI escape', 'lab\u001b[2J'],
    ['a newline (a forged log line)', 'lab\nERROR fake'],
    ['not a string', 42],
    ['huge', 'x'.repeat(100_000)],
  ];
  for (const [what, cluster] of bad) {
    let caught: unknown;
    try {
      resolveConfig({ ...base, cluster: cluster as string });
    } catch (err) {
      caught = err;
    }
    assert.ok(isClusterError(caught, 'ERR_CONFIG'), `${what}: ERR_CONFIG`);
    const message = (caught as Error).message;
    assert.match(message, /cluster label .*must be 1 to 63 characters of letters, digits, '_' and '-'/, what);
    assert.ok(message.length < 300, `${what}: message capped (${message.length} chars)`);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(message, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/, `${what}: no control characters in the message`);
  }
});
