// Singleton: the seed's demo worker. While this node holds the global name
// `Singleton`, it prints "I am singleton, hear me roar" to stdout every second.

/** The name the demo Singleton registers. */
export const SINGLETON_NAME = 'Singleton';

/** The line the demo Singleton prints. */
export const ROAR = 'I am singleton, hear me roar';

/** The demo Singleton's start function: roar now and every intervalMs until stopped. */
export function roaringSingleton(write: (line: string) => void, intervalMs = 1000): () => () => void {
  return () => {
    write(ROAR + '\n');
    const timer = setInterval(() => write(ROAR + '\n'), intervalMs);
    return () => clearInterval(timer);
  };
}
