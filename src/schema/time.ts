/** Go's zero `time.Time` as Nomad's older encoders (and its docs) print it. */
const GO_ZERO_TIME = /^0001-01-01T00:00:00(\.0+)?Z$/;

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * `YYYY-MM-DDTHH:MM:SS` for Unix seconds, by integer arithmetic (Howard Hinnant's
 * days-to-civil algorithm): a page of task events formats thousands of these, and this is
 * several times cheaper than `new Date(...).toISOString()`.
 */
function civilSeconds(unixSeconds: number): string {
  const days = Math.floor(unixSeconds / 86_400);
  const secondOfDay = unixSeconds - days * 86_400;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(secondOfDay / 3600);
  const minute = Math.floor((secondOfDay % 3600) / 60);
  return `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}T${two(hour)}:${two(minute)}:${two(secondOfDay % 60)}`;
}

/** An RFC 3339 instant with nanoseconds, from Unix nanoseconds; null for 0 (Go's zero time). */
export function dateTimeFromNanos(nanos: bigint): string | null {
  if (nanos === 0n) return null;
  let seconds = nanos / 1_000_000_000n;
  let fraction = nanos % 1_000_000_000n;
  if (fraction < 0n) {
    seconds -= 1n;
    fraction += 1_000_000_000n;
  }
  const base = civilSeconds(Number(seconds));
  if (fraction === 0n) return `${base}Z`;
  return `${base}.${fraction.toString().padStart(9, '0').replace(/0+$/, '')}Z`;
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
