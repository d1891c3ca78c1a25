// Scenarios 4 and 5: publications fanned out to many subscribers, on one channel or spread over many.
// Two phases: saturated (as fast as a bounded window allows: throughput per server CPU-second) and
// paced (the same offered load for every server: publish-to-deliver latency). Every compared server
// stays up with its clients connected, so that their paced windows can take turns.
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
/** After a single publication at 10k subscribers, time for it to reach every subscriber (see `FanOutBench.single`). */
const SINGLE_GAP_MS = 400;
/** Publications to each channel before anything is measured: Switchyard's default `historySize` (see `fillHistory`). */
export const HISTORY_FILL_PER_CHANNEL = 100;
/** Longest the history fill may take, under the generators' command timeout (Socket.IO, the slowest, needs about 40 s for many channels). */
const FILL_TIMEOUT_MS = 100_000;

/** The fan-out scenarios: one channel at 1k and 10k subscribers, and many channels (its small size for `--quick`). */
export const SPECS = {
  'fanout-1k': { id: 'fanout-1k', subscribers: 1000, channels: 1, publishers: 1, pacedDeliveriesPerSecond: 20_000 },
  'fanout-10k': { id: 'fanout-10k', subscribers: 10_000, channels: 1, publishers: 1, pacedDeliveriesPerSecond: 20_000 },
  'channels-10k': { id: 'channels-10k', subscribers: 10_000, channels: 1000, publishers: 10, pacedDeliveriesPerSecond: 20_000 },
  'channels-2k': { id: 'channels-2k', subscribers: 2000, channels: 200, publishers: 10, pacedDeliveriesPerSecond: 20_000 },
};

/**
 * Whether `spec`'s paced load is taken one publication at a time: when each publication goes to 10k
 * subscribers, the paced rate is 2 publications a second and a window would hold few (two servers measured
 * a publication apart see the same machine, where windows of 2.5 s saw different stalls).
 * @param {FanOutSpec} spec
 * @returns {boolean}
 */
export function takesSingles(spec) {
  return spec.subscribers / spec.channels >= 10_000;
}

/**
 * A server's paced turn in `spec`: one publication (see `takesSingles`), or a 1 s window at the paced rate
 * after 300 ms of warm-up.
 * @param {FanOutSpec} spec
 * @returns {(bench: FanOutBench) => Promise<PacedWindow>}
 */
export function pacedTurn(spec) {
  return takesSingles(spec) ? (bench) => bench.single(SINGLE_GAP_MS) : (bench) => bench.paced(300, 1000);
}

/**
 * One server with its subscribers and publishers connected, kept open while the comparison runs.
 * Several are open at once so that their paced windows can take turns (see `compareFanOut`).
 */
export class FanOutBench {
  /** @type {import('../lib/server-process.js').ServerVariant} */ variant;
  /** @type {FanOutSpec} */ spec;
  /** @type {ServerProcess} */ server;
  /** @type {GeneratorPool} */ pool;
  /** @type {Omit<import('../lib/generator.js').PublishCommand, 'durationMs' | 'ratePerSecond'>} */ base;

  /**
   * @param {import('../lib/server-process.js').ServerVariant} variant
   * @param {FanOutSpec} spec
   * @param {ServerProcess} server
   * @param {GeneratorPool} pool
   */
  constructor(variant, spec, server, pool) {
    this.variant = variant;
    this.spec = spec;
    this.server = server;
    this.pool = pool;
    const channels = Array.from({ length: spec.channels }, (_, index) => `${spec.id}.${index}`);
    this.base = {
      channels, publishers: spec.publishers, window: Math.min(64, 8 * spec.publishers), deliveriesPerPublish: spec.subscribers / spec.channels,
      maxBacklog: BACKLOG_PER_SUBSCRIBER * spec.subscribers, payloadBytes: PAYLOAD_BYTES,
    };
  }

  /**
   * Start the server and connect every subscriber and publisher.
   * @param {import('../lib/server-process.js').ServerVariant} variant
   * @param {import('../lib/fleet.js').RunContext} ctx
   * @param {FanOutSpec} spec
   * @returns {Promise<FanOutBench>}
   */
  static async open(variant, ctx, spec) {
    const server = await ServerProcess.start(variant);
    const pool = new GeneratorPool(3);
    const bench = new FanOutBench(variant, spec, server, pool);
    try {
      await openSpread(ctx, {
        pool, generators: SUBSCRIBERS, server, total: spec.subscribers, firstIndex: 0,
        encoding: spec.encoding, deflate: spec.deflate, channels: bench.base.channels, sampleEvery: SAMPLE_EVERY,
      });
      await openSpread(ctx, { pool, generators: [PUBLISHER], server, total: spec.publishers, firstIndex: 0, encoding: spec.encoding, deflate: spec.deflate });
      await pause(300);
      return bench;
    } catch (error) {
      await bench.close();
      throw error;
    }
  }

  /** A label for logs. */
  get label() {
    return `${this.spec.id} ${this.variant.label}${this.spec.encoding === 'msgpack' ? ' msgpack' : ''}`;
  }

  /**
   * As fast as the bounded window allows: throughput per server CPU-second.
   * @param {import('../lib/fleet.js').RunContext} ctx
   * @returns {Promise<Phase>}
   */
  async saturated(ctx) {
    const { phase: result } = await phase(this.server, this.pool, { ...this.base, ratePerSecond: 0 }, ctx.quick ? 500 : 1000, ctx.quick ? 2000 : 3000);
    return result;
  }

  /**
   * The same offered load for every server, for `windowMs`: publish-to-deliver latency.
   * @param {number} warmupMs
   * @param {number} windowMs
   * @returns {Promise<{ phase: Phase; samples: Array<{ values: number[]; seen: number; max: number }> }>}
   */
  paced(warmupMs, windowMs) {
    const rate = this.spec.pacedDeliveriesPerSecond / this.base.deliveriesPerPublish;
    return phase(this.server, this.pool, { ...this.base, ratePerSecond: rate }, warmupMs, windowMs);
  }

  /**
   * One publication, then `gapMs` for it to reach every subscriber (longer if it has not yet): the
   * latency of a single fan-out, with the server's CPU for it. At 10k subscribers, where a paced window
   * holds only a few publications, servers take turns publication by publication (see `compareFanOut`).
   * @param {number} gapMs
   * @returns {Promise<PacedWindow>}
   */
  async single(gapMs) {
    const start = await this.pool.callEach(SUBSCRIBERS, 'stats', () => ({ reset: true }));
    const watch = new Stopwatch(this.server);
    const run = await this.pool.call(PUBLISHER, 'publish', { ...this.base, ratePerSecond: 0, limit: 1, durationMs: gapMs });
    const delivered = await drain(this.pool, sumDelivered(start) + run.published * this.base.deliveriesPerPublish);
    const after = await this.pool.callEach(SUBSCRIBERS, 'stats', () => ({ reset: true }));
    const window = watch.end();
    return measured(run.published, delivered - sumDelivered(start), window, after);
  }

  /**
   * Unmeasured, before everything else: HISTORY_FILL_PER_CHANNEL publications to every channel, as fast as the window
   * allows, and the wait until all are delivered. Switchyard's history is then full, as it is on a server whose
   * channels have been in use for a few minutes: appends then trim what they displace, in buffers that no longer grow.
   * While history fills, it is memory the server really gains, and V8 brings full collections forward for it: in
   * paired runs of many channels, five in 20 turns against three for `ws` and for Switchyard with history off
   * (docs/performance.md, item 22). Every server takes the same load, whether it keeps history or not.
   * @returns {Promise<number>} publications made
   */
  async fillHistory() {
    const start = await this.pool.callEach(SUBSCRIBERS, 'stats', () => ({ reset: true }));
    const limit = HISTORY_FILL_PER_CHANNEL * this.base.channels.length;
    // The publisher keeps the subscribers' backlog bounded by the progress relayed to it, as in every phase.
    this.pool.relayProgressTo(PUBLISHER);
    const run = await this.pool.call(PUBLISHER, 'publish', { ...this.base, ratePerSecond: 0, limit, endAtLimit: true, durationMs: FILL_TIMEOUT_MS });
    this.pool.relayProgressTo(undefined);
    await drain(this.pool, sumDelivered(start) + run.published * this.base.deliveriesPerPublish);
    await this.pool.callEach(SUBSCRIBERS, 'stats', () => ({ reset: true }));
    return run.published;
  }

  /** @returns {Promise<Record<string, number>>} close codes the subscribers saw so far */
  async closes() {
    const stats = await this.pool.callEach(SUBSCRIBERS, 'stats', () => ({ reset: false }));
    /** @type {Record<string, number>} */
    const codes = {};
    for (const part of stats) for (const [code, count] of Object.entries(/** @type {Record<string, number>} */ (part.closes))) codes[code] = (codes[code] ?? 0) + count;
    return codes;
  }

  async close() {
    try {
      await closeEverything(this.pool);
    } finally {
      await this.pool.stop();
      await this.server.stop();
    }
  }
}

/**
 * How the paced load is taken: `turns` turns per round, in each of which every server takes `take`
 * (a paced window, or a single publication) in `turnOrder`.
 * @typedef {object} PacedTurns
 * @property {number} turns
 * @property {number} round      numbers this round (see `compareFanOut`)
 * @property {number} firstTurn  numbers this round's first turn (see `turnOrder`)
 * @property {(bench: FanOutBench) => Promise<PacedWindow>} take
 */

/**
 * Every server of `benches` in turn: one saturated phase each, a full collection in each (`collectEverywhere`),
 * then the paced load, taking turns,
 * so that whatever else loads the machine meanwhile weighs on all of them alike. A server's paced
 * figures pool the samples of all its turns. The saturated phases start with a different server each
 * round: the first waits longest for the paced turns, and V8 shrinks an idle process's young generation
 * (in a trial, the server warmed first began its turns with 13–26 MB of new space, the one warmed last with
 * 32 MB), and a smaller young generation is collected more often.
 * @param {FanOutBench[]} benches
 * @param {import('../lib/fleet.js').RunContext} ctx
 * @param {PacedTurns} paced
 * @returns {Promise<{ results: FanOutResult[]; windows: PacedWindow[][] }>} one result per bench, and each bench's paced turns
 */
export async function compareFanOut(benches, ctx, paced) {
  /** @type {Phase[]} */
  const saturated = [];
  // An even turn number only rotates (see `turnOrder`): round r starts with server r.
  for (const index of turnOrder(benches.length, 2 * paced.round)) {
    saturated[index] = await /** @type {FanOutBench} */ (benches[index]).saturated(ctx);
    await pause(300);
  }
  await collectEverywhere(benches);
  /** @type {PacedWindow[][]} */
  const windows = benches.map(() => []);
  for (let turn = 0; turn < paced.turns; turn++) {
    for (const index of turnOrder(benches.length, paced.firstTurn + turn)) {
      windows[index]?.push(await paced.take(/** @type {FanOutBench} */ (benches[index])));
    }
  }
  /** @type {FanOutResult[]} */
  const results = [];
  for (const [index, bench] of benches.entries()) {
    const mine = windows[index] ?? [];
    const pacedPhase = pooled(mine);
    const result = { subscribers: bench.spec.subscribers, channels: bench.spec.channels, saturated: /** @type {Phase} */ (saturated[index]), paced: pacedPhase, unexpectedCloses: await bench.closes() };
    ctx.log(`  ${bench.label}: ${result.saturated.perSecond}/s, ${result.saturated.perCpuSecond}/cpu-s, p99 ${result.saturated.latencyMs.p99} ms; paced p50 ${result.paced.latencyMs.p50} ms, p99 ${result.paced.latencyMs.p99} ms (${mine.length} turns)`);
    results.push(result);
  }
  return { results, windows };
}

/**
 * A full garbage collection in every server of `benches`, one after another, before their paced turns.
 * V8 starts a full collection when the old generation outgrows a threshold that it sets at the previous one
 * (from the live size and the rate of promotion then). Left as the saturated phase leaves it, whether a server
 * collects during the paced turns is chance: in paired trials Switchyard made five or six full collections in
 * 20 turns four times and none in two other runs, while `ws`, whose threshold still dated from its start, made none.
 * After a collection here, every server collects at the rate its own promotion sets, as a long-running server
 * does (docs/performance.md, item 17).
 * @param {FanOutBench[]} benches
 * @returns {Promise<void>}
 */
export async function collectEverywhere(benches) {
  for (const bench of benches) await bench.server.collectGarbage();
}

/**
 * The order in which `count` servers take paced turn number `turn`: turns come in pairs, one order
 * and then its reverse, and each pair rotates by one. Over 2 × count turns every server goes first
 * twice, and none always follows the same neighbour (whose clients may still be draining, or whose
 * generator may be collecting garbage, as the next window begins).
 * @param {number} count
 * @param {number} turn
 * @returns {number[]}
 */
export function turnOrder(count, turn) {
  const rotation = Math.floor(turn / 2);
  const order = Array.from({ length: count }, (_, index) => (index + rotation) % count);
  return turn % 2 === 1 ? order.reverse() : order;
}

/** @typedef {{ phase: Phase; samples: Array<{ values: number[]; seen: number; max: number }> }} PacedWindow  a paced window with its raw latency samples */

/**
 * Several windows of one server as one phase: counts and CPU summed, latency over every sample (a
 * tail percentile is only as good as the samples behind it, so windows are pooled, not averaged).
 * @param {PacedWindow[]} windows
 * @returns {Phase}
 */
export function pooled(windows) {
  const phases = windows.map((window) => window.phase);
  const samples = windows.flatMap((window) => window.samples);
  const first = /** @type {Phase} */ (phases[0]);
  const published = phases.reduce((sum, item) => sum + item.published, 0);
  const deliveries = phases.reduce((sum, item) => sum + item.deliveries, 0);
  const seconds = phases.reduce((sum, item) => sum + item.window.seconds, 0);
  const serverCpu = phases.reduce((sum, item) => sum + item.window.serverCpu, 0);
  const window = { ...first.window, seconds: Math.round(seconds * 1000) / 1000, serverCpu: Math.round(serverCpu * 100) / 100, serverCpuPercent: seconds > 0 ? Math.round((1000 * serverCpu) / seconds) / 10 : 0 };
  return {
    published, deliveries, perSecond: seconds > 0 ? Math.round(deliveries / seconds) : 0, perCpuSecond: perCpuSecond(deliveries, window),
    latencyMs: percentiles(samples), window,
  };
}

/**
 * Publish for warm-up + window; count deliveries and collect latency inside the window only.
 * @param {ServerProcess} server
 * @param {GeneratorPool} pool
 * @param {Omit<import('../lib/generator.js').PublishCommand, 'durationMs'>} command
 * @param {number} warmupMs
 * @param {number} windowMs
 * @returns {Promise<PacedWindow>} the phase, and its raw latency samples
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
  await drain(pool, sumDelivered(start) + run.published * command.deliveriesPerPublish);
  return measured(run.published, sumDelivered(after) - sumDelivered(before), window, after);
}

/**
 * A measured window as a phase, with its raw latency samples.
 * @param {number} published
 * @param {number} deliveries  counted inside the window
 * @param {import('../lib/measure.js').Window} window
 * @param {Array<{ latency: { values: number[]; seen: number; max: number } }>} stats  the subscriber generators' stats at its end
 * @returns {PacedWindow}
 */
function measured(published, deliveries, window, stats) {
  const samples = stats.map((part) => part.latency);
  return {
    phase: { published, deliveries, perSecond: Math.round(deliveries / window.seconds), perCpuSecond: perCpuSecond(deliveries, window), latencyMs: percentiles(samples), window },
    samples,
  };
}

/**
 * @param {Array<{ delivered: number }>} stats  the subscriber generators' stats
 * @returns {number} deliveries they counted in all
 */
function sumDelivered(stats) {
  return stats.reduce((sum, part) => sum + part.delivered, 0);
}

/**
 * Wait until the subscribers have counted `owed` deliveries in all, or DRAIN_TIMEOUT_MS has passed.
 * @param {GeneratorPool} pool
 * @param {number} owed
 * @returns {Promise<number>} deliveries counted when the wait ended
 */
async function drain(pool, owed) {
  let delivered = 0;
  for (let waited = 0; waited < DRAIN_TIMEOUT_MS; waited += 50) {
    delivered = sumDelivered(await pool.callEach(SUBSCRIBERS, 'stats', () => ({ reset: false })));
    if (delivered >= owed) break;
    await pause(50);
  }
  return delivered;
}
