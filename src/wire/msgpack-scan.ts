// Msgpack scan: a structural check of untrusted msgpack bytes, run before any decoder
// builds a value from them. One linear pass over the headers (string and binary bodies
// are skipped by length) proves that the bytes hold exactly one value of plain types
// (nil, booleans, numbers, strings, binaries, arrays, maps with string or integer
// keys), nested at most maxDepth deep, with at most maxItems values in all, and no
// extension type at all: no structured-clone references, records, Dates, Sets or
// msgpackr's undefined. A few hundred hostile bytes therefore cannot decode into a
// graph of shared arrays with millions of leaves.
// Invariants: the scan never allocates in proportion to the input (a stack of at most
// maxDepth remaining-value counters); its time is linear in the input length;
// it never throws anything but a ScanError.

/** Deepest nesting of arrays and maps accepted by default: 32. */
export const DEFAULT_MAX_DEPTH = 32;
/** Most values (every array element, map key and map value, and the root) in one message by default: 262,144. */
export const DEFAULT_MAX_ITEMS = 1 << 18;

/** Limits for scanMsgpack. */
export interface ScanLimits {
  /** Deepest nesting of arrays and maps; default 32. */
  maxDepth?: number;
  /** Most values in all; default 262,144. */
  maxItems?: number;
}

/** Why a scan rejected its input. */
export class ScanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScanError';
  }
}

function fail(message: string): never {
  throw new ScanError(message);
}

/**
 * Check that bytes hold exactly one plain msgpack value within the limits; throws
 * ScanError saying what is wrong (the message names offsets and type bytes, never
 * the content).
 */
export function scanMsgpack(bytes: Uint8Array, limits: ScanLimits = {}): void {
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxItems = limits.maxItems ?? DEFAULT_MAX_ITEMS;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  // remaining[d]: values still to read in the container open at depth d (a map counts
  // its keys and values); mapAt[d]: whether that container is a map. A container stays
  // on the stack until its last value has been read, so the stack is the nesting.
  const remaining: number[] = [];
  const mapAt: boolean[] = [];
  let at = 0;
  let items = 0;

  const need = (n: number): void => {
    if (at + n > end) fail(`truncated at byte ${at}: ${n} more bytes announced, ${end - at} left`);
  };
  const skip = (n: number): void => {
    need(n);
    at += n;
  };
  /** Returns true when a container with values was opened (its values come next). */
  const open = (count: number, isMap: boolean): boolean => {
    const values = isMap ? count * 2 : count;
    if (values === 0) return false;
    if (remaining.length >= maxDepth) fail(`nested deeper than ${maxDepth} at byte ${at}`);
    if (values > end - at) fail(`container at byte ${at} announces ${count} entries, more than the bytes left`);
    remaining.push(values);
    mapAt.push(isMap);
    return true;
  };

  for (;;) {
    if (++items > maxItems) fail(`more than ${maxItems} values`);
    const top = remaining.length - 1;
    if (top >= 0) {
      const isKey = mapAt[top] === true && remaining[top]! % 2 === 0;
      remaining[top]!--;
      need(1);
      if (isKey && !isKeyType(bytes[at]!)) fail(`map key of type 0x${bytes[at]!.toString(16)} at byte ${at}; only string and integer keys are accepted`);
    }
    if (readValue()) continue;
    // A scalar or an empty container: close every container it completed.
    while (remaining.length > 0 && remaining[remaining.length - 1] === 0) {
      remaining.pop();
      mapAt.pop();
    }
    if (remaining.length === 0) break;
  }

  /** Reads one value's header (and skips its body); true when it opened a container. */
  function readValue(): boolean {
    need(1);
    const b = bytes[at]!;
    at++;
    if (b <= 0x7f || b >= 0xe0) return false; // positive and negative fixint
    if (b <= 0x8f) return open(b & 0x0f, true);
    if (b <= 0x9f) return open(b & 0x0f, false);
    if (b <= 0xbf) {
      skip(b & 0x1f); // fixstr
      return false;
    }
    switch (b) {
      case 0xc0: // nil
      case 0xc2: // false
      case 0xc3: // true
        return false;
      case 0xc4: // bin 8
      case 0xd9: // str 8
        need(1);
        at++;
        skip(bytes[at - 1]!);
        return false;
      case 0xc5: // bin 16
      case 0xda: // str 16
        need(2);
        at += 2;
        skip(view.getUint16(at - 2));
        return false;
      case 0xc6: // bin 32
      case 0xdb: // str 32
        need(4);
        at += 4;
        skip(view.getUint32(at - 4));
        return false;
      case 0xca: // float 32
      case 0xce: // uint 32
      case 0xd2: // int 32
        skip(4);
        return false;
      case 0xcb: // float 64
      case 0xcf: // uint 64
      case 0xd3: // int 64
        skip(8);
        return false;
      case 0xcc: // uint 8
      case 0xd0: // int 8
        skip(1);
        return false;
      case 0xcd: // uint 16
      case 0xd1: // int 16
        skip(2);
        return false;
      case 0xdc: // array 16
        need(2);
        at += 2;
        return open(view.getUint16(at - 2), false);
      case 0xdd: // array 32
        need(4);
        at += 4;
        return open(view.getUint32(at - 4), false);
      case 0xde: // map 16
        need(2);
        at += 2;
        return open(view.getUint16(at - 2), true);
      case 0xdf: // map 32
        need(4);
        at += 4;
        return open(view.getUint32(at - 4), true);
      default:
        // 0xc1 (never used), 0xc7-0xc9 (ext 8/16/32), 0xd4-0xd8 (fixext).
        if (b === 0xc1) fail(`reserved type byte 0xc1 at byte ${at - 1}`);
        return fail(`extension type (0x${b.toString(16)}) at byte ${at - 1}; only plain values are accepted`);
    }
  }
  if (at !== end) fail(`${end - at} bytes after the value`);
}

function isKeyType(b: number): boolean {
  return (
    b <= 0x7f || // positive fixint
    b >= 0xe0 || // negative fixint
    (b >= 0xa0 && b <= 0xbf) || // fixstr
    b === 0xd9 ||
    b === 0xda ||
    b === 0xdb ||
    (b >= 0xcc && b <= 0xcf) ||
    (b >= 0xd0 && b <= 0xd3)
  );
}
