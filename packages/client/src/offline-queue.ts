// The bounded queue of requests made while disconnected, flushed in order after a reconnect.

/** What happens when a message arrives at a full queue. */
export type QueuePolicy = 'drop-oldest' | 'drop-newest';

/**
 * A FIFO with a hard bound. When full, `drop-oldest` evicts the head to make room (fresh data
 * matters more, e.g. a position update); `drop-newest` refuses the new item (what was asked first
 * goes first, e.g. chat). Either way the caller is told exactly which item was dropped.
 */
export class OfflineQueue<T> {
  readonly maxSize: number;
  readonly policy: QueuePolicy;
  #items: T[] = [];

  constructor(maxSize: number, policy: QueuePolicy) {
    if (!Number.isInteger(maxSize) || maxSize < 0) throw new TypeError(`maxQueue must be a non-negative integer, got ${String(maxSize)}`);
    if (policy !== 'drop-oldest' && policy !== 'drop-newest') throw new TypeError(`queuePolicy must be 'drop-oldest' or 'drop-newest', got ${String(policy)}`);
    this.maxSize = maxSize;
    this.policy = policy;
  }

  get size(): number {
    return this.#items.length;
  }

  /** Append `item`; returns the item dropped to respect the bound (the new one itself with drop-newest), if any. */
  push(item: T): T | undefined {
    if (this.#items.length < this.maxSize) {
      this.#items.push(item);
      return undefined;
    }
    if (this.policy === 'drop-newest' || this.maxSize === 0) return item;
    const dropped = this.#items.shift();
    this.#items.push(item);
    return dropped;
  }

  /**
   * Put `items` back in front, in their order (requests that were in flight when the connection
   * dropped are older than anything queued since). Returns what no longer fits, chosen by the policy.
   */
  requeueFront(items: readonly T[]): T[] {
    const all = [...items, ...this.#items];
    const overflow = all.length - this.maxSize;
    if (overflow <= 0) {
      this.#items = all;
      return [];
    }
    if (this.policy === 'drop-oldest') {
      this.#items = all.slice(overflow);
      return all.slice(0, overflow);
    }
    this.#items = all.slice(0, this.maxSize);
    return all.slice(this.maxSize);
  }

  /** Remove and return every item, oldest first. */
  drain(): T[] {
    const items = this.#items;
    this.#items = [];
    return items;
  }
}
