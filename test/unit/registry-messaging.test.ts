// Name messaging (src/registry/messaging.ts) on the wire side: a 'msg' is delivered only
// on the holder (this incarnation), anything else is answered ERR_NOT_HOLDER; a 'reply'
// settles the call it answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NameMessaging } from '../../src/registry/messaging.js';
import type { RegistryMessage } from '../../src/registry/messages.js';
import type { Claim } from '../../src/registry/registry.js';
import { ManualClock } from '../../src/util/clock.js';

const A = 'alice@h';
const M = 'mallory@h';

function messaging(holders: Record<string, Claim>) {
  const sent: { to: string; msg: RegistryMessage }[] = [];
  const m = new NameMessaging({
    self: A,
    inc: 'aa',
    clock: new ManualClock(),
    whereis: (n) => holders[n],
    sendTo: (to, msg) => {
      sent.push({ to, msg });
      return true;
    },
  });
  return { m, sent };
}

const claim = (name: string, owner: string, incarnation: string): Claim => ({ name, owner, incarnation, stamp: [1, 0], version: 1 });
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a msg is delivered only where this incarnation holds the name', async () => {
  const cases: [string, Claim | undefined, boolean][] = [
    ['held here', claim('x', A, 'aa'), true],
    ['held by an earlier boot of this node', claim('x', A, 'a0'), false],
    ['held by another node', claim('x', M, 'bb'), false],
    ['not held', undefined, false],
  ];
  for (const [what, holder, delivered] of cases) {
    const { m, sent } = messaging(holder ? { x: holder } : {});
    const got: unknown[] = [];
    m.setHandler('x', (body) => {
      got.push(body);
      return 'pong';
    });
    m.receive(M, { k: 'msg', name: 'x', body: 'ping', id: 4 });
    await flush();
    assert.deepEqual(got, delivered ? ['ping'] : [], what);
    const reply = sent.find((s) => s.msg.k === 'reply')?.msg;
    if (delivered) assert.deepEqual(reply, { k: 'reply', id: 4, ok: true, body: 'pong' }, what);
    else assert.deepEqual(reply, { k: 'reply', id: 4, ok: false, body: { code: 'ERR_NOT_HOLDER', message: `${A} does not hold x` } }, what);
  }
});

test('a msg without an id gets no reply; a reply settles the call it answers', async () => {
  const { m, sent } = messaging({ x: claim('x', M, 'bb') });
  m.receive(M, { k: 'msg', name: 'y', body: 1 });
  assert.equal(sent.length, 0);
  const call = m.call('x', 'q');
  const id = (sent.at(-1)!.msg as { id: number }).id;
  m.receive(M, { k: 'reply', id: id + 1, ok: true, body: 'not this one' });
  m.receive(M, { k: 'reply', id, ok: true, body: 'a' });
  assert.equal(await call, 'a');
});
