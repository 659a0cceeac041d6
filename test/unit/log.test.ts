// Log: a peer-supplied string cannot forge a line or drive the terminal, in either format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../src/util/log.js';

function capture(format: 'pretty' | 'json'): { log: ReturnType<typeof createLogger>; lines: () => Promise<string[]> } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const log = createLogger({ format, stream, level: 'debug' });
  return { log, lines: async () => (await new Promise((r) => setImmediate(r)), text.split('\n').filter(Boolean)) };
}

const hostile = 'bye\n12:00:00.000 error forged: cookie=foo\x1b[2J\u202e';

for (const format of ['pretty', 'json'] as const) {
  test(`${format}: hostile message and meta stay on one line without control characters`, async () => {
    const { log, lines } = capture(format);
    log.warn(`peer refused the connection: ${hostile}`, { reason: hostile, peer: 'bob@host' });
    const out = await lines();
    assert.equal(out.length, 1, out.join('\n'));
    assert.ok(!/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/.test(out[0]!), out[0]);
    if (format === 'json') assert.equal((JSON.parse(out[0]!) as { peer: string }).peer, 'bob@host');
  });
}

test('pretty: an overlong peer string is cut', async () => {
  const { log, lines } = capture('pretty');
  log.info('x', { reason: 'y'.repeat(50_000) });
  const out = await lines();
  assert.ok(out[0]!.length < 2200, `${out[0]!.length}`);
});
