// A measured window: server CPU seconds, wall time and machine load between two instants.
// @ts-check

import { machineLoad, machineSnapshot } from './proc-stats.js';

/**
 * @typedef {object} Window
 * @property {number} seconds        wall time
 * @property {number} serverCpu      server user+system CPU seconds
 * @property {number} serverCpuPercent  server CPU over wall time (100 = one core)
 * @property {import('./proc-stats.js').MachineLoad} machine
 */

/** Starts a window now; `end()` closes it. */
export class Stopwatch {
  #server;
  #cpu;
  #machine;
  #started;

  /** @param {import('./server-process.js').ServerProcess} server */
  constructor(server) {
    this.#server = server;
    this.#cpu = server.cpu();
    this.#machine = machineSnapshot();
    this.#started = performance.now();
  }

  /** @returns {Window} */
  end() {
    const seconds = (performance.now() - this.#started) / 1000;
    const serverCpu = this.#server.cpu() - this.#cpu;
    return {
      seconds: round(seconds, 3),
      serverCpu: round(serverCpu, 2),
      serverCpuPercent: seconds > 0 ? round((100 * serverCpu) / seconds, 1) : 0,
      machine: machineLoad(this.#machine, machineSnapshot()),
    };
  }
}

/**
 * @param {number} value
 * @param {number} digits
 */
export function round(value, digits) {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/**
 * `count` per server CPU-second; null when the window is too short to time (under 3 clock ticks).
 * @param {number} count
 * @param {Window} window
 * @returns {number | null}
 */
export function perCpuSecond(count, window) {
  return window.serverCpu < 0.03 ? null : Math.round(count / window.serverCpu);
}

/** @param {number} ms */
export const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Hands out source addresses 127.0.0.2–127.0.0.254 in turn, so no address runs short of ports. */
export class AddressPool {
  #next = 2;

  /**
   * Addresses for `connections` new connections, about 4,000 each.
   * @param {number} connections
   * @returns {string[]}
   */
  take(connections) {
    const count = Math.max(1, Math.ceil(connections / 4000));
    return Array.from({ length: count }, () => {
      const address = `127.0.0.${this.#next}`;
      this.#next = this.#next >= 254 ? 2 : this.#next + 1;
      return address;
    });
  }
}
