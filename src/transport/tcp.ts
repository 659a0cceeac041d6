// TCP: the Network port over node:net (the only importer of node:net). Sockets get
// no-delay and keep-alive; every socket error becomes a close with a cause.
import * as net from 'node:net';
import { ClusterError } from '../errors.js';
import type { Listener, Network, Stream } from './transport.js';

function wrapSocket(socket: net.Socket): Stream {
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 10_000);
  let closed = false;
  let lastError: Error | undefined;
  const closeHandlers: ((err?: Error) => void)[] = [];
  socket.on('error', (err) => {
    lastError = err;
  });
  socket.on('close', () => {
    closed = true;
    for (const h of closeHandlers.splice(0)) h(lastError);
  });
  return {
    remoteAddress: normaliseAddress(socket.remoteAddress ?? ''),
    remotePort: socket.remotePort ?? 0,
    write(data) {
      if (!closed && !socket.destroyed && socket.writable) socket.write(data);
    },
    close() {
      if (closed || socket.destroyed) return;
      socket.end();
      // Read (and drop) until the peer's FIN, so the socket closes even when no one ever
      // read it (a connection refused on arrival): unread, it would hold its server's
      // close() open with nothing to keep the process alive.
      socket.resume();
      // Do not wait forever for a peer that stopped reading.
      setTimeout(() => socket.destroy(), 1000).unref();
    },
    onData(cb) {
      socket.on('data', cb);
    },
    onClose(cb) {
      if (closed) cb(lastError);
      else closeHandlers.push(cb);
    },
  };
}

/** '::ffff:10.0.0.1' -> '10.0.0.1'. */
function normaliseAddress(addr: string): string {
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

/** The real network. */
export const tcpNetwork: Network = {
  listen(host, port, onStream) {
    return new Promise<Listener>((resolve, reject) => {
      const server = net.createServer((socket) => onStream(wrapSocket(socket)));
      const onError = (err: NodeJS.ErrnoException): void => {
        const why = err.code === 'EADDRINUSE' ? 'the port is already in use' : err.code === 'EADDRNOTAVAIL' ? 'no local interface has that address' : err.message;
        reject(new ClusterError('ERR_LISTEN', `cannot listen on ${host}:${port}: ${why}`, { cause: err }));
      };
      server.once('error', onError);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', onError);
        server.on('error', () => {});
        const addr = server.address() as net.AddressInfo;
        resolve({
          address: normaliseAddress(addr.address),
          port: addr.port,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done());
            }),
        });
      });
    });
  },

  dial(host, port, timeoutMs) {
    return new Promise<Stream>((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ClusterError('ERR_CONNECTION_CLOSED', `connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      socket.once('error', (err) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new ClusterError('ERR_CONNECTION_CLOSED', `cannot connect to ${host}:${port}: ${err.message}`, { cause: err }));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(wrapSocket(socket));
      });
    });
  },
};
