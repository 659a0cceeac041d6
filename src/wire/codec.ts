// Codec: msgpack encoding of message objects (the only importer of msgpackr).
// decode() turns any byte string into a plain value or throws ERR_BAD_FRAME; it
// never trusts the result's shape (see messages.ts for validation).
import { Packr, Unpackr } from 'msgpackr';
import { ClusterError } from '../errors.js';

const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** Encode a plain value (objects, arrays, strings, numbers, booleans, null, Uint8Array). */
export function encode(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decode one msgpack value; throws ClusterError ERR_BAD_FRAME on malformed input. */
export function decode(bytes: Uint8Array): unknown {
  try {
    return unpackr.unpack(bytes);
  } catch (err) {
    throw new ClusterError('ERR_BAD_FRAME', 'malformed msgpack frame', { cause: err });
  }
}
