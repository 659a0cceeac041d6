// Fuzz of the handshake state machine (fast-check, seeded): random sequences of
// honest, replayed, mutated and random handshake messages, fed to both roles through
// the same parse path a connection uses (msgpack decode -> parseHandshake ->
// Handshake.receive). Properties: nothing throws out of the state machine (parsing
// throws only ClusterError), every step is fast, a finished side answers nothing
// more, and a side whose cookie no message was made with never opens.
// The seed is fixed (printed); another: FUZZ_SEED=<seed>. More runs: FUZZ_RUNS=<n>.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Handshake } from '../../src/transport/handshake.js';
import type { HandshakeStep } from '../../src/transport/handshake.js';
import type { Role } from '../../src/transport/session-crypto.js';
import { decode, encode } from '../../src/wire/codec.js';
import { parseHandshake, PROTOCOL_VERSION } from '../../src/wire/messages.js';
import type { HandshakeMessage, Hello } from '../../src/wire/messages.js';
import { seededRandom } from '../../src/util/random.js';
import { Secret } from '../../src/util/secret.js';
import { ClusterError } from '../../src/errors.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_201);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
/** Ceiling for one parse + receive step, in ms; generous for a loaded 2-core CI machine. */
const STEP_LIMIT_MS = Number(process.env.FUZZ_STEP_LIMIT_MS ?? 250);

const COOKIE = new Secret('fuzz-cookie');
const OTHER = new Secret('another-cookie');

function hello(name: string): Hello {
  return { t: 'hello', v: PROTOCOL_VERSION, name, inc: 'a1b2c3', nonce: randomBytes(32), port: 4000, up: 7, key: randomBytes(32), hidden: false };
}

/** Honest messages of a few real sessions, to replay and mutate. */
function recordPool(): Record<string, unknown>[] {
  const pool: Record<string, unknown>[] = [];
  for (const [dc, lc] of [
    [COOKIE, COOKIE],
    [COOKIE, OTHER],
  ] as const) {
    const d = new Handshake({ role: 'dialer', cookie: dc, hello: hello('alice@h'), random: seededRandom(1) });
    const l = new Handshake({ role: 'listener', cookie: lc, hello: hello('bob@h'), random: seededRandom(2) });
    const dh = d.start().send!;
    l.start();
    const lh = l.receive(dh).send!;
    const dcf = d.receive(lh).send!;
    const lcf = l.receive(dcf).send!;
    pool.push(dh as unknown as Record<string, unknown>, lh as unknown as Record<string, unknown>, dcf as unknown as Record<string, unknown>, lcf as unknown as Record<string, unknown>);
  }
  pool.push({ t: 'hello', v: PROTOCOL_VERSION + 1, name: 'x@y' }, { t: 'refuse', code: 'ERR_AUTH_FAILED', reason: 'no' }, { t: 'refuse', code: 'WHATEVER', reason: 'x' });
  return pool;
}
const POOL = recordPool();

type Source = { k: 'pool'; i: number } | { k: 'live' };
type Mutation =
  | { k: 'none' }
  | { k: 'flip'; field: string; at: number }
  | { k: 'set'; field: string; value: unknown }
  | { k: 'drop'; field: string };
type Input = { k: 'msg'; to: Role; src: Source; mut: Mutation } | { k: 'bytes'; to: Role; bytes: Uint8Array } | { k: 'value'; to: Role; value: unknown };

const FIELDS = ['t', 'v', 'name', 'inc', 'nonce', 'port', 'up', 'share', 'mac', 'code', 'reason', 'extra'];
const role = fc.constantFrom<Role>('dialer', 'listener');
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Mutation>({ k: 'none' }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('flip' as const), field: fc.constantFrom('share', 'mac', 'nonce'), at: fc.nat(31) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('set' as const),
      field: fc.constantFrom(...FIELDS),
      value: fc.oneof(fc.anything({ maxDepth: 2 }), fc.uint8Array({ maxLength: 40 }), fc.constantFrom(new Uint8Array(32), new Uint8Array(32).fill(0xff), PROTOCOL_VERSION, 'confirm', 'hello', 'refuse')),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('drop' as const), field: fc.constantFrom(...FIELDS) }) },
);
const input: fc.Arbitrary<Input> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('msg' as const), to: role, src: fc.oneof(fc.record({ k: fc.constant('pool' as const), i: fc.nat(POOL.length - 1) }), fc.constant<Source>({ k: 'live' })), mut: mutation }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('bytes' as const), to: role, bytes: fc.uint8Array({ maxLength: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('value' as const), to: role, value: fc.anything({ maxDepth: 3 }) }) },
);
const scenario = fc.record({ listenerCookieOther: fc.boolean(), steps: fc.array(input, { minLength: 1, maxLength: 10 }) });

function mutate(m: Record<string, unknown>, mut: Mutation): Record<string, unknown> {
  const c: Record<string, unknown> = { ...m };
  if (mut.k === 'flip' && c[mut.field] instanceof Uint8Array) {
    const b = new Uint8Array(c[mut.field] as Uint8Array);
    if (b.length) b[mut.at % b.length]! ^= 1 << mut.at % 8;
    c[mut.field] = b;
  } else if (mut.k === 'set') c[mut.field] = mut.value;
  else if (mut.k === 'drop') delete c[mut.field];
  return c;
}

test(`handshake fuzz: random and mutated messages never throw out of the state machine, and each step is fast (seed ${SEED}, ${RUNS} runs)`, (t) => {
  t.diagnostic(`handshake fuzz seed=${SEED} runs=${RUNS}; replay with FUZZ_SEED=${SEED}`);
  const times: number[] = [];
  const details = fc.check(
    fc.property(scenario, ({ listenerCookieOther, steps }) => {
      const sides: Record<Role, Handshake> = {
        dialer: new Handshake({ role: 'dialer', cookie: COOKIE, hello: hello('alice@h'), random: seededRandom(3) }),
        listener: new Handshake({ role: 'listener', cookie: listenerCookieOther ? OTHER : COOKIE, hello: hello('bob@h'), random: seededRandom(4) }),
      };
      const last: Record<Role, Record<string, unknown> | undefined> = { dialer: undefined, listener: undefined };
      const record = (from: Role, step: HandshakeStep): void => {
        if (step.send) last[from] = step.send as unknown as Record<string, unknown>;
        if (step.fail) assert.ok(step.fail instanceof ClusterError, 'a failure is a ClusterError');
        if (step.done && from === 'listener' && listenerCookieOther) assert.fail('a listener with another cookie opened');
      };
      record('dialer', sides.dialer.start());
      record('listener', sides.listener.start());
      for (const s of steps) {
        const h = sides[s.to];
        const other: Role = s.to === 'dialer' ? 'listener' : 'dialer';
        const wasFinished = h.phase === 'done' || h.phase === 'failed';
        const t0 = performance.now();
        let msg: HandshakeMessage;
        try {
          if (s.k === 'bytes') msg = parseHandshake(decode(Buffer.from(s.bytes)));
          else if (s.k === 'value') msg = parseHandshake(decode(encode(s.value)));
          else {
            const base = s.src.k === 'pool' ? POOL[s.src.i]! : (last[other] ?? POOL[0]!);
            msg = parseHandshake(decode(encode(mutate(base, s.mut))));
          }
        } catch (err) {
          // The connection closes on this; the state machine never sees it.
          assert.ok(err instanceof ClusterError, `parsing threw a non-ClusterError: ${String(err)}`);
          times.push(performance.now() - t0);
          continue;
        }
        const step = h.receive(msg); // must not throw
        const ms = performance.now() - t0;
        times.push(ms);
        assert.ok(ms < STEP_LIMIT_MS, `a step took ${ms.toFixed(1)} ms`);
        if (wasFinished) assert.equal(step.send, undefined, 'a finished side sent something');
        record(s.to, step);
      }
    }),
    { seed: SEED, numRuns: RUNS },
  );
  if (details.failed) {
    assert.fail(
      `handshake fuzz failed; replay with FUZZ_SEED=${details.seed} (path ${details.counterexamplePath})\n` +
        `counterexample: ${fc.stringify(details.counterexample).slice(0, 2000)}\n` +
        `${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`,
    );
  }
  times.sort((a, b) => a - b);
  const q = (p: number): string => (times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0).toFixed(2);
  t.diagnostic(`steps=${times.length} p50=${q(0.5)} ms p99=${q(0.99)} ms max=${q(1)} ms`);
});
