// A second thread that shares the writes of a large fan-out pass. A pass to 10k sockets is 10k write system calls,
// about 10 µs each, nearly all of it in the kernel; one thread makes them one after another while the machine's
// other cores may sit idle. The helper takes chunks of the pass's descriptors from the same cursor as the main
// thread, so the two end together, whichever of them the machine runs faster.
//
// What keeps it safe (see architecture.md, "Parallel writes"):
// - The main thread hands over only descriptors that `directlyWritable` allows, so a helper's write overtakes
//   nothing, and it stays inside the pass until the helper has finished: no other code runs meanwhile, so no
//   socket is written, destroyed or replaced by a new one with the same descriptor.
// - What the kernel did not take of the helper's writes, the main thread gives to the sockets' streams after
//   the helper has finished, as it does for its own; nothing else is written to those sockets before that.
// - The helper claims a pass with a compare-and-swap: a pass the main thread finished before the helper woke is
//   taken back the same way, so a late helper never writes into a pass that is over.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { tryWrite } from './direct-write.js';

/** The control words shared with the helper. */
const STATE = 0;
const CURSOR = 1;
const COUNT = 2;
const FRAME_LENGTH = 3;
const CONTROL_WORDS = 4;

/** The states of a pass, in STATE. */
const IDLE = 0;
const ARMED = 1;
const RUNNING = 2;
const DONE = 3;
const STOP = 4;

/** Descriptors per claim, by default: small enough that neither thread waits long for the other's last chunk. */
const CHUNK = 32;

/** The most a pass may hand over: the descriptor and result arrays grow up to this many entries. */
const MAX_DESCRIPTORS = 1 << 22;

/** The largest frame the helper writes; a pass with a larger frame is written by the main thread alone. */
const MAX_FRAME_BYTES = 1 << 20;

const GROWTH_STEP = 1024;

/**
 * The helper's code: claim chunks of the armed pass and write the frame to each descriptor, recording the bytes the
 * kernel took (0 for EAGAIN or an error, which the main thread's stream write then meets and reports). Plain
 * CommonJS, evaluated in the worker, so that it needs no file of its own beside the compiled one.
 */
const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const control = new Int32Array(workerData.control);
const descriptors = new Int32Array(workerData.descriptors);
const results = new Int32Array(workerData.results);
const frameBuffer = workerData.frame;
const chunk = workerData.chunk;
for (;;) {
  let state = Atomics.load(control, ${STATE});
  while (state !== ${ARMED} && state !== ${STOP}) {
    Atomics.wait(control, ${STATE}, state);
    state = Atomics.load(control, ${STATE});
  }
  if (state === ${STOP}) break;
  if (Atomics.compareExchange(control, ${STATE}, ${ARMED}, ${RUNNING}) !== ${ARMED}) continue;
  try {
    const count = Atomics.load(control, ${COUNT});
    const frame = new Uint8Array(frameBuffer, 0, Atomics.load(control, ${FRAME_LENGTH}));
    for (let first = Atomics.add(control, ${CURSOR}, chunk); first < count; first = Atomics.add(control, ${CURSOR}, chunk)) {
      const end = Math.min(count, first + chunk);
      for (let index = first; index < end; index++) {
        let written = 0;
        try {
          written = writeSync(descriptors[index], frame);
        } catch {}
        results[index] = written;
      }
    }
  } finally {
    Atomics.store(control, ${STATE}, ${DONE});
    Atomics.notify(control, ${STATE});
  }
}
`;

/** What the main thread does with a descriptor whose write the kernel did not take whole: `slot` as handed over. */
export type Leftover = (slot: number, written: number) => void;

/** The helper thread, and the shared memory of the pass it helps with. */
export class WriteHelper {
  /** Smallest pass, in sockets, that the helper shares: smaller ones are not worth waking it for. */
  readonly minimum: number;
  /** Descriptors per claim. */
  readonly #chunk: number;
  readonly #worker: Worker;
  readonly #control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  readonly #descriptorMemory = new SharedArrayBuffer(GROWTH_STEP * 4, { maxByteLength: MAX_DESCRIPTORS * 4 });
  readonly #resultMemory = new SharedArrayBuffer(GROWTH_STEP * 4, { maxByteLength: MAX_DESCRIPTORS * 4 });
  readonly #frameMemory = new SharedArrayBuffer(GROWTH_STEP, { maxByteLength: MAX_FRAME_BYTES });
  /** Length-tracking views: they follow the memory as it grows. */
  readonly #descriptors = new Int32Array(this.#descriptorMemory);
  readonly #results = new Int32Array(this.#resultMemory);
  readonly #frame = new Uint8Array(this.#frameMemory);
  /** Where the main thread keeps each handed-over descriptor's place in its pass. */
  #slots = new Int32Array(GROWTH_STEP);
  #count = 0;
  #helped = 0;
  #online = false;
  #stopped = false;

  /**
   * Start a helper for passes to at least `minimum` sockets, or none: where `minimum` is 0 (the option off) or
   * the machine gives this process a single core, where a second thread would only take turns with the first.
   */
  static start(minimum: number, onError: (error: Error) => void, chunk = CHUNK): WriteHelper | undefined {
    if (minimum <= 0 || availableParallelism() < 2) return undefined;
    return new WriteHelper(minimum, onError, chunk);
  }

  private constructor(minimum: number, onError: (error: Error) => void, chunk: number) {
    this.minimum = minimum;
    this.#chunk = chunk;
    this.#worker = new Worker(HELPER_SOURCE, {
      eval: true,
      workerData: { control: this.#control.buffer, descriptors: this.#descriptorMemory, results: this.#resultMemory, frame: this.#frameMemory, chunk },
      // The helper allocates nothing per write: a small heap is all it needs.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    this.#worker.unref();
    this.#worker.once('online', () => {
      this.#online = !this.#stopped;
    });
    // A helper that fails is not restarted: passes go back to the main thread alone.
    this.#worker.once('error', (error) => {
      this.#online = false;
      onError(error);
    });
    this.#worker.once('exit', () => {
      this.#online = false;
    });
  }

  /** Whether a pass with `frame` can be shared now: the helper is up and the frame fits its memory. */
  accepts(frame: Buffer): boolean {
    return this.#online && frame.length <= MAX_FRAME_BYTES;
  }

  /** Begin collecting a pass's descriptors. */
  begin(): void {
    this.#count = 0;
  }

  /** Hand over `fd`, the connection at `slot` of the pass: the main thread has checked that it is directly writable. */
  add(fd: number, slot: number): void {
    const index = this.#count;
    if (index === this.#slots.length) this.#grow();
    (this.#descriptors as Int32Array)[index] = fd;
    (this.#slots as Int32Array)[index] = slot;
    this.#count = index + 1;
  }

  /** Descriptors the helper thread has written, over every pass. */
  get helped(): number {
    return this.#helped;
  }

  #grow(): void {
    const length = Math.min(MAX_DESCRIPTORS, this.#slots.length * 2);
    if (length === this.#slots.length) throw new RangeError(`a pass may hand over at most ${MAX_DESCRIPTORS} descriptors`);
    this.#descriptorMemory.grow(length * 4);
    this.#resultMemory.grow(length * 4);
    const slots = new Int32Array(length);
    slots.set(this.#slots);
    this.#slots = slots;
  }

  /**
   * Write `frame` to every collected descriptor, on this thread and the helper together, and return once both are
   * done. `leftover` gets each descriptor whose write the kernel did not take whole, by its slot, with the bytes it
   * took: this thread's own as it meets them, the helper's after the helper has finished. Returns how many of the
   * descriptors the helper wrote.
   */
  write(frame: Buffer, leftover: Leftover): number {
    const count = this.#count;
    const control = this.#control;
    const descriptors = this.#descriptors;
    const results = this.#results;
    const slots = this.#slots;
    const chunk = this.#chunk;
    if (this.#frame.length < frame.length) this.#frameMemory.grow(Math.min(MAX_FRAME_BYTES, Math.max(frame.length, this.#frame.length * 2)));
    this.#frame.set(frame);
    Atomics.store(control, COUNT, count);
    Atomics.store(control, FRAME_LENGTH, frame.length);
    Atomics.store(control, CURSOR, 0);
    Atomics.store(control, STATE, ARMED);
    Atomics.notify(control, STATE);
    const length = frame.length;
    let mine = 0;
    for (let first = Atomics.add(control, CURSOR, chunk); first < count; first = Atomics.add(control, CURSOR, chunk)) {
      const end = Math.min(count, first + chunk);
      mine += end - first;
      for (let index = first; index < end; index++) {
        const written = tryWrite(descriptors[index] as number, frame);
        // Marked whole either way: what is left of this thread's own write is given to the stream now.
        results[index] = length;
        if (written !== length) leftover(slots[index] as number, written);
      }
    }
    // Every chunk is claimed. A helper that has not claimed the pass yet never will; one that has, finishes its chunk.
    if (Atomics.compareExchange(control, STATE, ARMED, IDLE) === ARMED) return 0;
    while (Atomics.load(control, STATE) === RUNNING) Atomics.wait(control, STATE, RUNNING);
    Atomics.store(control, STATE, IDLE);
    this.#helped += count - mine;
    for (let index = 0; index < count; index++) {
      const written = results[index] as number;
      if (written !== length) leftover(slots[index] as number, written);
    }
    return count - mine;
  }

  /** Stop the helper: it leaves its loop, and its thread ends. */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#online = false;
    Atomics.store(this.#control, STATE, STOP);
    Atomics.notify(this.#control, STATE);
    return new Promise((resolve) => {
      if (this.#worker.threadId === -1) resolve();
      else this.#worker.once('exit', () => resolve());
    });
  }
}
