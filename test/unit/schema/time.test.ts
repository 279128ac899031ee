import { describe, expect, it } from 'vitest';
import { dateTimeFromNanos, dateTimeFromText, formatGoDuration } from '../../../src/schema/time.ts';

describe('time conversions', () => {
  it('should keep every nanosecond of a Unix-nanosecond timestamp', () => {
    expect(dateTimeFromNanos(1636017249798459123n)).toBe('2021-11-04T09:14:09.798459123Z');
    expect(dateTimeFromNanos(1636017249000000000n)).toBe('2021-11-04T09:14:09Z');
    expect(dateTimeFromNanos(1636017249100000000n)).toBe('2021-11-04T09:14:09.1Z');
  });

  it('should agree with Date for instants across centuries, leap days and before 1970', () => {
    for (const iso of ['1970-01-01T00:00:00.000Z', '2000-02-29T23:59:59.000Z', '2024-12-31T12:00:00.000Z', '1969-07-20T20:17:40.000Z', '2100-03-01T00:00:01.000Z', '1600-01-01T00:00:00.000Z']) {
      const nanos = BigInt(Date.parse(iso)) * 1_000_000n + 5n;
      expect(dateTimeFromNanos(nanos)).toBe(`${iso.slice(0, 19)}.000000005Z`);
    }
  });

  it('should turn Go zero times into null', () => {
    expect(dateTimeFromNanos(0n)).toBeNull();
    expect(dateTimeFromText('0001-01-01T00:00:00Z')).toBeNull();
    expect(dateTimeFromText(null)).toBeNull();
    expect(dateTimeFromText('2017-07-25T23:36:26.106431265Z')).toBe('2017-07-25T23:36:26.106431265Z');
  });

  it('should print durations as Go does', () => {
    expect(formatGoDuration(0n)).toBe('0s');
    expect(formatGoDuration(5_000_000_000n)).toBe('5s');
    expect(formatGoDuration(90_000_000_000n)).toBe('1m30s');
    expect(formatGoDuration(3_600_000_000_000n)).toBe('1h0m0s');
    expect(formatGoDuration(1_500_000_000n)).toBe('1.5s');
    expect(formatGoDuration(250_000_000n)).toBe('250ms');
    expect(formatGoDuration(41_217n)).toBe('41.217µs');
    expect(formatGoDuration(12n)).toBe('12ns');
    expect(formatGoDuration(-2_000_000_000n)).toBe('-2s');
  });
});
