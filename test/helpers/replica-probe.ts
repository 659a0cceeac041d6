// A lone Replica (src/replica.ts, the node's own wiring) on a ManualClock whose sends are
// recorded, with one connected member: for unit tests of the parts behind the router.
import { Replica } from '../../src/replica.js';
import type { ReplicaOptions } from '../../src/replica.js';
import type { RegistryMessage } from '../../src/registry/messages.js';
import { ManualClock } from '../../src/util/clock.js';
import { seededRandom } from '../../src/util/random.js';
import { SigningKey } from '../../src/util/signing.js';
import { recordingLogger } from './recording-logger.js';

/** This node, and the member it is connected to. */
export const A = 'alice@h';
export const M = 'mallory@h';

export interface Probe {
  replica: Replica;
  clock: ManualClock;
  logger: ReturnType<typeof recordingLogger>;
  /** Every message sent, in order. */
  sent: { to: string; msg: RegistryMessage }[];
  /** Warnings logged so far. */
  warns(): string[];
}

/** A started replica of A, with M up. failureTimeoutMs defaults to 600 (the test profile). */
export function replicaProbe(options: Partial<Omit<ReplicaOptions, 'self' | 'clock' | 'random' | 'logger' | 'send'>> = {}): Probe {
  const clock = new ManualClock();
  const logger = recordingLogger();
  const sent: { to: string; msg: RegistryMessage }[] = [];
  const replica = new Replica({
    self: { name: A, inc: 'aa' },
    signer: SigningKey.fromSeed(Buffer.alloc(32, 1)),
    clock,
    random: seededRandom(1),
    logger,
    send: (to, msg) => {
      sent.push({ to, msg });
      return true;
    },
    messaging: { receive() {} },
    failureTimeoutMs: 600,
    events: { registered() {}, lost() {}, freed() {} },
    ...options,
  });
  replica.nodeUp(M, 'bb', SigningKey.fromSeed(Buffer.alloc(32, 2)).publicKey);
  replica.start();
  return { replica, clock, logger, sent, warns: () => logger.lines.filter((x) => x.level === 'warn').map((x) => x.message) };
}
