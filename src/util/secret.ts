// Secret: a holder for a value that must never be printed, logged or serialised,
// such as the cluster cookie. The value lives in an ES private field, so it is not
// an enumerable (or even a visible) property; JSON.stringify, util.inspect, String()
// and template literals all show '[redacted]'. Only reveal() hands the value out.
// Invariant: no method of a Secret except reveal()/bytes() returns the value.
import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/** A string that shows as '[redacted]' everywhere except through reveal(). */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The secret itself; hand it only to the code that needs it, never to a log. */
  reveal(): string {
    return this.#value;
  }

  /** The secret's UTF-8 bytes (a fresh copy each call). */
  bytes(): Buffer {
    return Buffer.from(this.#value, 'utf8');
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
