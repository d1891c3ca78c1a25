// Summary of measured round trips: last, average and 95th percentile.

/** What the PING panel shows. */
export interface RoundTripSummary {
  count: number;
  last: number | undefined;
  average: number | undefined;
  p95: number | undefined;
}

/** Summarizes `samples` (oldest first); p95 is the nearest-rank percentile. */
export function summarizeRoundTrips(samples: readonly number[]): RoundTripSummary {
  const count = samples.length;
  if (count === 0) return { count, last: undefined, average: undefined, p95: undefined };
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(0.95 * count));
  return {
    count,
    last: samples[count - 1],
    average: samples.reduce((sum, sample) => sum + sample, 0) / count,
    p95: sorted[rank - 1],
  };
}
