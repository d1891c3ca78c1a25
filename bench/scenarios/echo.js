// Scenario 3: echo round trips, closed loop (send, await the reply, send again), with 1 and 100 clients.
// @ts-check

import { GeneratorPool } from '../lib/generator-pool.js';
import { openSpread } from '../lib/fleet.js';
import { Stopwatch, pause, perCpuSecond } from '../lib/measure.js';
import { percentiles } from '../lib/samples.js';
import { ServerProcess } from '../lib/server-process.js';

/**
 * @typedef {object} EchoResult
 * @property {number} clients
 * @property {number} roundTrips
 * @property {number} perSecond
 * @property {number | null} perCpuSecond
 * @property {import('../lib/samples.js').Percentiles} latencyMs
 * @property {import('../lib/measure.js').Window} window
 */

const PAYLOAD_BYTES = 64;

/**
 * @param {import('../lib/server-process.js').ServerVariant} variant
 * @param {import('../lib/fleet.js').RunContext} ctx
 * @param {number[]} clientCounts
 * @returns {Promise<EchoResult[]>}
 */
export async function echoScenario(variant, ctx, clientCounts) {
  const server = await ServerProcess.start(variant);
  const pool = new GeneratorPool(2);
  const durationMs = ctx.quick ? 2000 : 4000;
  try {
    const most = Math.max(...clientCounts);
    await openSpread(ctx, { pool, generators: [0, 1], server, total: most, firstIndex: 0 });
    /** @type {EchoResult[]} */
    const results = [];
    for (const clients of clientCounts) {
      // One generator drives a single client; two share larger counts.
      const generators = clients === 1 ? [0] : [0, 1];
      const share = Math.ceil(clients / generators.length);
      const run = (/** @type {number} */ ms) => pool.callEach(generators, 'echo', () => ({ clients: share, durationMs: ms, payloadBytes: PAYLOAD_BYTES }));
      await run(ctx.quick ? 500 : 1000);
      await pause(200);
      const watch = new Stopwatch(server);
      const parts = await run(durationMs);
      const window = watch.end();
      const roundTrips = parts.reduce((sum, part) => sum + part.roundTrips, 0);
      const result = {
        clients: share * generators.length,
        roundTrips,
        perSecond: Math.round(roundTrips / window.seconds),
        perCpuSecond: perCpuSecond(roundTrips, window),
        latencyMs: percentiles(parts.map((part) => part.latency)),
        window,
      };
      ctx.log(`  echo ${variant.label} x${clients}: ${result.perSecond}/s, ${result.perCpuSecond}/cpu-s, p99 ${result.latencyMs.p99} ms`);
      results.push(result);
    }
    return results;
  } finally {
    await pool.stop();
    await server.stop();
  }
}
