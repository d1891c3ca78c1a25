// A bounded latency sample (reservoir) that merges across processes into percentiles.
// @ts-check

/** Most samples one process keeps per window; beyond it, reservoir sampling keeps a uniform subset. */
const CAPACITY = 20_000;

/** Latency samples in milliseconds. */
export class Samples {
  /** @type {number[]} */ values = [];
  seen = 0;
  max = 0;

  /** @param {number} value */
  add(value) {
    this.seen++;
    if (value > this.max) this.max = value;
    if (this.values.length < CAPACITY) {
      this.values.push(value);
      return;
    }
    const slot = Math.floor(Math.random() * this.seen);
    if (slot < CAPACITY) this.values[slot] = value;
  }

  /** @returns {{ values: number[]; seen: number; max: number }} */
  toJSON() {
    return { values: this.values, seen: this.seen, max: this.max };
  }
}

/**
 * @typedef {object} Percentiles
 * @property {number} count  samples seen (all, not only those kept)
 * @property {number} p50
 * @property {number} p99
 * @property {number} max
 */

/**
 * Merge per-process samples (each weighted by how many it saw) into percentiles, in ms.
 * @param {Array<{ values: number[]; seen: number; max: number }>} parts
 * @returns {Percentiles}
 */
export function percentiles(parts) {
  const [p50 = 0, p99 = 0] = quantiles(parts, [0.5, 0.99]);
  let count = 0;
  let max = 0;
  for (const part of parts) {
    count += part.seen;
    max = Math.max(max, part.max);
  }
  return { count, p50, p99, max: round(max) };
}

/**
 * Merge per-process samples (each weighted by how many it saw) and read the quantiles `qs` (0–1), in ms; zeros
 * when there are no samples.
 * @param {Array<{ values: number[]; seen: number; max: number }>} parts
 * @param {number[]} qs
 * @returns {number[]}
 */
export function quantiles(parts, qs) {
  /** @type {Array<[number, number]>} value, weight */
  const weighted = [];
  for (const part of parts) {
    const weight = part.values.length === 0 ? 0 : part.seen / part.values.length;
    for (const value of part.values) weighted.push([value, weight]);
  }
  if (weighted.length === 0) return qs.map(() => 0);
  weighted.sort((a, b) => a[0] - b[0]);
  const total = weighted.reduce((sum, [, weight]) => sum + weight, 0);
  /** @param {number} q */
  const at = (q) => {
    let cumulative = 0;
    for (const [value, weight] of weighted) {
      cumulative += weight;
      if (cumulative >= q * total) return value;
    }
    return weighted[weighted.length - 1]?.[0] ?? 0;
  };
  return qs.map((q) => round(at(q)));
}

/** @param {number} value */
function round(value) {
  return Math.round(value * 1000) / 1000;
}
