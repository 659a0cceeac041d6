// Codec: msgpack encoding of message objects (the only importer of msgpackr).
// Only plain data crosses the wire: no extension type of any kind (no structured-clone
// references, records, Dates, Sets, or msgpackr's undefined), string or integer map
// keys, nesting at most DEFAULT_MAX_DEPTH deep and at most DEFAULT_MAX_ITEMS values
// per message. decode() proves that with a linear scan (msgpack-scan.ts) before
// msgpackr builds anything, so hostile bytes cost at most linear time and memory;
// encode() checks its own output the same way, so what we send a peer accepts.
// Invariants: decode() returns a plain value or throws ERR_BAD_FRAME and never trusts
// the result's shape (see messages.ts for validation); encode() returns bytes that
// decode() accepts or throws ERR_BAD_MESSAGE.
import { Packr, Unpackr } from 'msgpackr';
import type { Options } from 'msgpackr';
import { ClusterError } from '../errors.js';
import { scanMsgpack, ScanError } from './msgpack-scan.js';

// Undefined object properties are left out and undefined array elements become nil,
// so msgpackr never writes its undefined extension.
// (skipValues is a msgpackr option missing from its type declarations.)
const packOptions: Options & { skipValues: unknown[] } = {
  useRecords: false,
  moreTypes: false,
  bundleStrings: false,
  structuredClone: false,
  skipValues: [undefined],
  encodeUndefinedAsNil: true,
};
const packr = new Packr(packOptions);
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, structuredClone: false });

/**
 * Encode a plain value: objects, arrays, strings, numbers, booleans, null and
 * Uint8Array (undefined properties are left out). Throws ClusterError ERR_BAD_MESSAGE
 * for anything a peer would refuse: a Date, Map key of another type, Set, BigInt
 * above 64 bits, nesting deeper than 32 or more than 262,144 values.
 */
export function encode(value: unknown): Buffer {
  let bytes: Buffer;
  try {
    bytes = packr.pack(value);
  } catch (err) {
    throw new ClusterError('ERR_BAD_MESSAGE', `cannot encode a message: ${err instanceof Error ? err.message : 'unknown error'}`, { cause: err });
  }
  try {
    scanMsgpack(bytes);
  } catch (err) {
    if (!(err instanceof ScanError)) throw err;
    throw new ClusterError(
      'ERR_BAD_MESSAGE',
      `a message may hold only plain data (objects, arrays, strings, numbers, booleans, null, Uint8Array) within the nesting and size limits: ${err.message}`,
      { cause: err },
    );
  }
  return bytes;
}

/** Decode one msgpack value; throws ClusterError ERR_BAD_FRAME on malformed, extended or oversized input. */
export function decode(bytes: Uint8Array): unknown {
  try {
    scanMsgpack(bytes);
    return unpackr.unpack(bytes);
  } catch (err) {
    const why = err instanceof ScanError ? err.message : 'malformed msgpack';
    throw new ClusterError('ERR_BAD_FRAME', `rejected a msgpack frame: ${why}`, { cause: err });
  }
}
