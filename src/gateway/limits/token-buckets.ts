/**
 * Token buckets by key (an IP, an API key id), refilled lazily on use, so an idle key costs
 * nothing but its map entry. The map is bounded: a flood of distinct keys (spoofed IPv6
 * addresses, say) evicts the oldest entries instead of growing without limit.
 */

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly maxKeys = 100_000) {}

  /** Takes a token: 0 when allowed, else the milliseconds until one is available. */
  take(key: string, capacity: number, perSecond: number, now = Date.now()): number {
    const bucket = this.refill(key, capacity, perSecond, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) * 1000) / perSecond);
  }

  /** Like {@link take} without spending: 0 when a token is available, else the wait. */
  peek(key: string, capacity: number, perSecond: number, now = Date.now()): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return 0;
    const tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) * perSecond) / 1000);
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * 1000) / perSecond);
  }

  /** Forgets buckets that have refilled completely (they behave like new ones). */
  sweep(capacity: (key: string) => number, perSecond: (key: string) => number, now = Date.now()): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) * perSecond(key)) / 1000 >= capacity(key)) this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }

  has(key: string): boolean {
    return this.buckets.has(key);
  }

  private refill(key: string, capacity: number, perSecond: number, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.evictOldest();
      bucket = { tokens: capacity, at: now };
      this.buckets.set(key, bucket);
      return bucket;
    }
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) * perSecond) / 1000);
    bucket.at = now;
    return bucket;
  }

  private evictOldest(): void {
    // Maps iterate in insertion order: drop the oldest tenth in one go.
    let n = Math.max(1, Math.floor(this.maxKeys / 10));
    for (const key of this.buckets.keys()) {
      this.buckets.delete(key);
      if (--n === 0) break;
    }
  }
}
