// Scenarios 4 and 5: publications fanned out to many subscribers, on one channel or spread over many.
// Two phases: saturated (as fast as a bounded window allows: throughput per server CPU-second) and
// paced (the same offered load for every server: publish-to-deliver latency).
// @ts-check

import { GeneratorPool } from '../lib/generator-pool.js';
import { closeEverything, openSpread } from '../lib/fleet.js';
import { Stopwatch, pause, perCpuSecond } from '../lib/measure.js';
import { percentiles } from '../lib/samples.js';
import { ServerProcess } from '../lib/server-process.js';

/**
 * @typedef {object} FanOutSpec
 * @property {string} id               e.g. "fanout-1k"
 * @property {number} subscribers
 * @property {number} channels         subscribers are spread evenly over this many channels
 * @property {number} publishers       publishing connections (channels taken in turn)
 * @property {'json' | 'msgpack'} [encoding]
 * @property {boolean} [deflate]       clients offer permessage-deflate
 * @property {number} pacedDeliveriesPerSecond  offered load of the latency phase
 */

/**
 * @typedef {object} Phase
 * @property {number} published
 * @property {number} deliveries
 * @property {number} perSecond
 * @property {number | null} perCpuSecond
 * @property {import('../lib/samples.js').Percentiles} latencyMs
 * @property {import('../lib/measure.js').Window} window
 */

/**
 * @typedef {object} FanOutResult
 * @property {number} subscribers
 * @property {number} channels
 * @property {Phase} saturated
 * @property {Phase} paced
 * @property {Record<string, number>} unexpectedCloses  close codes seen by subscribers during the run
 */

const PAYLOAD_BYTES = 100;
const SUBSCRIBERS = [0, 1];
const PUBLISHER = 2;
/** Every n-th subscriber decodes its deliveries to time them; the rest only count. */
const SAMPLE_EVERY = 10;
/** Deliveries a subscriber may be owed on average before the publisher waits. */
const BACKLOG_PER_SUBSCRIBER = 8;
/** Longest wait for subscribers to catch up after a phase, so the next one starts from an empty pipe. */
const DRAIN_TIMEOUT_MS = 8000;

/**
 * @param {import('../lib/server-process.js').ServerVariant} variant
 * @param {import('../lib/fleet.js').RunContext} ctx
 * @param {FanOutSpec} spec
 * @returns {Promise<FanOutResult>}
 */
export async function fanOutScenario(variant, ctx, spec) {
  const server = await ServerProcess.start(variant);
  const pool = new GeneratorPool(3);
  const channels = Array.from({ length: spec.channels }, (_, index) => `${spec.id}.${index}`);
  const perChannel = spec.subscribers / spec.channels;
  try {
    await openSpread(ctx, {
      pool, generators: SUBSCRIBERS, server, total: spec.subscribers, firstIndex: 0,
      encoding: spec.encoding, deflate: spec.deflate, channels, sampleEvery: SAMPLE_EVERY,
    });
    await openSpread(ctx, {
      pool, generators: [PUBLISHER], server, total: spec.publishers, firstIndex: 0,
      encoding: spec.encoding, deflate: spec.deflate,
    });
    await pause(300);
    const base = {
      channels, publishers: spec.publishers, window: Math.min(64, 8 * spec.publishers), deliveriesPerPublish: perChannel,
      maxBacklog: BACKLOG_PER_SUBSCRIBER * spec.subscribers, payloadBytes: PAYLOAD_BYTES,
    };
    const warmupMs = ctx.quick ? 500 : 1000;
    const saturated = await phase(server, pool, { ...base, ratePerSecond: 0 }, warmupMs, ctx.quick ? 2000 : 3000);
    await pause(300);
    const rate = spec.pacedDeliveriesPerSecond / perChannel;
    // At 10k subscribers the paced rate is 2 publications a second: the window must hold enough of them for a p99.
    const paced = await phase(server, pool, { ...base, ratePerSecond: rate }, warmupMs, ctx.quick ? 2000 : 5000);
    const stats = await pool.callEach(SUBSCRIBERS, 'stats', () => ({ reset: true }));
    /** @type {Record<string, number>} */
    const unexpectedCloses = {};
    for (const part of stats) for (const [code, count] of Object.entries(/** @type {Record<string, number>} */ (part.closes))) unexpectedCloses[code] = (unexpectedCloses[code] ?? 0) + count;
    ctx.log(`  ${spec.id} ${variant.label}${spec.encoding === 'msgpack' ? ' msgpack' : ''}: ${saturated.perSecond}/s, ${saturated.perCpuSecond}/cpu-s, p99 ${saturated.latencyMs.p99} ms; paced p99 ${paced.latencyMs.p99} ms`);
    await closeEverything(pool);
    return { subscribers: spec.subscribers, channels: spec.channels, saturated, paced, unexpectedCloses };
  } finally {
    await pool.stop();
    await server.stop();
  }
}

/**
 * Publish for warm-up + window; count deliveries and collect latency inside the window only.
 * @param {ServerProcess} server
 * @param {GeneratorPool} pool
 * @param {Omit<import('../lib/generator.js').PublishCommand, 'durationMs'>} command
 * @param {number} warmupMs
 * @param {number} windowMs
 * @returns {Promise<Phase>}
 */
async function phase(server, pool, command, warmupMs, windowMs) {
  const start = await pool.callEach(SUBSCRIBERS, 'stats', () => ({ reset: false }));
  pool.relayProgressTo(PUBLISHER);
  const publishing = pool.call(PUBLISHER, 'publish', { ...command, durationMs: warmupMs + windowMs + 200 });
  await pause(warmupMs);
  const before = await pool.callEach(SUBSCRIBERS, 'stats', () => ({ reset: true }));
  const watch = new Stopwatch(server);
  await pause(windowMs);
  const after = await pool.callEach(SUBSCRIBERS, 'stats', () => ({ reset: true }));
  const window = watch.end();
  const run = await publishing;
  pool.relayProgressTo(undefined);
  // Let the tail drain before the next phase: every publication reaches every subscriber, or time runs out.
  const owed = start.reduce((sum, part) => sum + part.delivered, 0) + run.published * command.deliveriesPerPublish;
  for (let waited = 0; waited < DRAIN_TIMEOUT_MS; waited += 100) {
    const stats = await pool.callEach(SUBSCRIBERS, 'stats', () => ({ reset: false }));
    if (stats.reduce((sum, part) => sum + part.delivered, 0) >= owed) break;
    await pause(100);
  }
  const deliveries = after.reduce((sum, part) => sum + part.delivered, 0) - before.reduce((sum, part) => sum + part.delivered, 0);
  return {
    published: run.published,
    deliveries,
    perSecond: Math.round(deliveries / window.seconds),
    perCpuSecond: perCpuSecond(deliveries, window),
    latencyMs: percentiles(after.map((part) => part.latency)),
    window,
  };
}
