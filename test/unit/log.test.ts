// Log: a peer-supplied string cannot forge a line or drive the terminal, in either format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { createLogger, logfmtValue } from '../../src/util/log.js';

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

test('pretty lines are logfmt: values with spaces, quotes, = or backslashes are quoted', () => {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const log = createLogger({ stream, format: 'pretty' });
  log.info('handshake failed', { addr: '10.0.0.5:4370', error: 'connect ECONNREFUSED 10.0.0.5:4370', q: 'say "hi"', eq: 'a=b', empty: '', n: 3 });
  const line = lines.join('');
  assert.match(line, / addr=10\.0\.0\.5:4370 error="connect ECONNREFUSED 10\.0\.0\.5:4370" q="say \\"hi\\"" eq="a=b" empty="" n=3\n$/);
  assert.equal(logfmtValue('plain'), 'plain');
  assert.equal(logfmtValue('a\\b'), '"a\\\\b"');
});

test('a node names itself on every line (field node), whatever logged it', async () => {
  const { createNode } = await import('../../src/index.js');
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  // A seed nobody listens on: the mesh warns about it, so lines come from more than one part.
  const node = createNode({ name: 'alice@h', cookie: 'c', host: '127.0.0.1', mdns: false, seeds: ['127.0.0.1:1'], logger: createLogger({ stream, format: 'json', level: 'debug' }) });
  await node.start();
  for (let i = 0; i < 100 && !lines.some((l) => l.includes('cannot reach seed')); i++) await new Promise((r) => setTimeout(r, 20));
  await node.stop();
  await new Promise((r) => setTimeout(r, 20));
  const seedWarn = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'cannot reach seed');
  assert.equal(seedWarn?.level, 'warn', lines.join(''));
  assert.equal(seedWarn?.addr, '127.0.0.1:1');
  for (const l of lines) assert.equal((JSON.parse(l) as { node?: string }).node, 'alice@h', l);
});

test('a line below the level is dropped before any formatting; at its level it is written, children included', async () => {
  for (const [level, written] of [['info', false], ['debug', true]] as const) {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
    const log = createLogger({ format: 'json', stream, level });
    let reads = 0;
    const meta = {
      get peer(): string {
        reads++;
        return 'bob@host';
      },
    };
    log.debug('detail', meta);
    log.child({ component: 'mdns' }).debug('more detail', meta);
    await new Promise((r) => setImmediate(r));
    assert.equal(text.includes('detail'), written, `level ${level}: ${text}`);
    assert.equal(reads > 0, written, `level ${level}: meta read ${reads} times`);
  }
});
