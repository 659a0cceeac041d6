import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '../../src/wire/codec.js';
import { describeValue } from '../../src/util/untrusted.js';
import { parseHandshake, parseSession, PROTOCOL_VERSION } from '../../src/wire/messages.js';
import { isClusterError } from '../../src/errors.js';

const hello = { t: 'hello', v: PROTOCOL_VERSION, name: 'alice@host', inc: 'ab12', nonce: new Uint8Array(32).fill(1), port: 4000, up: 12, key: new Uint8Array(32).fill(3), hidden: false, share: new Uint8Array(32).fill(2) };

test('codec round-trips messages, including byte strings', () => {
  const back = decode(encode(hello)) as Record<string, unknown>;
  assert.equal(back.name, 'alice@host');
  assert.ok(back.nonce instanceof Uint8Array);
  assert.deepEqual(parseHandshake(back), hello);
});

test('codec rejects garbage with ERR_BAD_FRAME', () => {
  for (const bad of [Buffer.from([0xdc, 0xff]), Buffer.from([0x92, 0x01]), Buffer.from([0xd9])]) {
    assert.throws(() => decode(bad), (e: unknown) => isClusterError(e, 'ERR_BAD_FRAME'), bad.toString('hex'));
  }
});

const badHandshakes: [string, unknown][] = [
  ['not a map', [1, 2]],
  ['unknown type', { t: 'nope' }],
  ['bad name', { ...hello, name: 'no-at-sign' }],
  ['name with space', { ...hello, name: 'a b@host' }],
  ['short nonce', { ...hello, nonce: new Uint8Array(31) }],
  ['port too big', { ...hello, port: 70000 }],
  ['fractional port', { ...hello, port: 1.5 }],
  ['non-hex incarnation', { ...hello, inc: 'xyz' }],
  ['short share', { ...hello, share: new Uint8Array(31) }],
  ['long share', { ...hello, share: new Uint8Array(33) }],
  ['string share', { ...hello, share: 'x'.repeat(32) }],
  ['missing share', { ...hello, share: undefined }],
  ['short signing key', { ...hello, key: new Uint8Array(31) }],
  ['missing signing key', { ...hello, key: undefined }],
  ['hidden not a boolean', { ...hello, hidden: 1 }],
  ['missing hidden flag', { ...hello, hidden: undefined }],
  ['extra hello field', { ...hello, extra: 1 }],
  ['short mac', { t: 'confirm', mac: new Uint8Array(16) }],
  ['long mac', { t: 'confirm', mac: new Uint8Array(33) }],
  ['string mac', { t: 'confirm', mac: 'x'.repeat(32) }],
  ['extra confirm field', { t: 'confirm', mac: new Uint8Array(32), more: new Uint8Array(1000) }],
  ['the old auth message', { t: 'auth', mac: new Uint8Array(32) }],
  ['refuse without reason', { t: 'refuse', code: 'ERR_AUTH_FAILED' }],
  ['refuse with a long reason', { t: 'refuse', code: 'ERR_AUTH_FAILED', reason: 'x'.repeat(1025) }],
  ['null', null],
  ['a byte string', new Uint8Array(8)],
];
for (const [what, value] of badHandshakes) {
  test(`handshake validation rejects: ${what}`, () => {
    assert.throws(() => parseHandshake(value), (e: unknown) => isClusterError(e, 'ERR_PROTOCOL'));
  });
}

test('a hello of another version is parsed far enough to name its version', () => {
  const m = parseHandshake({ t: 'hello', v: 99, anything: 'else' });
  assert.equal(m.t, 'hello');
  assert.equal(m.t === 'hello' && m.v, 99);
});

test('handshake errors describe untrusted values by type and an escaped, cut excerpt, never raw', () => {
  const hostile = ['\u001b]0;pwned\u0007' + 'A'.repeat(10_000), { toString: () => 'BOOM', valueOf: () => 1 }, ['x'], new Uint8Array(3), 42];
  for (const t of hostile) {
    let message = '';
    try {
      parseHandshake({ t });
    } catch (e) {
      message = (e as Error).message;
    }
    assert.match(message, /unknown handshake message type/);
    assert.ok(!message.includes('\u001b') && !message.includes('BOOM') && message.length < 200, message);
  }
  assert.equal(describeValue('plain'), 'string "plain"');
  assert.equal(describeValue({ toString: () => 'BOOM' }), 'map');
  assert.equal(describeValue('\u202e'), 'string "\\u202e"');
});

const badSessions: [string, unknown][] = [
  ['negative seq', { t: 'ping', seq: -1 }],
  ['members not array', { t: 'members', members: 'x' }],
  ['member bad port', { t: 'members', members: [{ name: 'a@b', inc: 'ab', host: 'h', port: 0.5 }] }],
  ['too many members', { t: 'members', members: new Array(5000).fill({ name: 'a@b', inc: 'ab', host: 'h', port: 1 }) }],
  ['app without channel', { t: 'app', body: 1 }],
];
for (const [what, value] of badSessions) {
  test(`session validation rejects: ${what}`, () => {
    assert.throws(() => parseSession(value), (e: unknown) => isClusterError(e, 'ERR_PROTOCOL'));
  });
}
