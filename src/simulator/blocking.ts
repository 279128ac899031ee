/** Nomad's blocking-query timing (`nomad/structs`: DefaultBlockingRPCQueryTime, MaxBlockingRPCQueryTime, JitterFraction). */
export const DEFAULT_WAIT_MS = 300_000;
export const MAX_WAIT_MS = 300_000;
export const JITTER_FRACTION = 16;

/**
 * How long a blocking query holds: `wait` (absent, zero or negative → the 300 s default),
 * silently clamped to 300 s, plus a random extra below wait/16.
 */
export function blockingTimeoutMs(waitMs: number | undefined, random: () => number): number {
  const wait = waitMs === undefined || waitMs <= 0 ? DEFAULT_WAIT_MS : Math.min(waitMs, MAX_WAIT_MS);
  return wait + random() * (wait / JITTER_FRACTION);
}
