/**
 * Token buckets per caller: `perMinute` operations a minute on average, in bursts of at most
 * `perMinute`. Pure bookkeeping, time injected; the caller keys by token digest so no token is
 * kept. Buckets that are full again are forgotten, so memory follows the active callers only.
 */
export interface RateLimiter {
  /** Takes one from `key`'s bucket: 0 when allowed, else the seconds until one is available. */
  take(key: string): number;
}

export function createRateLimiter(options: { perMinute: number; now?: () => number }): RateLimiter {
  const { perMinute } = options;
  const now = options.now ?? Date.now;
  const refillPerMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();

  const sweep = (time: number): void => {
    if (time - lastSweep < 60_000) return;
    lastSweep = time;
    for (const [key, bucket] of buckets) {
      if (bucket.tokens + (time - bucket.at) * refillPerMs >= perMinute) buckets.delete(key);
    }
  };

  return {
    take: (key) => {
      const time = now();
      sweep(time);
      const bucket = buckets.get(key) ?? { tokens: perMinute, at: time };
      const tokens = Math.min(perMinute, bucket.tokens + (time - bucket.at) * refillPerMs);
      if (tokens < 1) {
        buckets.set(key, { tokens, at: time });
        return Math.max(1, Math.ceil((1 - tokens) / refillPerMs / 1000));
      }
      buckets.set(key, { tokens: tokens - 1, at: time });
      return 0;
    },
  };
}
