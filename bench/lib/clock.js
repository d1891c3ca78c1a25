// The one clock for times that the bench compares across processes: a publication's send time, taken in one
// generator, against its receive time in another, or against the moment a server wrote it.
// @ts-check

/**
 * Milliseconds, with sub-millisecond precision, on the system's monotonic clock (CLOCK_MONOTONIC), which every
 * process of this machine reads alike. Not `performance.timeOrigin + performance.now()`: each process takes its
 * time origin from two clock readings at its start, and a generator started on a busy machine was seen 12 ms off
 * the others, which shifted every latency it measured by as much.
 * @returns {number}
 */
export function machineNow() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * A `performance.now()` reading of this process (such as a server's FanOutPass times) on the machineNow clock. Both
 * clocks are monotonic and tick together within a process, so they differ by a constant, read here.
 * @param {number} performanceNow
 * @returns {number}
 */
export function toMachineTime(performanceNow) {
  return performanceNow + (machineNow() - performance.now());
}
