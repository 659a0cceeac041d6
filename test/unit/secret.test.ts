// Secret: the cookie never shows in a node's inspection, its config's JSON, or any
// enumerable property, before or after the node started and authenticated a peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { createNode, ManualClock, MemoryNetwork, seededRandom, staticDiscovery, testConfig } from '../../src/index.js';
import { Secret } from '../../src/util/secret.js';

const COOKIE = 'hunter2-cookie-value';

/** Every string reachable through enumerable own properties (cycles skipped). */
function enumerableStrings(root: unknown): string[] {
  const seen = new Set<unknown>();
  const out: string[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (typeof v === 'string') out.push(v);
    if (typeof v !== 'object' || v === null || seen.has(v) || depth > 12) return;
    seen.add(v);
    if (v instanceof Map) for (const [k, x] of v) (walk(k, depth + 1), walk(x, depth + 1));
    else if (v instanceof Set) for (const x of v) walk(x, depth + 1);
    else for (const k of Object.keys(v)) walk((v as Record<string, unknown>)[k], depth + 1);
  };
  walk(root, 0);
  return out;
}

test('a Secret shows as [redacted] in String(), JSON, util.inspect and template literals, and only reveal() gives the value', () => {
  const s = new Secret(COOKIE);
  assert.equal(String(s), '[redacted]');
  assert.equal(`${s}`, '[redacted]');
  assert.equal(JSON.stringify({ s }), '{"s":"[redacted]"}');
  assert.equal(inspect(s, { showHidden: true, depth: 10 }), '[redacted]');
  assert.deepEqual(Object.keys(s), []);
  assert.equal(s.reveal(), COOKIE);
  assert.equal(s.bytes().toString('utf8'), COOKIE);
});

test('the cookie is not in util.inspect(node), JSON.stringify(node.config) or any enumerable property, before and after start', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const mk = (i: number) =>
    createNode({
      name: `n${i}@sim`,
      cookie: COOKIE,
      host: `10.0.0.${i}`,
      network: net.host(`10.0.0.${i}`),
      discovery: i === 1 ? [] : [staticDiscovery([{ host: '10.0.0.1', port: 20000 }])],
      clock,
      random: seededRandom(i),
      ...testConfig(),
    });
  const a = mk(1);
  const b = mk(2);
  const check = (when: string): void => {
    for (const node of [a, b]) {
      const view = inspect(node, { depth: 10, showHidden: true });
      assert.ok(!view.includes(COOKIE), `${when}: util.inspect shows the cookie`);
      assert.ok(!JSON.stringify(node.config).includes(COOKIE), `${when}: JSON shows the cookie`);
      assert.ok(!enumerableStrings(node).some((s) => s.includes(COOKIE)), `${when}: an enumerable property holds the cookie`);
    }
  };
  check('before start');
  try {
    await a.start();
    await b.start();
    for (let i = 0; i < 100 && a.members().length === 0; i++) {
      clock.advance(10);
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(a.members(), ['n2@sim']);
    check('with a connected peer');
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});
