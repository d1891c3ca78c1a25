// Unit tests of the reconnect backoff.

import { describe, expect, it } from 'vitest';
import { backoff } from './backoff.js';

const curve = { minDelayMs: 500, maxDelayMs: 30_000, factor: 2 };

describe('backoff', () => {
  it('has a ceiling of min × factor^attempt, capped at max', () => {
    const justBelowOne = (): number => 1 - Number.EPSILON;
    const ceilings = Array.from({ length: 10 }, (_, attempt) => backoff(attempt, curve, justBelowOne) + 1);
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  });

  it('is random() times the ceiling (full jitter), never below zero', () => {
    expect(backoff(0, curve, () => 0)).toBe(0);
    expect(backoff(3, curve, () => 0.5)).toBe(2000);
    expect(backoff(50, curve, () => 0.25)).toBe(7500);
  });

  it('spreads delays over the whole window', () => {
    const delays = Array.from({ length: 2000 }, () => backoff(4, curve));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(8000);
    // 2000 uniform draws over [0, 8000): every eighth of the window gets some.
    const buckets = new Set(delays.map((delay) => Math.floor(delay / 1000)));
    expect([...buckets].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('clamps a random source that strays outside [0, 1]', () => {
    expect(backoff(0, curve, () => -3)).toBe(0);
    expect(backoff(0, curve, () => 7)).toBe(500);
  });

  it('treats a negative attempt as the first', () => {
    expect(backoff(-2, curve, () => 0.5)).toBe(250);
  });
});
