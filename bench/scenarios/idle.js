// Scenario 1 and 2: idle connections (RSS and heap per connection, after GC) and the handshake rate
// measured while ramping from 1k to 10k connections.
// @ts-check

import { GeneratorPool } from '../lib/generator-pool.js';
import { openSpread } from '../lib/fleet.js';
import { Stopwatch, pause, perCpuSecond, round } from '../lib/measure.js';
import { ServerProcess } from '../lib/server-process.js';

/**
 * @typedef {object} IdleLevel
 * @property {number} connections
 * @property {number} rssBytes          server RSS after GC
 * @property {number} heapBytes         server V8 heap used after GC
 * @property {number} rssPerConnection  (RSS − RSS with none) / connections
 * @property {number} heapPerConnection
 * @property {number | null} marginalRss   (RSS − RSS at the previous level) / added connections
 * @property {number | null} marginalHeap
 */

/**
 * @typedef {object} IdleResult
 * @property {IdleLevel[]} levels
 * @property {{ handshakes: number; perSecond: number; perCpuSecond: number | null; window: import('../lib/measure.js').Window }} handshakes
 */

/**
 * @param {import('../lib/server-process.js').ServerVariant} variant
 * @param {import('../lib/fleet.js').RunContext} ctx
 * @param {number[]} levels  connection counts, ascending; the step from the first to the second is the handshake measurement
 * @returns {Promise<IdleResult>}
 */
export async function idleScenario(variant, ctx, levels) {
  const server = await ServerProcess.start(variant);
  const pool = new GeneratorPool(2);
  try {
    await pause(300);
    const base = await server.memoryAfterGc();
    /** @type {IdleLevel[]} */
    const results = [];
    let open = 0;
    let previous = base;
    /** @type {IdleResult['handshakes'] | undefined} */
    let handshakes;
    for (const [step, level] of levels.entries()) {
      const adding = level - open;
      const watch = new Stopwatch(server);
      await openSpread(ctx, { pool, generators: [0, 1], server, total: adding, firstIndex: open });
      const window = watch.end();
      if (step === 1) {
        handshakes = { handshakes: adding, perSecond: Math.round(adding / window.seconds), perCpuSecond: perCpuSecond(adding, window), window };
      }
      open = level;
      await pause(500);
      const memory = await server.memoryAfterGc();
      results.push({
        connections: level,
        rssBytes: memory.rss,
        heapBytes: memory.heapUsed,
        rssPerConnection: Math.round((memory.rss - base.rss) / level),
        heapPerConnection: Math.round((memory.heapUsed - base.heapUsed) / level),
        marginalRss: step === 0 ? null : Math.round((memory.rss - previous.rss) / adding),
        marginalHeap: step === 0 ? null : Math.round((memory.heapUsed - previous.heapUsed) / adding),
      });
      ctx.log(`  idle ${variant.label} ${level}: rss ${round(memory.rss / 1048576, 1)} MiB, ${results.at(-1)?.rssPerConnection} B/conn`);
      previous = memory;
    }
    if (handshakes === undefined) throw new Error('the idle scenario needs at least two levels');
    return { levels: results, handshakes };
  } finally {
    await pool.stop();
    await server.stop();
  }
}
