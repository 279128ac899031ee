/**
 * Retry delays for the blocking-query loop: exponential growth, capped, with "full jitter"
 * (AWS Architecture Blog, "Exponential Backoff And Jitter"): the delay is drawn uniformly from
 * `[0, min(cap, base × 2^(attempt − 1)))`.
 *
 * Why full jitter rather than equal or decorrelated jitter: when Nomad (or the proxy in front of
 * it) comes back after an outage, every watcher of every gateway replica retries at once. Full
 * jitter spreads those retries the widest and, of the usual schemes, costs the fewest calls in
 * total. It is also a pure function of the attempt number, so the loop keeps no delay state.
 * A draw near 0 cannot turn into a tight loop: the loop never sends two requests closer together
 * than its `minIntervalMs`.
 */

/** Options of {@link nextDelay}. */
export interface BackoffOptions {
  /** Ceiling of the first retry's delay; doubles with every further attempt. @default 250 */
  baseMs?: number;
  /** Largest ceiling, whatever the attempt. @default 30000 */
  capMs?: number;
  /** Uniform source in `[0, 1)`; injected so tests are deterministic. @default Math.random */
  random?: () => number;
}

/** Default ceiling of the first retry, in milliseconds. */
export const DEFAULT_BACKOFF_BASE_MS = 250;
/** Default cap of every retry, in milliseconds. */
export const DEFAULT_BACKOFF_CAP_MS = 30_000;

function requireNonNegative(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number ≥ 0, got ${value}`);
}

/**
 * The delay in whole milliseconds before retry number `attempt` (1 for the first retry after a
 * success, 2 for the next, …): uniform in `[0, ceiling)` where
 * `ceiling = min(capMs, baseMs × 2^(attempt − 1))`. A `random()` outside `[0, 1)` is clamped
 * (NaN counts as 0), so the result is never negative and stays below the ceiling.
 *
 * @throws RangeError when `attempt` is not an integer ≥ 1, or an option is negative or not finite.
 */
export function nextDelay(attempt: number, options: BackoffOptions = {}): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be an integer ≥ 1, got ${attempt}`);
  const baseMs = options.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
  const capMs = options.capMs ?? DEFAULT_BACKOFF_CAP_MS;
  requireNonNegative('baseMs', baseMs);
  requireNonNegative('capMs', capMs);
  // 2 ** 1100 is Infinity, which Math.min turns into the cap: no overflow handling needed.
  const ceiling = Math.min(capMs, baseMs * 2 ** (attempt - 1));
  const raw = (options.random ?? Math.random)();
  const draw = Number.isNaN(raw) ? 0 : Math.min(Math.max(raw, 0), 1);
  return Math.min(Math.floor(draw * ceiling), Math.max(0, Math.ceil(ceiling) - 1));
}
