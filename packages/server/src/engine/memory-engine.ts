// The default engine: everything in this process's memory, bounded by count and age.

import { randomBytes } from 'node:crypto';
import type { ClientInfo, Publication, RecoveryFailure, StreamPosition } from '@switchyard/protocol';
import { PackedHistory } from './packed-history.js';
import type {
  Engine, EngineHandler, HistoryQuery, HistoryResult, NodeInfo, PublishRequest, PublishResult, RecoveryResult, StreamPolicy,
} from './engine.js';

/** Options of the memory engine. */
export interface MemoryEngineOptions {
  /** This node's id. @default a random id */
  nodeId?: string;
  /** How long an idle stream's position is kept after its history is gone, in ms. @default 3600000 */
  streamRetentionMs?: number;
  /** Most idempotency keys remembered per channel. @default 10000 */
  idempotencyMaxKeys?: number;
  /** How often expired history and idle streams are swept, in ms. @default 10000 */
  sweepIntervalMs?: number;
}

/** A fresh epoch: names one lifetime of a stream. */
export function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

interface RememberedKey {
  offset: number;
  at: number;
}

/** Why the oldest publications up to `upTo` left history. */
interface Removal {
  upTo: number;
  reason: 'history_trimmed' | 'history_expired';
}

const MAX_REMOVAL_RECORDS = 16;

class Stream {
  readonly epoch = newEpoch();
  offset = 0;
  readonly #history = new PackedHistory();
  /** Publications given offsets but not yet in #history, oldest first, and the policy of the newest (see `keepLater`). */
  readonly #unkept: Publication[] = [];
  #unkeptPolicy: StreamPolicy | undefined;
  readonly removals: Removal[] = [];
  readonly keys = new Map<string, RememberedKey>();
  lastActivity = Date.now();

  /**
   * Keep `publication` in history once this tick's writes are done (see MemoryEngine#publishNow). Returns true when
   * it is the first one waiting, so the engine schedules `keep` once.
   */
  keepLater(publication: Publication, policy: StreamPolicy): boolean {
    this.#unkeptPolicy = policy;
    return this.#unkept.push(publication) === 1;
  }

  /** Put the publications waiting from `keepLater` into history, and trim it to their policy. */
  keep(): void {
    const unkept = this.#unkept;
    const policy = this.#unkeptPolicy;
    if (unkept.length === 0 || policy === undefined) return;
    if (policy.historySize > 0) for (const publication of unkept) this.#history.append(publication);
    unkept.length = 0;
    this.#trim(policy, Date.now());
  }

  /** History with every publication given an offset so far. */
  get history(): PackedHistory {
    this.keep();
    return this.#history;
  }

  /** Drop publications past the count and age limits, remembering why. */
  trim(policy: StreamPolicy, now: number): void {
    this.keep();
    this.#trim(policy, now);
  }

  #trim(policy: StreamPolicy, now: number): void {
    const history = this.#history;
    let expired = 0;
    const oldestAllowed = now - policy.historyTtlMs;
    while (expired < history.length && history.timestampAt(expired) < oldestAllowed) expired++;
    if (expired > 0) this.remove(expired, 'history_expired');
    const excess = history.length - policy.historySize;
    if (excess > 0) this.remove(excess, 'history_trimmed');
  }

  private remove(count: number, reason: Removal['reason']): void {
    const upTo = this.#history.firstOffset + count - 1;
    this.#history.dropOldest(count);
    const last = this.removals[this.removals.length - 1];
    if (last !== undefined && last.reason === reason) last.upTo = upTo;
    else {
      this.removals.push({ upTo, reason });
      if (this.removals.length > MAX_REMOVAL_RECORDS) this.removals.shift();
    }
  }

  /** Why offset `offset` is no longer in history. */
  removalReason(offset: number): RecoveryFailure {
    for (const removal of this.removals) if (offset <= removal.upTo) return removal.reason;
    return this.removals[this.removals.length - 1]?.reason ?? 'history_trimmed';
  }

  forgetKeys(windowMs: number, maxKeys: number, now: number): void {
    for (const [key, remembered] of this.keys) {
      if (remembered.at > now - windowMs && this.keys.size <= maxKeys) break;
      this.keys.delete(key);
    }
  }
}

/**
 * A publication of `request`, made in one object literal per combination of the optional fields, so that each has
 * them in its own slots: a field added afterwards would take a separate property store per publication.
 */
function newPublication(request: PublishRequest, offset: number, epoch: string, timestamp: number): Publication {
  const { data, event, from } = request;
  if (event === undefined) return from === undefined ? { data, offset, epoch, timestamp } : { data, offset, epoch, timestamp, from };
  return from === undefined ? { data, offset, epoch, timestamp, event } : { data, offset, epoch, timestamp, event, from };
}

/** Keeps streams, presence and routing in memory. Delivery is synchronous and in offset order. */
export class MemoryEngine implements Engine {
  readonly kind = 'memory';
  readonly remote = false;
  readonly nodeId: string;
  readonly ready = true;
  readonly #streamRetentionMs: number;
  readonly #idempotencyMaxKeys: number;
  readonly #sweepIntervalMs: number;
  readonly #streams = new Map<string, Stream>();
  readonly #presence = new Map<string, Map<string, ClientInfo>>();
  readonly #subscribed = new Set<string>();
  readonly #policies = new Map<string, StreamPolicy>();
  #handler: EngineHandler | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  /** Streams with publications waiting for history (see Stream#keepLater). */
  readonly #unkept: Stream[] = [];
  readonly #keepAll = (): void => {
    // A stream can be listed twice (read and kept in between, then published to again); keeping twice is harmless.
    for (const stream of this.#unkept) stream.keep();
    this.#unkept.length = 0;
  };

  constructor(options: MemoryEngineOptions = {}) {
    this.nodeId = options.nodeId ?? `node-${randomBytes(4).toString('hex')}`;
    this.#streamRetentionMs = options.streamRetentionMs ?? 3_600_000;
    this.#idempotencyMaxKeys = options.idempotencyMaxKeys ?? 10_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
  }

  async start(handler: EngineHandler): Promise<void> {
    this.#handler = handler;
    this.#sweepTimer = setInterval(() => this.#sweep(), this.#sweepIntervalMs);
    this.#sweepTimer.unref();
  }

  async close(): Promise<void> {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#handler = undefined;
  }

  async publish(request: PublishRequest, policy: StreamPolicy): Promise<PublishResult> {
    return this.publishNow(request, policy);
  }

  publishNow(request: PublishRequest, policy: StreamPolicy): PublishResult {
    const now = Date.now();
    const stream = this.#stream(request.channel);
    this.#policies.set(request.channel, policy);
    stream.lastActivity = now;
    if (request.key !== undefined && policy.idempotencyWindowMs > 0) {
      stream.forgetKeys(policy.idempotencyWindowMs, this.#idempotencyMaxKeys, now);
      const seen = stream.keys.get(request.key);
      if (seen !== undefined) return { offset: seen.offset, epoch: stream.epoch, duplicate: true };
    }
    const ephemeral = request.ephemeral === true;
    const publication = newPublication(request, ephemeral ? stream.offset : stream.offset + 1, stream.epoch, now);
    /** Whether this is the first publication of the tick to wait for history, which then schedules the keeping. */
    let firstUnkept = false;
    if (!ephemeral) {
      stream.offset = publication.offset;
      firstUnkept = stream.keepLater(publication, policy) && this.#unkept.push(stream) === 1;
      if (request.key !== undefined && policy.idempotencyWindowMs > 0) stream.keys.set(request.key, { offset: publication.offset, at: now });
    }
    try {
      if (this.#subscribed.has(request.channel)) this.#handler?.onPublication(request.channel, publication, ephemeral);
    } finally {
      // History takes it after the fan-out has been written. The handler's delivery has scheduled the transport's
      // end-of-tick write by now (a process.nextTick), and ticks run in order, so this one runs after it. (A
      // microtask would too, but Node's queueMicrotask allocates an async resource and a bound function for each.)
      // Every read of history keeps what waits first, so no read misses it.
      if (firstUnkept) process.nextTick(this.#keepAll);
    }
    return { offset: publication.offset, epoch: stream.epoch, duplicate: false };
  }

  async subscribe(channel: string): Promise<void> {
    this.#subscribed.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.#subscribed.delete(channel);
  }

  async position(channel: string): Promise<StreamPosition> {
    const stream = this.#stream(channel);
    return { offset: stream.offset, epoch: stream.epoch };
  }

  async history(channel: string, query: HistoryQuery, policy: StreamPolicy): Promise<HistoryResult> {
    const stream = this.#stream(channel);
    stream.trim(policy, Date.now());
    const history = stream.history;
    // Index of the first kept publication after `since` (a `since` in another epoch reads from the start).
    const after = query.since === undefined ? 0
      : Math.max(0, (query.since.epoch === stream.epoch ? query.since.offset : 0) + 1 - history.firstOffset);
    const available = history.length - after;
    const count = Math.max(0, Math.min(query.limit, available));
    const from = query.since !== undefined && query.reverse !== true ? after : history.length - count;
    const selected = history.read(from, from + count, stream.epoch);
    if (query.reverse === true) selected.reverse();
    return { publications: selected, offset: stream.offset, epoch: stream.epoch };
  }

  async recover(channel: string, since: StreamPosition, policy: StreamPolicy): Promise<RecoveryResult> {
    const stream = this.#stream(channel);
    const position = { offset: stream.offset, epoch: stream.epoch };
    if (since.epoch !== stream.epoch || since.offset > stream.offset) return { ...position, recovered: false, reason: 'epoch_changed' };
    if (since.offset === stream.offset) return { ...position, recovered: true, publications: [] };
    if (policy.historySize === 0) return { ...position, recovered: false, reason: 'history_disabled' };
    stream.trim(policy, Date.now());
    const history = stream.history;
    const needed = since.offset + 1;
    if (history.length === 0 || history.firstOffset > needed) return { ...position, recovered: false, reason: stream.removalReason(needed) };
    return { ...position, recovered: true, publications: history.read(needed - history.firstOffset, history.length, stream.epoch) };
  }

  async addPresence(channel: string, member: ClientInfo): Promise<void> {
    let members = this.#presence.get(channel);
    if (members === undefined) {
      members = new Map();
      this.#presence.set(channel, members);
    }
    const isNew = !members.has(member.clientId);
    members.set(member.clientId, member);
    if (isNew) this.#handler?.onJoin(channel, member);
  }

  async removePresence(channel: string, member: ClientInfo): Promise<void> {
    const members = this.#presence.get(channel);
    if (members === undefined || !members.delete(member.clientId)) return;
    if (members.size === 0) this.#presence.delete(channel);
    this.#handler?.onLeave(channel, member);
  }

  async presence(channel: string): Promise<ClientInfo[]> {
    return [...(this.#presence.get(channel)?.values() ?? [])];
  }

  async broadcast(data: unknown, channel: string | undefined): Promise<number> {
    return this.#handler?.onBroadcast(data, channel) ?? 0;
  }

  async direct(to: string, from: string, data: unknown): Promise<number> {
    return this.#handler?.onDirect(to, from, data) ?? 0;
  }

  // Routing for `direct` is the hub's own local index on a single node.
  connectionOpened(): void {}
  connectionClosed(): void {}
  connectionIdentified(): void {}

  async nodes(localConnections: number): Promise<NodeInfo[]> {
    return [{ id: this.nodeId, connections: localConnections, lastSeenMs: 0 }];
  }

  #stream(channel: string): Stream {
    let stream = this.#streams.get(channel);
    if (stream === undefined) {
      stream = new Stream();
      this.#streams.set(channel, stream);
    }
    return stream;
  }

  /** Expire old history and forget idle streams so memory stays bounded. */
  #sweep(): void {
    const now = Date.now();
    for (const [channel, stream] of this.#streams) {
      const policy = this.#policies.get(channel);
      if (policy !== undefined) {
        stream.trim(policy, now);
        stream.forgetKeys(policy.idempotencyWindowMs, this.#idempotencyMaxKeys, now);
      }
      const idle = stream.history.length === 0 && stream.keys.size === 0 && now - stream.lastActivity > this.#streamRetentionMs;
      if (idle && !this.#subscribed.has(channel)) {
        this.#streams.delete(channel);
        this.#policies.delete(channel);
      }
    }
  }
}
