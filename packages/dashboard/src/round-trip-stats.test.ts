// Unit tests of the PING panel's summary.

import { describe, expect, it } from 'vitest';
import { summarizeRoundTrips } from './round-trip-stats';

describe('summarizeRoundTrips', () => {
  it('has nothing to say about no samples', () => {
    expect(summarizeRoundTrips([])).toEqual({ count: 0, last: undefined, average: undefined, p95: undefined });
  });

  it('reports the newest sample as last, the mean as average', () => {
    const summary = summarizeRoundTrips([4, 1, 7]);
    expect(summary.last).toBe(7);
    expect(summary.average).toBe(4);
    expect(summary.count).toBe(3);
  });

  it('takes p95 by nearest rank', () => {
    const samples = Array.from({ length: 20 }, (_, index) => 20 - index);
    // ceil(0.95 × 20) = 19th smallest of 1..20
    expect(summarizeRoundTrips(samples).p95).toBe(19);
    expect(summarizeRoundTrips([3]).p95).toBe(3);
  });
});
