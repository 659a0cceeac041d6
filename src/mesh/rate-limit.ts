// Rate limits: a token bucket over injected time (pure: the caller passes `now`), a
// keyed set of buckets with a bounded number of keys, and a keyed "once per window"
// gate. No timers here; the mesh asks before it acts.
// Invariants: a bucket never holds more than its capacity nor fewer than 0 tokens;
// over any interval T a bucket grants at most capacity + rate × T; a keyed table never
// holds more than its maxKeys entries (the oldest key is evicted first, which at worst
// gives that key a fresh bucket: pair a keyed limit with a global one).

/** Shape of a token bucket. */
export interface BucketConfig {
  /** Tokens when full: the burst allowed after a quiet period. */
  capacity: number;
  /** Tokens added per second: the sustained rate. */
  perSecond: number;
}

/** A token bucket; starts full. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly config: BucketConfig,
    nowMs: number,
  ) {
    this.tokens = config.capacity;
    this.at = nowMs;
  }

  private refill(nowMs: number): void {
    if (nowMs > this.at) {
      this.tokens = Math.min(this.config.capacity, this.tokens + ((nowMs - this.at) / 1000) * this.config.perSecond);
      this.at = nowMs;
    }
  }

  /** Tokens available at nowMs (fractional). */
  available(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens;
  }

  /** Milliseconds until one token is available (0: now). */
  waitMs(nowMs: number): number {
    this.refill(nowMs);
    if (this.tokens >= 1) return 0;
    return Math.ceil(((1 - this.tokens) / this.config.perSecond) * 1000);
  }

  /** Take one token if there is one; true if taken. */
  take(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** True when the bucket is full at nowMs (forgetting it loses nothing). */
  isFull(nowMs: number): boolean {
    return this.available(nowMs) >= this.config.capacity;
  }
}

/** One token bucket per key (an address), at most maxKeys of them. */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    readonly config: BucketConfig,
    readonly maxKeys: number,
  ) {}

  /** The bucket for key, created full when new. */
  get(key: string, nowMs: number): TokenBucket {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.evict(nowMs);
      b = new TokenBucket(this.config, nowMs);
      this.buckets.set(key, b);
    }
    return b;
  }

  /** Number of keys held. */
  get size(): number {
    return this.buckets.size;
  }

  private evict(nowMs: number): void {
    // Full buckets first (forgetting them changes nothing), else the oldest key.
    for (const [k, b] of this.buckets) if (b.isFull(nowMs)) this.buckets.delete(k);
    if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
  }
}

/** Lets one event per key through per window (e.g. one warning per peer per minute). */
export class OncePerWindow {
  private readonly last = new Map<string, number>();

  constructor(
    /** Window length, ms. */
    readonly windowMs: number,
    readonly maxKeys = 1024,
  ) {}

  /** True (and remembers nowMs) if key has not passed within the last windowMs. */
  allow(key: string, nowMs: number): boolean {
    const at = this.last.get(key);
    if (at !== undefined && nowMs - at < this.windowMs) return false;
    this.last.delete(key);
    if (this.last.size >= this.maxKeys) {
      for (const [k, t] of this.last) if (nowMs - t >= this.windowMs) this.last.delete(k);
      if (this.last.size >= this.maxKeys) this.last.delete(this.last.keys().next().value!);
    }
    this.last.set(key, nowMs);
    return true;
  }
}
