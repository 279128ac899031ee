import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF_CAP_MS, nextDelay } from '../../../src/watch/backoff.ts';

/** A random source that always draws `value`. */
const always = (value: number) => () => value;

describe('nextDelay', () => {
  it('should draw the first retry delay from [0, 250 ms) by default', () => {
    expect(nextDelay(1, { random: always(0) })).toBe(0);
    expect(nextDelay(1, { random: always(0.5) })).toBe(125);
    expect(nextDelay(1, { random: always(0.999_999) })).toBe(249);
  });

  it('should double the ceiling with every attempt', () => {
    const delays = [1, 2, 3, 4, 5, 6].map((attempt) => nextDelay(attempt, { random: always(0.5) }));
    expect(delays).toEqual([125, 250, 500, 1000, 2000, 4000]);
  });

  it('should stay below the 30 s cap however many attempts failed', () => {
    expect(nextDelay(8, { random: always(0.5) })).toBe(15_000);
    expect(nextDelay(9, { random: always(0.5) })).toBe(DEFAULT_BACKOFF_CAP_MS / 2);
    expect(nextDelay(50, { random: always(0.999_999) })).toBeLessThan(DEFAULT_BACKOFF_CAP_MS);
    // 2^1999 overflows to Infinity, which must still come out as the cap.
    expect(nextDelay(2000, { random: always(0.5) })).toBe(DEFAULT_BACKOFF_CAP_MS / 2);
  });

  it('should use the given base and cap', () => {
    expect(nextDelay(1, { baseMs: 100, capMs: 1000, random: always(0.5) })).toBe(50);
    expect(nextDelay(3, { baseMs: 100, capMs: 1000, random: always(0.5) })).toBe(200);
    expect(nextDelay(10, { baseMs: 100, capMs: 1000, random: always(0.5) })).toBe(500);
    expect(nextDelay(10, { baseMs: 100, capMs: 0, random: always(0.5) })).toBe(0);
  });

  it('should keep a misbehaving random source inside [0, ceiling)', () => {
    expect(nextDelay(1, { random: always(1) })).toBe(249);
    expect(nextDelay(1, { random: always(7) })).toBe(249);
    expect(nextDelay(1, { random: always(-3) })).toBe(0);
    expect(nextDelay(1, { random: always(Number.NaN) })).toBe(0);
  });

  it('should return whole milliseconds inside the bounds with the default random source', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const delay = nextDelay(attempt);
      expect(Number.isInteger(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(Math.min(DEFAULT_BACKOFF_CAP_MS, 250 * 2 ** (attempt - 1)));
    }
  });

  it('should refuse an attempt number that is not an integer of at least 1, and negative options', () => {
    for (const attempt of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => nextDelay(attempt)).toThrow(RangeError);
    }
    expect(() => nextDelay(1, { baseMs: -1 })).toThrow(RangeError);
    expect(() => nextDelay(1, { capMs: Number.NaN })).toThrow(RangeError);
  });
});
