// Starts each benchmarked server in its own child process and reads its CPU time and memory.
// @ts-check

import { fork, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, cpuTimes, rssBytes } from './proc-stats.js';

/** @typedef {'switchyard' | 'ws' | 'socketio'} ServerKind */

/**
 * @typedef {object} ServerVariant
 * @property {ServerKind} kind
 * @property {string} label      name in the tables (e.g. "switchyard", "switchyard+deflate")
 * @property {string[]} [flags]  extra command-line flags (Switchyard only); one written `node:<flag>` goes to Node,
 *                               such as `node:--max-semi-space-size=2`
 * @property {string} [script]   another build's server to run (a `packages/server/dist/cli.js`; Switchyard only)
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const gcHook = new URL('./gc-hook.js', import.meta.url).href;

/**
 * `label` as part of a file name: anything but letters, digits, `.`, `+` and `-` becomes `-`.
 * @param {string} label
 * @returns {string}
 */
export function fileNameOf(label) {
  return label.replace(/[^\w.+-]+/g, '-');
}

/**
 * Limits raised so that the bench measures the server, not its abuse protection. History stays on. The rate
 * limit stays on but cannot bind in a run: a burst of 10^9 at 1,000 a second is 10^9 ms of credit. Its interval,
 * 1 ms, is a whole number as with the default rate (100 a second, 10 ms), so the session keeps its limit as a
 * small integer as a default server does; 1,000,000 a second (0.001 ms) made it a heap number per session.
 */
const SWITCHYARD_FLAGS = [
  '--host', '127.0.0.1', '--no-demo', '--no-dashboard', '--log-level', 'warn',
  '--rate-limit-per-second', '1000', '--rate-limit-burst', '1000000000',
  '--max-connections-per-ip', '1000000', '--max-connections', '1000000',
  '--heartbeat-ms', '600000', '--namespace', ':maxSubscribers=100000',
];

/**
 * A server as named on the command line of bench/pair.js and bench/instructions.js.
 * @param {string} text  switchyard | ws | socket.io | "<label>=<switchyard or a build's packages/server/dist/cli.js> [flag...]"
 * @returns {ServerVariant}
 */
export function parseVariant(text) {
  if (text === 'switchyard') return { kind: 'switchyard', label: 'switchyard' };
  if (text === 'ws') return { kind: 'ws', label: 'ws' };
  if (text === 'socket.io') return { kind: 'socketio', label: 'socket.io' };
  const at = text.indexOf('=');
  if (at <= 0) throw new Error(`"${text}" is not switchyard, ws, socket.io or <label>=<server> [flag...]`);
  const [server = '', ...flags] = text.slice(at + 1).trim().split(/\s+/);
  if (server !== 'switchyard' && !server.endsWith('.js')) throw new Error(`"${text}": after the label comes switchyard or a build's dist/cli.js`);
  /** @type {ServerVariant} */
  const variant = { kind: 'switchyard', label: text.slice(0, at), flags };
  if (server !== 'switchyard') variant.script = resolve(server);
  return variant;
}

/**
 * Every server's young generation, fixed at V8's default maximum (two semi-spaces of 16 MB). Left to itself, V8 sizes
 * it by each process's recent past: it shrinks the young generation of a process that sat idle (as each server does
 * while the others take their turns) and grows it back only when much survives, which paced load never makes. In
 * paired runs that left one server or another, by chance, collecting young garbage 2 to 18 times as often as the rest
 * for the whole run (docs/performance.md, item 22). A variant's own node: flags come later and win.
 */
const YOUNG_GENERATION = ['--min-semi-space-size=16', '--max-semi-space-size=16'];

/** The prefix of a variant's flag that is Node's, not the server's. */
const NODE_FLAG = 'node:';

/**
 * The Node flags among `variant`'s flags, prefix removed.
 * @param {ServerVariant} variant
 * @returns {string[]}
 */
function nodeFlagsOf(variant) {
  return (variant.flags ?? []).filter((flag) => flag.startsWith(NODE_FLAG)).map((flag) => flag.slice(NODE_FLAG.length));
}

/** @returns {Promise<number>} a TCP port free on 127.0.0.1 right now */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** @param {number} ms */
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function accepts(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A running server child. */
export class ServerProcess {
  /** @type {ServerVariant} */ variant;
  /** @type {number} */ port;
  /** @type {import('node:child_process').ChildProcess} */ #child;
  #lastRequest = 0;
  /** Requests to the server's GC hook waiting for their reply, by id. @type {Map<number, (reply: Record<string, unknown>) => void>} */
  #waiting = new Map();

  /**
   * @param {ServerVariant} variant
   * @param {number} port
   * @param {import('node:child_process').ChildProcess} child
   */
  constructor(variant, port, child) {
    this.variant = variant;
    this.port = port;
    this.#child = child;
    child.on('message', (message) => {
      const reply = /** @type {{ benchReply?: number } | null} */ (message);
      if (typeof reply?.benchReply !== 'number') return;
      this.#waiting.get(reply.benchReply)?.(/** @type {Record<string, unknown>} */ (reply));
      this.#waiting.delete(reply.benchReply);
    });
  }

  /**
   * Start a server and wait until it accepts TCP connections (at most 15 s, or `startMs`).
   * @param {ServerVariant} variant
   * @param {{ launcher?: string[]; startMs?: number }} [how]  `launcher`: a command the server runs under (valgrind)
   * @returns {Promise<ServerProcess>}
   */
  static async start(variant, how = {}) {
    const port = await freePort();
    /** @type {string} */
    let script;
    /** @type {string[]} */
    let args;
    if (variant.kind === 'switchyard') {
      script = variant.script ?? `${root}packages/server/dist/cli.js`;
      args = ['--port', String(port), ...SWITCHYARD_FLAGS, ...(variant.flags ?? []).filter((flag) => !flag.startsWith(NODE_FLAG))];
    } else {
      script = fileURLToPath(new URL(`../servers/${variant.kind === 'ws' ? 'plain-ws' : 'socketio'}-server.js`, import.meta.url));
      args = [String(port)];
    }
    // BENCH_CPU_PROF_DIR=<dir> writes a V8 CPU profile of every server into <dir> when it stops.
    const profileDir = process.env['BENCH_CPU_PROF_DIR'];
    const profile = profileDir === undefined || profileDir === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${variant.label}-${Date.now()}.cpuprofile`];
    // BENCH_TRACE_GC_DIR=<dir> runs every server with --trace-gc, its output in <dir>/<label>-<time>.log.
    const traceDir = process.env['BENCH_TRACE_GC_DIR'];
    if (traceDir !== undefined && traceDir !== '') mkdirSync(traceDir, { recursive: true });
    const trace = traceDir === undefined || traceDir === '' ? undefined : openSync(join(traceDir, `${fileNameOf(variant.label)}-${Date.now()}.log`), 'w');
    const execArgv = ['--expose-gc', '--import', gcHook, ...YOUNG_GENERATION, ...profile, ...(trace === undefined ? [] : ['--trace-gc']), ...nodeFlagsOf(variant)];
    /** @type {import('node:child_process').StdioOptions} */
    const stdio = ['ignore', trace ?? 'inherit', 'inherit', 'ipc'];
    const [command, ...launcherArgs] = how.launcher ?? [];
    const child = command === undefined
      ? fork(script, args, { execArgv, stdio })
      : spawn(command, [...launcherArgs, process.execPath, ...execArgv, script, ...args], { stdio });
    if (trace !== undefined) closeSync(trace);
    const server = new ServerProcess(variant, port, child);
    const deadline = performance.now() + (how.startMs ?? 15_000);
    while (performance.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${variant.label} exited with ${child.exitCode} at start`);
      if (await accepts(port)) return server;
      await pause(50);
    }
    server.stop();
    throw new Error(`${variant.label} did not listen within ${Math.round((how.startMs ?? 15_000) / 1000)} s`);
  }

  /** @returns {number} */
  get pid() {
    return this.#child.pid ?? 0;
  }

  /** @returns {string} */
  get url() {
    return this.variant.kind === 'socketio' ? `ws://127.0.0.1:${this.port}` : `ws://127.0.0.1:${this.port}/ws`;
  }

  /** @returns {number} user + system CPU seconds so far */
  cpu() {
    return cpuSeconds(this.pid);
  }

  /** @returns {{ user: number; system: number }} user and system CPU seconds so far */
  cpuTimes() {
    return cpuTimes(this.pid);
  }

  /** @returns {number} VmRSS in bytes */
  rss() {
    return rssBytes(this.pid);
  }

  /**
   * Collect garbage in the server, then read its heap and RSS.
   * @returns {Promise<{ heapUsed: number; external: number; arrayBuffers: number; rss: number }>}
   */
  async memoryAfterGc() {
    const reading = /** @type {{ heapUsed: number; external: number; arrayBuffers: number }} */ (await this.#ask('memory'));
    return { heapUsed: reading.heapUsed, external: reading.external, arrayBuffers: reading.arrayBuffers, rss: this.rss() };
  }

  /**
   * Collect all garbage in the server now (two full collections, as for a memory reading). Before paced turns,
   * so that every server begins them with only live data in its old generation, and V8 sets the next
   * full collection's threshold from that alone (see `compareFanOut`).
   * @returns {Promise<void>}
   */
  async collectGarbage() {
    await this.#ask('memory');
  }

  /**
   * Garbage collections in the server since the first call, which starts counting them (bench/pair.js).
   * @returns {Promise<import('./gc-hook.js').Collections>}
   */
  async collections() {
    return /** @type {import('./gc-hook.js').Collections} */ (await this.#ask('collections'));
  }

  /**
   * Fan-out passes in the server since the previous call; the first call starts timing them (bench/pair.js --passes).
   * @returns {Promise<import('./gc-hook.js').Passes>}
   */
  async passes() {
    return /** @type {import('./gc-hook.js').Passes} */ (await this.#ask('passes'));
  }

  /**
   * Write a V8 heap snapshot of the server to `path` (for investigations by hand).
   * @param {string} path
   * @returns {Promise<void>}
   */
  async heapSnapshot(path) {
    await this.#ask('heapSnapshot', path, 120_000);
  }

  /**
   * Start a profile in the server: CPU (bench/pair.js --profile) or allocation (--heap-profile).
   * @param {import('./gc-hook.js').ProfileKind} [kind]
   * @returns {Promise<void>}
   */
  async profileStart(kind = 'cpu') {
    await this.#ask('profileStart', undefined, undefined, kind);
  }

  /**
   * Stop the server's profile and write it to `path`. For an allocation profile, also the bytes it estimates were
   * allocated while it ran.
   * @param {string} path
   * @returns {Promise<{ allocatedBytes?: number }>}
   */
  async profileStop(path) {
    const reply = await this.#ask('profileStop', path, 60_000);
    return typeof reply['allocatedBytes'] === 'number' ? { allocatedBytes: reply['allocatedBytes'] } : {};
  }

  /**
   * Ask the server's GC hook (gc-hook.js) and wait for its answer.
   * @param {import('./gc-hook.js').Request['bench']} bench
   * @param {string} [path]
   * @param {number} [timeoutMs]
   * @param {import('./gc-hook.js').ProfileKind} [kind]  of a profileStart request
   * @returns {Promise<Record<string, unknown>>}
   */
  #ask(bench, path, timeoutMs = 10_000, kind = undefined) {
    const id = ++this.#lastRequest;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`${this.variant.label} did not answer the ${bench} request`));
      }, timeoutMs);
      this.#waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.#child.send({ bench, id, ...(path === undefined ? {} : { path }), ...(kind === undefined ? {} : { kind }) });
    });
  }

  /** Stop the server (SIGTERM, then SIGKILL after 3 s) and wait for it to exit. */
  async stop() {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}
