// Several rounds of one run, merged: every figure is the median of its rounds, so one noisy round on a
// shared machine cannot flip a target; the per-round ratios are kept to show how far the rounds spread.
// @ts-check

/**
 * The median of each number in structurally equal values (same keys, same array lengths); for
 * anything else (strings, booleans, null) the first round's value is kept.
 * @template T
 * @param {T[]} rounds
 * @returns {T}
 */
export function medianOfRounds(rounds) {
  const first = rounds[0];
  if (rounds.length === 1 || first === undefined) return /** @type {T} */ (first);
  if (typeof first === 'number') {
    const numbers = rounds.filter((value) => typeof value === 'number' && Number.isFinite(value)).map(Number).sort((a, b) => a - b);
    if (numbers.length === 0) return first;
    const middle = Math.floor(numbers.length / 2);
    const median = numbers.length % 2 === 1 ? /** @type {number} */ (numbers[middle]) : (/** @type {number} */ (numbers[middle - 1]) + /** @type {number} */ (numbers[middle])) / 2;
    return /** @type {T} */ (/** @type {unknown} */ (median));
  }
  if (Array.isArray(first)) {
    return /** @type {T} */ (/** @type {unknown} */ (first.map((_, index) => medianOfRounds(rounds.map((round) => /** @type {unknown[]} */ (round)?.[index])))));
  }
  if (typeof first === 'object' && first !== null) {
    /** @type {Record<string, unknown>} */
    const merged = {};
    for (const key of Object.keys(first)) merged[key] = medianOfRounds(rounds.map((round) => /** @type {Record<string, unknown>} */ (round)?.[key]));
    return /** @type {T} */ (merged);
  }
  return first;
}
