/** Time as the simulator sees it. Injected so tests can pin it; the default is the wall clock. */
export interface Clock {
  /** Unix time in nanoseconds. */
  nowNanos(): bigint;
}

/** Wall-clock time with nanosecond resolution: the epoch offset is read once, then hrtime advances it. */
export function createSystemClock(): Clock {
  const offset = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  return { nowNanos: () => offset + process.hrtime.bigint() };
}

/** RFC 3339 with nanoseconds and a `Z`, as Go prints a UTC `time.Time` (trailing zeros trimmed). */
export function rfc3339FromNanos(nanos: bigint): string {
  const base = new Date(Number(nanos / 1_000_000n)).toISOString().slice(0, 19);
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return fraction === '' ? `${base}Z` : `${base}.${fraction}Z`;
}
