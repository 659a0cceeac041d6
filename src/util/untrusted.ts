// Untrusted: how a value that came from the network may appear in an error message or
// a log line. Never String() or JSON.stringify() it whole: a peer chooses its size, its
// content (control characters, ANSI escapes, fake log lines) and, for objects, what
// converting it runs. describeValue() gives the type and a short, escaped excerpt;
// cleanText() makes a peer-supplied string safe to print on one line.
// Invariants: the output is at most a few dozen characters longer than maxChars; it
// holds no control, bidirectional-override or line-separator character; describing a
// value never calls any of its methods.

/** Characters that could forge lines or terminal output: C0/C1 controls, DEL, bidi overrides, line/paragraph separators. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Default length of an excerpt, in characters: 40. */
export const DEFAULT_EXCERPT_CHARS = 40;

/**
 * A peer-supplied string made safe for one log line: unprintable characters become
 * `\uXXXX` escapes, and it is cut to maxChars (default 200) with a note of the length.
 */
export function cleanText(s: string, maxChars = 200): string {
  const cut = s.length > maxChars ? s.slice(0, maxChars) : s;
  const clean = cut.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return s.length > maxChars ? `${clean}… (${s.length} characters)` : clean;
}

/**
 * The type of an untrusted value and, for strings and numbers, a short escaped excerpt:
 * `string "hel…" (12 characters)`, `number 7`, `map`, `array of 3`, `bytes (5)`.
 */
export function describeValue(v: unknown, maxChars = DEFAULT_EXCERPT_CHARS): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  switch (typeof v) {
    case 'string':
      return `string "${cleanText(v, maxChars)}"`;
    case 'number':
    case 'boolean':
      return `${typeof v} ${v}`;
    case 'bigint':
      return 'bigint';
    case 'object':
      if (Array.isArray(v)) return `array of ${v.length}`;
      if (v instanceof Uint8Array) return `bytes (${v.length})`;
      return 'map';
    default:
      return typeof v;
  }
}
