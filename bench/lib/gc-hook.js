// Preloaded (--import) into every benchmarked server: answers the harness's IPC requests for a
// garbage-collected memory reading, the collections counted so far, the fan-out passes timed so far, or a
// heap snapshot. Bench-only; the servers themselves know nothing of it (they publish each fan-out's pass on
// a diagnostics channel, which anyone may read).
// @ts-check

import { subscribe } from 'node:diagnostics_channel';
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';
import { toMachineTime } from './clock.js';
import { percentiles } from './samples.js';

/**
 * A request from the harness (see ServerProcess): `id` comes back in the reply's `benchReply`.
 * @typedef {{ bench: 'memory' | 'collections' | 'passes' | 'heapSnapshot' | 'profileStart' | 'profileStop'; id: number; path?: string; kind?: ProfileKind }} Request
 */

/**
 * Collections by kind since the harness first asked for them.
 * @typedef {object} Collections
 * @property {number} scavenges    young-generation collections
 * @property {number} scavengeMs   their pauses, in all
 * @property {number} full         full (mark-compact) collections
 * @property {number} fullMs       their pauses, in all
 */

/**
 * Fan-out passes since the previous `passes` request, timed from the publisher's send time (the `t` each bench
 * payload carries, on the clock of clock.js): when the server began
 * writing the publication to its subscribers, and when it had written it to all of them. Medians, ms.
 * @typedef {object} Passes
 * @property {number} count
 * @property {number} beganP50
 * @property {number} endedP50
 */

/**
 * The channel Switchyard publishes each held fan-out's pass on (its FANOUT_PASS_CHANNEL); bench/servers/plain-ws-server.js
 * does the same. Named here, not imported: this hook is preloaded into the `ws` and Socket.IO servers too, which must
 * not load Switchyard's modules.
 */
const FANOUT_PASS_CHANNEL = 'switchyard:fanout-pass';

/** Pass times since the last request, once the harness has asked. @type {{ began: number[]; ended: number[] } | undefined} */
let passes;
/** Passes kept between two requests at most (a pair run of many channels makes about 40,000). */
const MAX_PASSES = 200_000;

/** @returns {{ began: number[]; ended: number[] }} */
function timePasses() {
  /** @type {{ began: number[]; ended: number[] }} */
  const timed = { began: [], ended: [] };
  subscribe(FANOUT_PASS_CHANNEL, (message) => {
    const pass = /** @type {{ message?: { data?: { t?: unknown } }; startedAt: number; endedAt: number }} */ (message);
    const sentAt = pass.message?.data?.t;
    if (typeof sentAt !== 'number' || timed.began.length >= MAX_PASSES) return;
    timed.began.push(toMachineTime(pass.startedAt) - sentAt);
    timed.ended.push(toMachineTime(pass.endedAt) - sentAt);
  });
  return timed;
}

/** @returns {Passes} */
function takePasses() {
  const timed = (passes ??= timePasses());
  const p50 = (/** @type {number[]} */ values) => percentiles([{ values, seen: values.length, max: 0 }]).p50;
  const reply = { count: timed.began.length, beganP50: p50(timed.began), endedP50: p50(timed.ended) };
  timed.began = [];
  timed.ended = [];
  return reply;
}

/** @param {number} ms */
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counted only from the first request on: the servers of a full run never pay for the observer. @type {Collections | undefined} */
let collections;

/** @returns {Collections} */
function countCollections() {
  /** @type {Collections} */
  const counted = { scavenges: 0, scavengeMs: 0, full: 0, fullMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // Node puts the kind of a 'gc' entry in `detail`, which the PerformanceEntry type does not declare.
      const kind = /** @type {{ detail?: { kind?: number } }} */ (/** @type {unknown} */ (entry)).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        counted.scavenges++;
        counted.scavengeMs += entry.duration;
      } else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        counted.full++;
        counted.fullMs += entry.duration;
      }
    }
  }).observe({ entryTypes: ['gc'] });
  return counted;
}

/**
 * Collect garbage, then read the heap.
 * @returns {Promise<Record<string, unknown>>}
 */
async function memory() {
  const collect = /** @type {(() => void) | undefined} */ (globalThis.gc);
  // Two rounds with a pause: finalizers and weak callbacks of the first round free more in the second.
  for (let round = 0; round < 2; round++) {
    collect?.();
    await pause(100);
  }
  const usage = process.memoryUsage();
  return { heapUsed: usage.heapUsed, external: usage.external, arrayBuffers: usage.arrayBuffers, rss: usage.rss, gc: collect !== undefined };
}

/**
 * What a profile records: `cpu`, where the time goes (a .cpuprofile), or `heap`, where memory is allocated (a
 * .heapprofile from V8's sampling heap profiler, counting objects that collections have freed since, so it shows
 * what each call site allocates, not what it keeps).
 * @typedef {'cpu' | 'heap'} ProfileKind
 */

/** The inspector session of a profile being taken, and its kind. @type {{ session: import('node:inspector').Session; kind: ProfileKind } | undefined} */
let profiling;

/**
 * Post `method` to the inspector session `session`.
 * @param {import('node:inspector').Session} session
 * @param {string} method
 * @param {object} [params]
 * @returns {Promise<any>}
 */
function post(session, method, params = {}) {
  return new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
}

/**
 * Start a profile of just the stretch the harness wants (bench/pair.js --profile, --heap-profile): unlike --cpu-prof,
 * which covers the whole life of the process, saturated phases and start-up included.
 * @param {ProfileKind} kind
 * @returns {Promise<Record<string, unknown>>}
 */
async function profileStart(kind) {
  if (profiling !== undefined) throw new Error('a profile is already being taken');
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  if (kind === 'heap') {
    // A sample about every 4 KiB allocated; objects that collections freed since stay in the profile.
    await post(session, 'HeapProfiler.enable');
    await post(session, 'HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  } else {
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: 200 });
    await post(session, 'Profiler.start');
  }
  profiling = { session, kind };
  return {};
}

/**
 * Stop the profile and write it to `path` (a .cpuprofile or .heapprofile that Chrome DevTools opens).
 * @param {string} path
 * @returns {Promise<Record<string, unknown>>}
 */
async function profileStop(path) {
  if (profiling === undefined) throw new Error('no profile is being taken');
  const { session, kind } = profiling;
  profiling = undefined;
  const { profile } = await post(session, kind === 'heap' ? 'HeapProfiler.stopSampling' : 'Profiler.stop');
  session.disconnect();
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path, JSON.stringify(profile));
  return kind === 'heap' ? { path, allocatedBytes: sampledBytes(profile.head) } : { path };
}

/**
 * The bytes a sampling heap profile's samples stand for, in all: V8 scales each sample to the allocation it
 * represents, so this estimates what was allocated while it ran.
 * @param {{ selfSize: number; children: any[] }} node  any: the inspector's SamplingHeapProfileNode, recursive
 * @returns {number}
 */
function sampledBytes(node) {
  let bytes = node.selfSize;
  for (const child of node.children) bytes += sampledBytes(child);
  return bytes;
}

/**
 * @param {Request} request
 * @returns {Promise<Record<string, unknown>>}
 */
async function answer(request) {
  if (request.bench === 'memory') return memory();
  if (request.bench === 'collections') return { ...(collections ??= countCollections()) };
  if (request.bench === 'passes') return { ...takePasses() };
  if (request.bench === 'profileStart') return profileStart(request.kind ?? 'cpu');
  if (request.bench === 'profileStop') return profileStop(String(request.path));
  // For digging into memory per connection by hand (see docs/performance.md); no scenario uses it.
  const v8 = await import('node:v8');
  return { path: v8.writeHeapSnapshot(request.path) };
}

process.on('message', (message) => {
  const request = /** @type {Partial<Request> | null} */ (message);
  if (typeof request !== 'object' || request === null || typeof request.id !== 'number' || request.bench === undefined) return;
  const id = request.id;
  void answer(/** @type {Request} */ (request)).then((reply) => process.send?.({ benchReply: id, ...reply }));
});
// The IPC channel must not keep a server alive that was asked to stop, and a server whose harness
// went away (crashed, killed) stops too instead of lingering.
process.channel?.unref();
process.on('disconnect', () => process.exit(0));
