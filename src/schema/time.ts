/** Go's zero `time.Time` as Nomad's older encoders (and its docs) print it. */
const GO_ZERO_TIME = /^0001-01-01T00:00:00(\.0+)?Z$/;

/** An RFC 3339 instant with nanoseconds, from Unix nanoseconds; null for 0 (Go's zero time). */
export function dateTimeFromNanos(nanos: bigint): string | null {
  if (nanos === 0n) return null;
  const seconds = nanos / 1_000_000_000n;
  const fraction = nanos % 1_000_000_000n;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const digits = (fraction < 0n ? -fraction : fraction).toString().padStart(9, '0').replace(/0+$/, '');
  return digits === '' ? `${base}Z` : `${base}.${digits}Z`;
}

/** A time Nomad sent as text; null for absent or Go's zero time. */
export function dateTimeFromText(text: string | null): string | null {
  if (text === null || text === '' || GO_ZERO_TIME.test(text)) return null;
  return text;
}

const UNITS: readonly [bigint, string][] = [
  [3_600_000_000_000n, 'h'],
  [60_000_000_000n, 'm'],
];

function fractional(nanos: bigint, unit: bigint, suffix: string): string {
  const whole = nanos / unit;
  const rest = (nanos % unit).toString().padStart(unit.toString().length - 1, '0').replace(/0+$/, '');
  return rest === '' ? `${whole}${suffix}` : `${whole}.${rest}${suffix}`;
}

/** Go's `time.Duration.String()`: `1h2m3.5s`, `250ms`, `0s`. */
export function formatGoDuration(nanos: bigint): string {
  if (nanos === 0n) return '0s';
  if (nanos < 0n) return `-${formatGoDuration(-nanos)}`;
  if (nanos < 1_000n) return `${nanos}ns`;
  if (nanos < 1_000_000n) return fractional(nanos, 1_000n, 'µs');
  if (nanos < 1_000_000_000n) return fractional(nanos, 1_000_000n, 'ms');
  let rest = nanos;
  let out = '';
  for (const [unit, suffix] of UNITS) {
    if (out !== '' || rest >= unit) {
      out += `${rest / unit}${suffix}`;
      rest %= unit;
    }
  }
  return out + fractional(rest, 1_000_000_000n, 's');
}
