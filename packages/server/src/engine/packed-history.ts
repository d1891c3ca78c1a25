// A stream's history held flat: each publication serialized once into one byte buffer per stream.
//
// Why: history entries live for minutes, so as objects they are promoted to the old generation and
// marked by every full collection. At 1,000 channels × 100 publications that was 27 MB of heap and a
// 53–62 ms full collection; packed, 3.2–3.5 MB of heap, 11 MB of buffers and 8–16 ms
// (docs/performance.md, item 13).

import { Packr, RESET_BUFFER_MODE, Unpackr } from 'msgpackr';
import { MSGPACK_PACK_OPTIONS, MSGPACK_UNPACK_OPTIONS, type Publication } from '@switchyard/protocol';

// The wire codec's MessagePack settings: no records, so entries share no structures and each stands
// alone. Binary data is copied out on reading, since the bytes it came from move when the buffer does.
const packr = new Packr({ ...MSGPACK_PACK_OPTIONS });
const unpackr = new Unpackr({ ...MSGPACK_UNPACK_OPTIONS, copyBuffers: true });

/**
 * Give an outgrown buffer's memory back now rather than at the next full collection. V8 counts the external
 * memory allocated since the last full collection toward the threshold that starts the next one, and a
 * buffer that lived long enough to be old is only freed by a full collection: as history fills, its outgrown
 * buffers (two to three times what it keeps) would bring that collection forward. Transferring the
 * ArrayBuffer detaches it; the clone that takes the memory dies young, and the next scavenge frees it.
 * Nothing may still view `buffer`. One that shares its ArrayBuffer (a slice of Node's pool) is left alone.
 */
export function releaseBuffer(buffer: Buffer): void {
  const memory = buffer.buffer;
  if (buffer.byteLength === 0 || !(memory instanceof ArrayBuffer)) return;
  if (buffer.byteOffset !== 0 || buffer.byteLength !== memory.byteLength) return;
  structuredClone(memory, { transfer: [memory] });
}

/** Smallest byte buffer a stream with history gets. */
const INITIAL_BYTES = 1024;
const EMPTY = Buffer.alloc(0);

/** What is packed per publication: data, event, from (offset, epoch and timestamp are kept beside it). */
type Stored = [data: unknown, event: string | null, from: string | null];

/**
 * Consecutive publications of one stream, oldest first, addressed by index (0 = oldest kept).
 * Data comes back as a MessagePack subscriber receives it live: binary data and dates included; a string
 * that is not well-formed UTF-16 (a lone surrogate) has it replaced by U+FFFD, and -0 reads as 0.
 * Each read returns fresh objects, so no reader can change what another will read.
 * Its buffer holds at most about four times the bytes the kept publications take, 1.5 times in a steady state.
 */
export class PackedHistory {
  #bytes: Buffer = EMPTY;
  /** End of each entry's bytes in #bytes; entries before #first are dropped. */
  #ends: number[] = [];
  #timestamps: number[] = [];
  #first = 0;
  /** Where the oldest kept entry's bytes begin. */
  #start = 0;
  #firstOffset = 0;

  get length(): number {
    return this.#ends.length - this.#first;
  }

  /** The oldest kept publication's offset (meaningless when empty). */
  get firstOffset(): number {
    return this.#firstOffset;
  }

  /** Bytes of buffer held for the kept publications. */
  get bytesHeld(): number {
    return this.#bytes.length;
  }

  timestampAt(index: number): number {
    return this.#timestamps[this.#first + index]!;
  }

  /** Keep `publication`, which must follow the newest kept one by exactly one offset; otherwise what was kept is dropped. */
  append(publication: Publication): void {
    const stored: Stored = [publication.data, publication.event ?? null, publication.from ?? null];
    // RESET_BUFFER_MODE: the next pack writes over these bytes, so they are copied below before it can. Without
    // it, msgpackr moves on through its buffer and takes a new 8 KiB one every few dozen packs.
    const packed = packr.pack(stored, RESET_BUFFER_MODE);
    if (this.length === 0 || publication.offset !== this.#firstOffset + this.length) this.#clear(publication.offset);
    if (this.#tail() + packed.length > this.#bytes.length) this.#makeRoom(packed.length);
    const at = this.#tail();
    this.#bytes.set(packed, at);
    this.#ends.push(at + packed.length);
    this.#timestamps.push(publication.timestamp);
  }

  /** Drop the `count` oldest publications. */
  dropOldest(count: number): void {
    const dropped = Math.min(count, this.length);
    if (dropped === 0) return;
    if (dropped === this.length) {
      this.#clear(this.#firstOffset + dropped);
      releaseBuffer(this.#bytes);
      this.#bytes = EMPTY;
      return;
    }
    this.#start = this.#ends[this.#first + dropped - 1]!;
    this.#first += dropped;
    this.#firstOffset += dropped;
    if (this.#bytes.length > INITIAL_BYTES && 8 * (this.#tail() - this.#start) < this.#bytes.length) this.#makeRoom(0);
  }

  /** Publications at indexes [from, to), decoded afresh. */
  read(from: number, to: number, epoch: string): Publication[] {
    const publications: Publication[] = [];
    for (let index = Math.max(0, from); index < Math.min(to, this.length); index++) {
      const at = this.#first + index;
      const begin = at === this.#first ? this.#start : this.#ends[at - 1]!;
      const [data, event, publisher] = unpackr.unpack(this.#bytes.subarray(begin, this.#ends[at])) as Stored;
      const publication: Publication = { data, offset: this.#firstOffset + index, epoch, timestamp: this.#timestamps[at]! };
      if (event !== null) publication.event = event;
      if (publisher !== null) publication.from = publisher;
      publications.push(publication);
    }
    return publications;
  }

  #tail(): number {
    return this.length === 0 ? this.#start : this.#ends[this.#ends.length - 1]!;
  }

  #clear(firstOffset: number): void {
    this.#ends = [];
    this.#timestamps = [];
    this.#first = 0;
    this.#start = 0;
    this.#firstOffset = firstOffset;
  }

  /**
   * Move the kept bytes to the front. The buffer is replaced when that would free less than a fifth of it,
   * or when it is over four times what is needed; the new one holds 1.5 times what the kept bytes and
   * `needed` take. Either way at least a fifth of the buffer is free after a move, so moves stay rare.
   */
  #makeRoom(needed: number): void {
    const kept = this.#tail() - this.#start;
    const wanted = kept + needed;
    const current = this.#bytes.length;
    const target = wanted * 1.25 > current || wanted * 4 < current
      ? Buffer.allocUnsafeSlow(Math.max(INITIAL_BYTES, Math.ceil((wanted * 1.5) / INITIAL_BYTES) * INITIAL_BYTES))
      : this.#bytes;
    // Buffer#copy is a memmove, so moving within the same buffer is safe.
    this.#bytes.copy(target, 0, this.#start, this.#start + kept);
    // The kept entries move to the front of the same arrays: new ones would live until the next move, long enough
    // to be old, and become garbage that only a full collection frees (a pair per channel every few dozen
    // publications). Shortening an array keeps its capacity, so the appends until the next move take none.
    const shift = this.#start;
    const first = this.#first;
    const ends = this.#ends;
    const timestamps = this.#timestamps;
    const count = ends.length - first;
    for (let index = 0; index < count; index++) {
      ends[index] = ends[index + first]! - shift;
      timestamps[index] = timestamps[index + first]!;
    }
    ends.length = count;
    timestamps.length = count;
    if (target !== this.#bytes) releaseBuffer(this.#bytes);
    this.#bytes = target;
    this.#first = 0;
    this.#start = 0;
  }
}
