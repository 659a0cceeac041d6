// Singleton: the seed's demo worker. While this node holds the global name
// `Singleton`, it prints "I am singleton, hear me roar" to stdout every second — and,
// as a fenced worker should, checks that its tenure is still valid before each roar.

import type { SingletonStart } from './supervisor.js';

/** The name the demo Singleton registers. */
export const SINGLETON_NAME = 'Singleton';

/** The line the demo Singleton prints. */
export const ROAR = 'I am singleton, hear me roar';

/** The demo Singleton's start function: roar now and every intervalMs until stopped; in failover mode announce the tenure's epoch first. */
export function roaringSingleton(write: (line: string) => void, intervalMs = 1000, showEpoch = false): SingletonStart {
  return (ctx) => {
    if (showEpoch) write(`Singleton tenure started on ${ctx.node}, epoch ${ctx.epoch}\n`);
    const roar = (): void => {
      if (ctx.isValid()) write(ROAR + '\n');
    };
    roar();
    const timer = setInterval(roar, intervalMs);
    return () => clearInterval(timer);
  };
}
