// Slow consumer: one subscriber stops reading while a publisher keeps going. A server with a send
// high-water mark holds bounded memory and closes that subscriber (Switchyard: code 4000).
// @ts-check

import { GeneratorPool } from '../lib/generator-pool.js';
import { openSpread } from '../lib/fleet.js';
import { pause } from '../lib/measure.js';
import { ServerProcess } from '../lib/server-process.js';

/**
 * @typedef {object} SlowConsumerResult
 * @property {number} publishedBytes   payload bytes published while the subscriber did not read
 * @property {number} baselineRss      server RSS after GC before
 * @property {number} peakRss          highest server RSS seen while publishing (sampled every 25 ms)
 * @property {number} growthBytes      peak − baseline
 * @property {number} afterRss         server RSS after GC once publishing is over (the subscriber still not reading)
 * @property {number} heldBuffers      growth of the server's Buffer memory (arrayBuffers, after GC) at that point: what it still holds for the subscriber
 * @property {string} subscriberClose  close code the subscriber saw once it read again
 * @property {number | null} slowConsumersClosed  the server's own count (Switchyard's /metrics), null where there is none
 */

const PAYLOAD_BYTES = 2048;

/**
 * @param {import('../lib/server-process.js').ServerVariant} variant
 * @param {import('../lib/fleet.js').RunContext} ctx
 * @returns {Promise<SlowConsumerResult>}
 */
export async function slowConsumerScenario(variant, ctx) {
  const server = await ServerProcess.start(variant);
  const pool = new GeneratorPool(2);
  const messages = ctx.quick ? 8000 : 24_000;
  try {
    await openSpread(ctx, { pool, generators: [0], server, total: 1, firstIndex: 0, channels: ['slow'] });
    await openSpread(ctx, { pool, generators: [1], server, total: 1, firstIndex: 0 });
    await pool.call(0, 'reading', { pause: true });
    await pause(300);
    const baseline = await server.memoryAfterGc();
    let peakRss = baseline.rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, server.rss());
    }, 25);
    const run = await pool.call(1, 'publish', {
      channels: ['slow'], publishers: 1, durationMs: ctx.quick ? 8000 : 20_000, window: 16, deliveriesPerPublish: 1,
      maxBacklog: Number.MAX_SAFE_INTEGER, payloadBytes: PAYLOAD_BYTES, limit: messages,
    });
    await pause(1500);
    clearInterval(sampler);
    peakRss = Math.max(peakRss, server.rss());
    const after = await server.memoryAfterGc();
    await pool.call(0, 'reading', { pause: false });
    await pause(1500);
    const stats = await pool.call(0, 'stats', { reset: true });
    const codes = Object.keys(/** @type {Record<string, number>} */ (stats.closes));
    const result = {
      slowConsumersClosed: variant.kind === 'switchyard' ? await slowConsumerCount(server.port) : null,
      publishedBytes: run.published * PAYLOAD_BYTES,
      baselineRss: baseline.rss,
      peakRss,
      growthBytes: peakRss - baseline.rss,
      afterRss: after.rss,
      heldBuffers: after.arrayBuffers - baseline.arrayBuffers,
      subscriberClose: codes.length === 0 ? 'open' : codes.join(','),
    };
    ctx.log(`  slow consumer ${variant.label}: published ${Math.round(result.publishedBytes / 1048576)} MiB, RSS +${Math.round(result.growthBytes / 1048576)} MiB, buffers held ${Math.round(result.heldBuffers / 1048576)} MiB, close ${result.subscriberClose}`);
    return result;
  } finally {
    await pool.stop();
    await server.stop();
  }
}

/**
 * Switchyard's `switchyard_slow_consumers_total` from its Prometheus endpoint.
 * @param {number} port
 * @returns {Promise<number | null>}
 */
async function slowConsumerCount(port) {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await response.text();
  const match = /^switchyard_slow_consumers_total\s+(\d+)/m.exec(text);
  return match === null ? null : Number(match[1]);
}
