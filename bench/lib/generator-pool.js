// The coordinator's handle on its load-generator processes: request/reply over IPC, and the
// delivery progress they report, relayed to whichever generator is publishing.
// @ts-check

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./generator.js', import.meta.url));
/** Longest any one generator command may take before the run gives up on it. */
const COMMAND_TIMEOUT_MS = 120_000;

/** A set of generator processes. */
export class GeneratorPool {
  /** @type {import('node:child_process').ChildProcess[]} */ #children;
  #nextRid = 0;
  /** @type {Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>} any: each command's result shape is known to its caller */
  #waiting = new Map();
  /** Latest delivery count reported by each generator. @type {number[]} */
  delivered;
  /** Generator that publishes now and gets the fleet's progress, if any. @type {number | undefined} */
  #publisher;
  /** Delivery counts when the current publish run began. @type {number[]} */
  #baseline = [];
  /** Generators holding the subscribers of the current publish run. @type {number[]} */
  #subscribers = [];

  /** @param {number} size */
  constructor(size) {
    this.delivered = new Array(size).fill(0);
    this.#children = Array.from({ length: size }, (_, index) => {
      const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('message', (message) => this.#receive(index, message));
      return child;
    });
  }

  get size() {
    return this.#children.length;
  }

  /** @returns {number[]} PIDs of the generators */
  get pids() {
    return this.#children.map((child) => child.pid ?? 0);
  }

  /**
   * @param {number} index
   * @param {unknown} message
   */
  #receive(index, message) {
    const reply = /** @type {{ rid?: number; result?: unknown; error?: string; progress?: number }} */ (message);
    if (typeof reply.progress === 'number') {
      this.delivered[index] = reply.progress;
      if (this.#publisher !== undefined) {
        // The slowest generator sets the pace: an average would let one starved process fall seconds behind.
        const slowest = Math.min(...this.#subscribers.map((i) => (this.delivered[i] ?? 0) - (this.#baseline[i] ?? 0)));
        this.#children[this.#publisher]?.send({ fleetDelivered: slowest * this.#subscribers.length });
      }
      return;
    }
    if (reply.rid === undefined) return;
    const waiter = this.#waiting.get(reply.rid);
    this.#waiting.delete(reply.rid);
    if (reply.error !== undefined) waiter?.reject(new Error(reply.error));
    else waiter?.resolve(reply.result);
  }

  /**
   * Run one command on generator `index`.
   * @param {number} index
   * @param {string} cmd
   * @param {unknown} [args]
   * @returns {Promise<any>} any: the command's own result shape, typed by the caller
   */
  call(index, cmd, args = {}) {
    const rid = ++this.#nextRid;
    const child = this.#children[index];
    if (child === undefined) return Promise.reject(new Error(`no generator ${index}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(rid);
        reject(new Error(`generator ${index}: ${cmd} timed out`));
      }, COMMAND_TIMEOUT_MS);
      this.#waiting.set(rid, {
        resolve: (value) => { clearTimeout(timer); resolve(value); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      });
      child.send({ rid, cmd, args });
    });
  }

  /**
   * Run one command on several generators at once.
   * @param {number[]} indexes
   * @param {string} cmd
   * @param {(index: number, position: number) => unknown} args
   * @returns {Promise<any[]>} any: see call()
   */
  callEach(indexes, cmd, args) {
    return Promise.all(indexes.map((index, position) => this.call(index, cmd, args(index, position))));
  }

  /**
   * Relay the fleet's deliveries (counted from now, paced by the slowest of the other generators,
   * which hold the subscribers) to generator `index` while it publishes.
   * @param {number | undefined} index
   */
  relayProgressTo(index) {
    this.#publisher = index;
    this.#subscribers = this.delivered.map((_, position) => position).filter((position) => position !== index);
    this.#baseline = [...this.delivered];
  }

  /** Disconnect every generator (they exit on disconnect) and wait, killing stragglers after 10 s. */
  async stop() {
    await Promise.all(this.#children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.connected) child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }));
  }
}
