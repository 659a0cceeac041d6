// Transport: the narrow byte-stream port between the node and the network. tcp.ts
// implements it over node:net; memory.ts (for simulations) in one process. Nothing
// above this file knows about sockets. Callbacks never throw into the transport.

/** One bidirectional byte stream to a peer. */
export interface Stream {
  /** The peer's address as seen by us (IPv4 dotted quad for TCP). */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Queue bytes for sending; ignored after close. */
  write(data: Uint8Array): void;
  /** Close the stream (flushes queued bytes first); idempotent. */
  close(): void;
  /** Called with each chunk of bytes as it arrives. */
  onData(cb: (chunk: Buffer) => void): void;
  /** Called once when the stream is closed by either side or fails. */
  onClose(cb: (err?: Error) => void): void;
}

/** A listening endpoint. */
export interface Listener {
  readonly address: string;
  /** The port actually bound (useful when 0 was asked for). */
  readonly port: number;
  close(): Promise<void>;
}

/** A network: listen for and dial byte streams. */
export interface Network {
  /** Listen on host:port (port 0 = any free port). Rejects with ERR_LISTEN naming the address. */
  listen(host: string, port: number, onStream: (stream: Stream) => void): Promise<Listener>;
  /** Connect to host:port; rejects after timeoutMs or on failure. */
  dial(host: string, port: number, timeoutMs: number): Promise<Stream>;
}
