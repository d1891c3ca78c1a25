// The cluster engine: streams, presence and routing in Redis, shared by every server pointed at it.

import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { ClientInfo, Publication, RecoveryFailure, StreamPosition } from '@switchyard/protocol';
import type {
  Engine, EngineHandler, HistoryQuery, HistoryResult, NodeInfo, PublishRequest, PublishResult, RecoveryResult, StreamPolicy,
} from './engine.js';
import { newEpoch } from './memory-engine.js';
import {
  ADD_PRESENCE_SCRIPT, HEARTBEAT_SCRIPT, HISTORY_SCRIPT, LEAVE_SCRIPT, NODES_SCRIPT, POSITION_SCRIPT, PUBLISH_SCRIPT,
  RECOVER_SCRIPT, REMOVE_PRESENCE_SCRIPT,
} from './redis-scripts.js';

/** Options of the Redis engine. */
export interface RedisEngineOptions {
  /** Redis URL (`redis://host:port/db`, `rediss://` for TLS). */
  url: string;
  /** This node's id; must be unique in the cluster. @default a random id */
  nodeId?: string;
  /** Prefix of every key and pub/sub channel, so several clusters can share one Redis. @default 'switchyard' */
  prefix?: string;
  /** How long an idle channel's offset and epoch outlive its history, in ms. @default 3600000 */
  streamRetentionMs?: number;
  /** How long a silent node's presence members and `/status` entry outlive it, in ms. @default 30000 */
  presenceTtlMs?: number;
  /** Longest wait for Redis at start-up, in ms; `start()` rejects after it. @default 10000 */
  connectTimeoutMs?: number;
  /** Longest pause between reconnection attempts, in ms. @default 2000 */
  maxReconnectDelayMs?: number;
}

/** A Lua script run by its SHA, loaded again when Redis lost its script cache (after a restart). */
class Script {
  readonly #source: string;
  readonly #sha: string;

  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.#sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.#source, keys.length, ...keys, ...args);
    }
  }
}

const scripts = {
  publish: new Script(PUBLISH_SCRIPT),
  position: new Script(POSITION_SCRIPT),
  history: new Script(HISTORY_SCRIPT),
  recover: new Script(RECOVER_SCRIPT),
  addPresence: new Script(ADD_PRESENCE_SCRIPT),
  removePresence: new Script(REMOVE_PRESENCE_SCRIPT),
  heartbeat: new Script(HEARTBEAT_SCRIPT),
  leave: new Script(LEAVE_SCRIPT),
  nodes: new Script(NODES_SCRIPT),
};

/** Thrown (and turned into `unavailable` by the hub) while Redis cannot be reached. */
export class RedisUnavailableError extends Error {
  constructor(what: string) {
    super(`Redis is not available: cannot ${what}`);
    this.name = 'RedisUnavailableError';
  }
}

/** A broadcast or direct message on pub/sub; it names its origin, so the sender skips its own copy. */
interface RoutedMessage {
  origin: string;
  data: unknown;
  channel?: string;
  from?: string;
}

const SUBSCRIBE_BATCH = 500;
const REPORT_DELAY_MS = 250;
const RESYNC_RETRY_MS = 500;

/**
 * Keeps streams in Redis Streams, positions in hashes, presence in hashes, and fans out over
 * pub/sub. One connection sends commands, one listens. Publishing runs one Lua script per
 * publication: idempotency check, offset increment, append, trims and PUBLISH are one atomic step,
 * so every node sees a channel's publications in offset order. Pub/sub is at most once: the hub
 * fills gaps from history.
 */
export class RedisEngine implements Engine {
  readonly kind = 'redis';
  readonly remote = true;
  readonly nodeId: string;
  readonly #url: string;
  readonly #prefix: string;
  readonly #streamRetentionMs: number;
  readonly #presenceTtlMs: number;
  readonly #connectTimeoutMs: number;
  readonly #maxReconnectDelayMs: number;
  /** Pub/sub channels this node wants, subscribed again after every reconnection. */
  readonly #wanted = new Set<string>();
  /** Local connections by clientId and userId: a `direct` pub/sub channel is kept while its count is above 0. */
  readonly #routes = new Map<string, number>();
  /** This node's presence members, re-added when Redis lost them (restart, or this node was thought dead). */
  readonly #members = new Map<string, Map<string, ClientInfo>>();
  /** Channels with local subscribers, whose positions are kept alive while they are subscribed. */
  readonly #channels = new Set<string>();
  #commands: Redis | undefined;
  #subscriber: Redis | undefined;
  #handler: EngineHandler | undefined;
  #available = false;
  #closing = false;
  #connections = 0;
  #resyncing = false;
  /** Counts reconnections, so a resynchronization overtaken by another reconnection is repeated. */
  #connectedGeneration = 0;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #reportTimer: NodeJS.Timeout | undefined;
  #lastKeepAlive = Date.now();

  constructor(options: RedisEngineOptions) {
    this.#url = options.url;
    this.nodeId = options.nodeId ?? `node-${randomBytes(4).toString('hex')}`;
    this.#prefix = options.prefix ?? 'switchyard';
    this.#streamRetentionMs = options.streamRetentionMs ?? 3_600_000;
    this.#presenceTtlMs = options.presenceTtlMs ?? 30_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#maxReconnectDelayMs = options.maxReconnectDelayMs ?? 2000;
  }

  get ready(): boolean {
    return this.#available;
  }

  async start(handler: EngineHandler): Promise<void> {
    this.#handler = handler;
    this.#commands = this.#connect('commands');
    this.#subscriber = this.#connect('subscriber');
    this.#subscriber.on('message', (channel: string, message: string) => {
      try {
        this.#onMessage(channel, message);
      } catch {
        // A malformed message (another program publishing under our prefix) or a failing handler must not break
        // the subscriber connection; a publication lost this way shows as an offset gap and is filled from history.
      }
    });
    this.#wanted.add(this.#broadcastChannel());
    try {
      await Promise.all([this.#whenReady(this.#commands), this.#whenReady(this.#subscriber)]);
      await this.#synchronize();
    } catch (error) {
      await this.close();
      throw new Error(`cannot reach Redis at ${redactUrl(this.#url)}: ${error instanceof Error ? error.message : String(error)}`);
    }
    for (const connection of [this.#commands, this.#subscriber]) {
      connection.on('close', () => this.#setAvailable(false));
      connection.on('ready', () => this.#onReconnected());
    }
    this.#available = true;
    const intervalMs = Math.max(50, Math.min(Math.floor(this.#presenceTtlMs / 3), 5000));
    this.#heartbeatTimer = setInterval(() => void this.#heartbeat().catch(() => undefined), intervalMs);
    this.#heartbeatTimer.unref();
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#reportTimer);
    const commands = this.#commands;
    if (commands !== undefined && commands.status === 'ready') {
      // Leaving cleanly: members go at once instead of after the presence expiry.
      await scripts.leave.run(commands, [], [this.#prefix, this.nodeId]).catch(() => undefined);
    }
    this.#available = false;
    this.#handler = undefined;
    await Promise.all([commands, this.#subscriber].map(async (connection) => {
      if (connection === undefined) return;
      if (connection.status === 'ready') await connection.quit().catch(() => connection.disconnect());
      else connection.disconnect();
    }));
  }

  // ---- streams ----------------------------------------------------------------------------------

  async publish(request: PublishRequest, policy: StreamPolicy): Promise<PublishResult> {
    const fields: Record<string, unknown> = { data: request.data ?? null };
    if (request.event !== undefined) fields['event'] = request.event;
    if (request.from !== undefined) fields['from'] = request.from;
    const head = `${JSON.stringify(fields).slice(0, -1)},`;
    const useKey = request.key !== undefined && policy.idempotencyWindowMs > 0;
    const keys = this.#streamKeys(request.channel);
    keys.push(useKey ? this.#key('idem', `${request.channel}:${request.key}`) : keys[0]!);
    const reply = await scripts.publish.run(this.#commandsFor('publish'), keys, [
      newEpoch(), head, request.ephemeral === true ? 1 : 0, policy.historySize, policy.historyTtlMs,
      useKey ? policy.idempotencyWindowMs : 0, this.#retentionMs(policy), this.#publicationChannel(request.channel),
    ]) as [number, string, number];
    return { offset: reply[0], epoch: reply[1], duplicate: reply[2] === 1 };
  }

  async subscribe(channel: string): Promise<void> {
    this.#channels.add(channel);
    await this.#want(this.#publicationChannel(channel));
  }

  async unsubscribe(channel: string): Promise<void> {
    this.#channels.delete(channel);
    await this.#unwant(this.#publicationChannel(channel));
  }

  async position(channel: string): Promise<StreamPosition> {
    const reply = await scripts.position.run(this.#commandsFor('read a position'), this.#streamKeys(channel), [newEpoch(), this.#streamRetentionMs]) as [number, string];
    return { offset: reply[0], epoch: reply[1] };
  }

  async history(channel: string, query: HistoryQuery, policy: StreamPolicy): Promise<HistoryResult> {
    const reply = await scripts.history.run(this.#commandsFor('read history'), this.#streamKeys(channel), [
      newEpoch(), this.#streamRetentionMs, policy.historySize, policy.historyTtlMs,
      query.since?.offset ?? -1, query.limit, query.reverse === true ? 1 : 0, query.since?.epoch ?? '',
    ]) as [number, string, string[]];
    return { publications: reply[2].map(parsePublication), offset: reply[0], epoch: reply[1] };
  }

  async recover(channel: string, since: StreamPosition, policy: StreamPolicy): Promise<RecoveryResult> {
    const reply = await scripts.recover.run(this.#commandsFor('recover'), this.#streamKeys(channel), [
      newEpoch(), this.#streamRetentionMs, policy.historySize, policy.historyTtlMs, since.offset, since.epoch,
    ]) as [number, string, string, string[]?];
    const position = { offset: reply[0], epoch: reply[1] };
    if (reply[2] === 'ok') return { ...position, recovered: true, publications: (reply[3] ?? []).map(parsePublication) };
    return { ...position, recovered: false, reason: reply[2] as RecoveryFailure };
  }

  // ---- presence ---------------------------------------------------------------------------------

  async addPresence(channel: string, member: ClientInfo): Promise<void> {
    let members = this.#members.get(channel);
    if (members === undefined) {
      members = new Map();
      this.#members.set(channel, members);
    }
    members.set(member.clientId, member);
    await this.#addPresence(this.#commandsFor('add presence'), channel, member);
  }

  async removePresence(channel: string, member: ClientInfo): Promise<void> {
    const members = this.#members.get(channel);
    if (members?.delete(member.clientId) === true && members.size === 0) this.#members.delete(channel);
    await this.#removePresence(this.#commandsFor('remove presence'), channel, member.clientId);
  }

  async presence(channel: string): Promise<ClientInfo[]> {
    const values = await this.#commandsFor('read presence').hvals(this.#key('presence', channel));
    return values.map((value) => JSON.parse(value.slice(0, value.indexOf('\n'))) as ClientInfo);
  }

  #addPresence(redis: Redis, channel: string, member: ClientInfo): Promise<unknown> {
    return scripts.addPresence.run(redis, [this.#key('presence', channel), this.#nodeMembersKey()], [
      member.clientId, this.nodeId, JSON.stringify(member), `${channel} ${member.clientId}`, this.#publicationChannel(channel),
    ]);
  }

  #removePresence(redis: Redis, channel: string, clientId: string): Promise<unknown> {
    return scripts.removePresence.run(redis, [this.#key('presence', channel)], [
      clientId, `${channel} ${clientId}`, this.#publicationChannel(channel), this.#prefix,
    ]);
  }

  /**
   * Make Redis hold exactly this node's members: re-add those it lost (a restart, or this node was
   * swept as dead) and remove those whose removal failed while Redis was away.
   */
  async #reconcilePresence(redis: Redis): Promise<void> {
    const pending: Array<Promise<unknown>> = [];
    for (const [channel, members] of this.#members) {
      for (const member of members.values()) pending.push(this.#addPresence(redis, channel, member));
    }
    for (const entry of await redis.smembers(this.#nodeMembersKey())) {
      const space = entry.indexOf(' ');
      const channel = entry.slice(0, space);
      const clientId = entry.slice(space + 1);
      if (this.#members.get(channel)?.has(clientId) !== true) pending.push(this.#removePresence(redis, channel, clientId));
    }
    await Promise.all(pending);
  }

  // ---- broadcast and direct ---------------------------------------------------------------------

  /** Delivers here at once and to other nodes over pub/sub; resolves with this node's deliveries. */
  async broadcast(data: unknown, channel: string | undefined): Promise<number> {
    const commands = this.#commandsFor('broadcast');
    const delivered = this.#handler?.onBroadcast(data, channel) ?? 0;
    const message: RoutedMessage = { origin: this.nodeId, data };
    if (channel !== undefined) message.channel = channel;
    await commands.publish(this.#broadcastChannel(), JSON.stringify(message));
    return delivered;
  }

  /**
   * Delivers to matching local connections at once and to other nodes over pub/sub. Resolves with
   * this node's deliveries plus the number of other nodes that had a matching connection (0: nobody).
   */
  async direct(to: string, from: string, data: unknown): Promise<number> {
    const delivered = this.#handler?.onDirect(to, from, data) ?? 0;
    const message: RoutedMessage = { origin: this.nodeId, data, from };
    let receivers: number;
    try {
      receivers = await this.#commandsFor('send a direct message').publish(this.#directChannel(to), JSON.stringify(message));
    } catch (error) {
      // The target is reached here; only other nodes are out of reach while Redis is away.
      if (delivered > 0) return delivered;
      throw error;
    }
    const otherNodes = receivers - (this.#routes.has(to) ? 1 : 0);
    return delivered + Math.max(0, otherNodes);
  }

  connectionOpened(clientId: string, userId: string | undefined): void {
    this.#connections++;
    this.#scheduleReport();
    this.#route(clientId, 1);
    if (userId !== undefined) this.#route(userId, 1);
  }

  connectionClosed(clientId: string, userId: string | undefined): void {
    this.#connections = Math.max(0, this.#connections - 1);
    this.#scheduleReport();
    this.#route(clientId, -1);
    if (userId !== undefined) this.#route(userId, -1);
  }

  connectionIdentified(_clientId: string, previous: string | undefined, userId: string): void {
    if (previous !== undefined) this.#route(previous, -1);
    this.#route(userId, 1);
  }

  #route(target: string, change: 1 | -1): void {
    const count = (this.#routes.get(target) ?? 0) + change;
    if (count > 0) this.#routes.set(target, count);
    else this.#routes.delete(target);
    const pubsub = this.#directChannel(target);
    // Failures while Redis is away are repaired by the resubscription after reconnecting.
    if (change === 1 && count === 1) this.#want(pubsub).catch(() => undefined);
    else if (change === -1 && count <= 0) this.#unwant(pubsub).catch(() => undefined);
  }

  // ---- nodes ------------------------------------------------------------------------------------

  /** Report a changed connection count soon, so other nodes' `/status` need not wait for the next heartbeat. */
  #scheduleReport(): void {
    if (this.#reportTimer !== undefined || this.#heartbeatTimer === undefined) return;
    this.#reportTimer = setTimeout(() => {
      this.#reportTimer = undefined;
      this.#heartbeat().catch(() => undefined);
    }, REPORT_DELAY_MS);
    this.#reportTimer.unref();
  }

  async nodes(localConnections: number): Promise<NodeInfo[]> {
    const reply = await scripts.nodes.run(this.#commandsFor('list nodes'), [], [this.#prefix, this.nodeId, localConnections]) as Array<string | number>;
    const nodes: NodeInfo[] = [];
    for (let index = 0; index + 2 < reply.length; index += 3) {
      nodes.push({ id: String(reply[index]), connections: Number(reply[index + 1]), lastSeenMs: Number(reply[index + 2]) });
    }
    return nodes;
  }

  // ---- connections ------------------------------------------------------------------------------

  /** A connection named `<prefix>:<node id>:<role>` (as `CLIENT LIST` shows it). */
  #connect(role: string): Redis {
    const redis = new Redis(this.#url, {
      connectionName: `${this.#prefix}:${this.nodeId}:${role}`.replace(/\s/g, '_'),
      lazyConnect: true,
      // Commands fail at once while disconnected: the hub answers `unavailable` instead of waiting.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Subscriptions are restored by #synchronize, together with presence and the node entry.
      autoResubscribe: false,
      connectTimeout: Math.min(this.#connectTimeoutMs, 5000),
      retryStrategy: (attempt: number) => {
        if (this.#closing) return null;
        const ceiling = Math.min(this.#maxReconnectDelayMs, 50 * 2 ** Math.min(attempt, 10));
        return Math.max(20, Math.round(Math.random() * ceiling));
      },
    });
    // Connection errors surface as `ready: false` and failed commands; an unhandled 'error' would crash the process.
    redis.on('error', () => undefined);
    redis.connect().catch(() => undefined);
    return redis;
  }

  #whenReady(redis: Redis): Promise<void> {
    if (redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        redis.off('ready', onReady);
        reject(new Error(`no connection within ${this.#connectTimeoutMs} ms`));
      }, this.#connectTimeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      redis.once('ready', onReady);
    });
  }

  #setAvailable(available: boolean): void {
    if (this.#closing || available === this.#available) return;
    this.#available = available;
    this.#handler?.onAvailability(available);
  }

  /** Both connections are back: restore subscriptions, the node entry and presence, then report availability. */
  #onReconnected(): void {
    this.#connectedGeneration++;
    this.#resynchronize();
  }

  #resynchronize(): void {
    if (this.#closing || this.#resyncing || this.#commands?.status !== 'ready' || this.#subscriber?.status !== 'ready') return;
    this.#resyncing = true;
    const generation = this.#connectedGeneration;
    this.#synchronize().then(() => {
      this.#resyncing = false;
      // A connection that dropped and came back meanwhile lost what was just restored on it: do it again.
      if (generation !== this.#connectedGeneration) this.#resynchronize();
      else if (this.#commands?.status === 'ready' && this.#subscriber?.status === 'ready') this.#setAvailable(true);
    }, () => {
      this.#resyncing = false;
      // Redis answers but refuses (loading, out of memory, read-only): try again later, not in a tight loop.
      setTimeout(() => this.#resynchronize(), RESYNC_RETRY_MS).unref();
    });
  }

  async #synchronize(): Promise<void> {
    const subscriber = this.#subscriber!;
    const wanted = [...this.#wanted];
    for (let index = 0; index < wanted.length; index += SUBSCRIBE_BATCH) {
      await subscriber.subscribe(...wanted.slice(index, index + SUBSCRIBE_BATCH));
    }
    await this.#heartbeat(true);
  }

  /** Refresh this node's heartbeat, sweep dead nodes, and repair presence if Redis lost it or we were away. */
  async #heartbeat(force = false): Promise<void> {
    const commands = this.#commands;
    if (commands === undefined || commands.status !== 'ready') return;
    const lost = await scripts.heartbeat.run(commands, [], [this.#prefix, this.nodeId, this.#presenceTtlMs, this.#connections]);
    if (lost === 1 || force) await this.#reconcilePresence(commands);
    const now = Date.now();
    if (now - this.#lastKeepAlive > this.#streamRetentionMs / 4) {
      this.#lastKeepAlive = now;
      // Subscribed channels keep their position like the memory engine keeps them: extend, never shorten.
      await Promise.all([...this.#channels].map((channel) => commands.pexpire(this.#key('meta', channel), this.#streamRetentionMs, 'GT')));
    }
  }

  async #want(pubsub: string): Promise<void> {
    this.#wanted.add(pubsub);
    const subscriber = this.#subscriber;
    if (subscriber === undefined || subscriber.status !== 'ready') throw new RedisUnavailableError('subscribe');
    await subscriber.subscribe(pubsub);
  }

  async #unwant(pubsub: string): Promise<void> {
    this.#wanted.delete(pubsub);
    const subscriber = this.#subscriber;
    if (subscriber === undefined || subscriber.status !== 'ready') return;
    await subscriber.unsubscribe(pubsub);
  }

  #commandsFor(what: string): Redis {
    const commands = this.#commands;
    if (commands === undefined || commands.status !== 'ready') throw new RedisUnavailableError(what);
    return commands;
  }

  #onMessage(pubsub: string, message: string): void {
    const handler = this.#handler;
    if (handler === undefined) return;
    const publications = `${this.#prefix}:pub:`;
    if (pubsub.startsWith(publications)) {
      const channel = pubsub.slice(publications.length);
      const body = message.slice(1);
      switch (message[0]) {
        case 'p': handler.onPublication(channel, parsePublication(body), false); break;
        case 'e': handler.onPublication(channel, parsePublication(body), true); break;
        case 'j': handler.onJoin(channel, JSON.parse(body) as ClientInfo); break;
        case 'l': handler.onLeave(channel, JSON.parse(body) as ClientInfo); break;
      }
      return;
    }
    const routed = JSON.parse(message) as RoutedMessage;
    if (routed.origin === this.nodeId) return; // delivered locally when sent
    if (pubsub === this.#broadcastChannel()) handler.onBroadcast(routed.data, routed.channel);
    else handler.onDirect(pubsub.slice(`${this.#prefix}:direct:`.length), routed.from ?? '', routed.data);
  }

  // ---- key layout (docs/cluster.md) -------------------------------------------------------------

  #key(kind: string, name: string): string {
    return `${this.#prefix}:${kind}:${name}`;
  }

  #streamKeys(channel: string): string[] {
    return [this.#key('meta', channel), this.#key('stream', channel), this.#key('removals', channel)];
  }

  #nodeMembersKey(): string {
    return `${this.#prefix}:node:${this.nodeId}:members`;
  }

  #publicationChannel(channel: string): string {
    return this.#key('pub', channel);
  }

  #directChannel(target: string): string {
    return this.#key('direct', target);
  }

  #broadcastChannel(): string {
    return `${this.#prefix}:broadcast`;
  }

  #retentionMs(policy: StreamPolicy): number {
    return policy.historyTtlMs + this.#streamRetentionMs;
  }
}

function parsePublication(json: string): Publication {
  return JSON.parse(json) as Publication;
}

/** The URL without its password, for error messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the configured URL';
  }
}
