// The hub: channels, subscriptions, presence and routing. Pure logic over the Engine seam; no I/O library.

import type {
  ClientInfo, HistoryReply, Publication, PublicationMessage, RequestId, ServerMessage, StreamPosition, SubscribedReply,
} from '@switchyard/protocol';
import type { Engine, EngineHandler, HistoryQuery, HistoryResult, PublishRequest, PublishResult } from '../engine/engine.js';
import { SwitchyardError } from '../errors.js';
import type { Namespaces } from './namespaces.js';
import { Outbound } from './outbound.js';
import { eachPeer, memberOf, type Outbox, type Peer } from './peer.js';

/** Limits the hub enforces. */
export interface HubLimits {
  maxChannels: number;
  historyMaxLimit: number;
  engineTimeoutMs: number;
}

/** Something the hub reports to its owner (logging, typed events). */
export interface HubObserver {
  onEngineError?(error: unknown, context: string): void;
  onPublication?(channel: string, publication: Publication): void;
}

/** A frame waiting for a subscriber that is still being set up (reading its position or recovering). */
interface Pending {
  outbound: Outbound;
  /** Set for non-ephemeral publications, whose offsets decide whether the replay already covered them. */
  publication: Publication | undefined;
}

interface Subscription {
  info: Record<string, unknown> | undefined;
  /** Frames held back until `subscribed` (and any recovered publications) have been sent. */
  pending: Pending[] | null;
}

/**
 * A subscription that is set up and carries no presence info, the usual kind: one shared value, so that it costs
 * no object of its own (at 10k subscriptions, 10k objects fewer for every full collection to mark).
 */
const SET_UP: Subscription = Object.freeze({ info: undefined, pending: null });

interface LocalChannel {
  readonly name: string;
  /** Each subscriber's subscription: its own record while being set up or when it has info, else SET_UP. */
  readonly subscribers: Map<Peer, Subscription>;
  /** Subscriptions still being set up (their `pending` is a list): usually none. */
  readonly settingUp: Set<Subscription>;
  /**
   * Peers of the subscriptions that are set up, in subscription order, built when first needed after a
   * change: a fan-out hands this one array to the outbox instead of visiting every subscription.
   */
  live: Peer[] | null;
  /** Resolves once the engine delivers this channel's publications to this node. */
  ready: Promise<void>;
  /** Last publication position seen here, to drop repeats and fill gaps. */
  last: StreamPosition | null;
  /** Publications held while a gap is being filled from history. */
  filling: Array<{ publication: Publication; ephemeral: boolean }> | null;
}

/** Subscribe options. */
export interface SubscribeOptions {
  since?: StreamPosition;
  info?: Record<string, unknown>;
  id?: RequestId;
}

function withId<T extends ServerMessage>(message: T, id: RequestId | undefined): T {
  if (id !== undefined) message.id = id;
  return message;
}

/** The routing core. One per server; sessions, the HTTP API and the embedding app all go through it. */
export class Hub implements EngineHandler {
  readonly engine: Engine;
  readonly namespaces: Namespaces;
  readonly #limits: HubLimits;
  readonly #observer: HubObserver;
  readonly #channels = new Map<string, LocalChannel>();
  readonly #byClientId = new Map<string, Peer>();
  readonly #byUserId = new Map<string, Set<Peer>>();
  /** Channels of each subscribed peer: the name alone for one (most peers), a set for more. */
  readonly #subscriptionsOf = new Map<Peer, string | Set<string>>();
  readonly #channelState = new Map<string, () => unknown>();
  #outbox: Outbox = eachPeer;
  #available = true;

  constructor(engine: Engine, namespaces: Namespaces, limits: HubLimits, observer: HubObserver = {}) {
    this.engine = engine;
    this.namespaces = namespaces;
    this.#limits = limits;
    this.#observer = observer;
  }

  /** Hand messages for many peers to `outbox` (the transport's) rather than to each peer in turn. */
  useOutbox(outbox: Outbox): void {
    this.#outbox = outbox;
  }

  /** Start the engine with this hub as its event handler. */
  start(): Promise<void> {
    return this.engine.start(this);
  }

  get peerCount(): number {
    return this.#byClientId.size;
  }

  get channelCount(): number {
    return this.#channels.size;
  }

  /** Names of channels with local subscribers, with their subscriber counts. */
  channels(): Array<{ channel: string; subscribers: number }> {
    return [...this.#channels.values()].map((channel) => ({ channel: channel.name, subscribers: channel.subscribers.size }));
  }

  /** Whether `channel` has subscribers on this server. */
  hasLocalSubscribers(channel: string): boolean {
    return this.#channels.has(channel);
  }

  /** Register a provider of a channel's initial state, sent in `subscribed.data.state`. */
  setChannelState(channel: string, provider: () => unknown): void {
    this.#channelState.set(channel, provider);
  }

  // ---- peers ------------------------------------------------------------------------------------

  addPeer(peer: Peer): void {
    this.#byClientId.set(peer.clientId, peer);
    if (peer.userId !== undefined) this.#indexUser(peer, peer.userId);
    this.engine.connectionOpened(peer.clientId, peer.userId);
  }

  /** The peer authenticated (or re-authenticated as someone else). */
  identifyPeer(peer: Peer, previous: string | undefined): void {
    if (previous !== undefined) this.#unindexUser(peer, previous);
    if (peer.userId !== undefined) {
      this.#indexUser(peer, peer.userId);
      this.engine.connectionIdentified(peer.clientId, previous, peer.userId);
    }
  }

  /** Forget a peer: leave every channel (presence included). */
  removePeer(peer: Peer): void {
    // Every peer is indexed by its (unique) clientId: that index is also the list of peers.
    if (this.#byClientId.get(peer.clientId) !== peer) return;
    this.#byClientId.delete(peer.clientId);
    if (peer.userId !== undefined) this.#unindexUser(peer, peer.userId);
    for (const channel of this.subscriptionsOf(peer)) this.#leave(peer, channel);
    this.#subscriptionsOf.delete(peer);
    this.engine.connectionClosed(peer.clientId, peer.userId);
  }

  #indexUser(peer: Peer, userId: string): void {
    let peers = this.#byUserId.get(userId);
    if (peers === undefined) {
      peers = new Set();
      this.#byUserId.set(userId, peers);
    }
    peers.add(peer);
  }

  #unindexUser(peer: Peer, userId: string): void {
    const peers = this.#byUserId.get(userId);
    if (peers === undefined) return;
    peers.delete(peer);
    if (peers.size === 0) this.#byUserId.delete(userId);
  }

  /** Channels `peer` is subscribed to, as they are now (a copy). */
  subscriptionsOf(peer: Peer): Set<string> {
    const subscriptions = this.#subscriptionsOf.get(peer);
    return new Set(typeof subscriptions === 'string' ? [subscriptions] : subscriptions);
  }

  /** How many channels `peer` is subscribed to. */
  subscriptionCount(peer: Peer): number {
    const subscriptions = this.#subscriptionsOf.get(peer);
    return subscriptions === undefined ? 0 : typeof subscriptions === 'string' ? 1 : subscriptions.size;
  }

  // ---- subscribe / unsubscribe ------------------------------------------------------------------

  /**
   * Subscribe `peer` to `channel`. Sends `subscribed` (with `id`), then any recovered publications,
   * then live ones: in offset order, none twice, none skipped.
   */
  async subscribe(peer: Peer, channelName: string, options: SubscribeOptions = {}): Promise<void> {
    const namespace = this.namespaces.forChannel(channelName);
    let channel = this.#channels.get(channelName);
    if (channel?.subscribers.has(peer)) throw new SwitchyardError('conflict', `already subscribed to ${channelName}`);
    if (channel === undefined && this.#channels.size >= this.#limits.maxChannels) {
      throw new SwitchyardError('unavailable', 'this server has reached its channel limit');
    }
    if (channel !== undefined && channel.subscribers.size >= namespace.maxSubscribers) {
      throw new SwitchyardError('unavailable', `channel ${channelName} has reached its subscriber limit`);
    }
    channel ??= this.#openChannel(channelName);
    const subscription: Subscription = { info: options.info, pending: [] };
    channel.subscribers.set(peer, subscription);
    channel.settingUp.add(subscription);
    // The channel's own copy of the name: each subscribe message brings a fresh one, which would stay per subscription.
    const subscriptions = this.#subscriptionsOf.get(peer);
    if (subscriptions === undefined) this.#subscriptionsOf.set(peer, channel.name);
    else if (typeof subscriptions === 'string') this.#subscriptionsOf.set(peer, new Set([subscriptions, channel.name]));
    else subscriptions.add(channel.name);

    const policy = this.namespaces.policy(channelName);
    let reply: SubscribedReply['data'];
    let replay: Publication[] = [];
    try {
      await this.#withTimeout(channel.ready, 'subscribe');
      if (options.since !== undefined) {
        const result = await this.#withTimeout(this.engine.recover(channelName, options.since, policy), 'recover');
        reply = { offset: result.offset, epoch: result.epoch, recovered: result.recovered };
        if (result.recovered) replay = result.publications;
        else reply.reason = result.reason;
      } else {
        const position = await this.#withTimeout(this.engine.position(channelName), 'position');
        reply = { offset: position.offset, epoch: position.epoch };
      }
    } catch (error) {
      if (channel.subscribers.get(peer) === subscription) this.#leave(peer, channelName);
      throw error;
    }
    // The peer may have unsubscribed or gone while the engine answered.
    if (channel.subscribers.get(peer) !== subscription) return;
    const state = this.#channelState.get(channelName);
    if (state !== undefined) reply.state = state();
    this.#send(peer, withId<SubscribedReply>({ type: 'subscribed', timestamp: Date.now(), channel: channelName, data: reply }, options.id));
    for (const publication of replay) this.#send(peer, publicationMessage(channelName, publication, false));
    const pending = subscription.pending ?? [];
    subscription.pending = null;
    channel.settingUp.delete(subscription);
    // Setting an existing key keeps its place: the subscription order of `live` does not change.
    if (subscription.info === undefined) channel.subscribers.set(peer, SET_UP);
    channel.live = null;
    for (const item of pending) {
      const publication = item.publication;
      if (publication !== undefined && publication.epoch === reply.epoch && publication.offset <= reply.offset) {
        continue; // already covered by the position or the replay
      }
      peer.deliver(item.outbound);
    }
    if (namespace.presence) {
      this.engine.addPresence(channelName, memberOf(peer, options.info)).catch((error: unknown) => this.#observer.onEngineError?.(error, 'addPresence'));
    }
  }

  /** Unsubscribe `peer` from `channel`; `not_subscribed` when it was not. */
  unsubscribe(peer: Peer, channelName: string): void {
    if (this.#channels.get(channelName)?.subscribers.has(peer) !== true) {
      throw new SwitchyardError('not_subscribed', `not subscribed to ${channelName}`);
    }
    this.#leave(peer, channelName);
  }

  #openChannel(name: string): LocalChannel {
    const channel: LocalChannel = { name, subscribers: new Map(), settingUp: new Set(), live: null, ready: Promise.resolve(), last: null, filling: null };
    channel.ready = this.engine.subscribe(name).then(async () => {
      const position = await this.engine.position(name);
      if (channel.last === null) channel.last = position;
    });
    // A failed engine subscribe is reported to each subscriber through the awaited `ready`.
    channel.ready.catch(() => undefined);
    this.#channels.set(name, channel);
    return channel;
  }

  #leave(peer: Peer, channelName: string): void {
    const channel = this.#channels.get(channelName);
    const subscriptions = this.#subscriptionsOf.get(peer);
    if (subscriptions === channelName) this.#subscriptionsOf.delete(peer);
    else if (typeof subscriptions === 'object') subscriptions.delete(channelName);
    if (channel === undefined) return;
    const subscription = channel.subscribers.get(peer);
    if (subscription === undefined) return;
    channel.subscribers.delete(peer);
    if (subscription.pending === null) channel.live = null;
    else channel.settingUp.delete(subscription);
    if (this.namespaces.forChannel(channelName).presence) {
      this.engine.removePresence(channelName, memberOf(peer, subscription.info)).catch((error: unknown) => this.#observer.onEngineError?.(error, 'removePresence'));
    }
    if (channel.subscribers.size === 0) {
      this.#channels.delete(channelName);
      this.engine.unsubscribe(channelName).catch((error: unknown) => this.#observer.onEngineError?.(error, 'unsubscribe'));
    }
  }

  // ---- publish, broadcast, direct ---------------------------------------------------------------

  /** Publish through the engine; resolves once the engine accepted it (in history, handed to delivery). */
  publish(request: PublishRequest): Promise<PublishResult> {
    try {
      return Promise.resolve(this.publishNow(request));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * `publish` without a promise when the engine is in-process: the result (or a thrown SwitchyardError) comes back
   * at once, after the fan-out. A remote engine's answer is still a promise.
   */
  publishNow(request: PublishRequest): PublishResult | Promise<PublishResult> {
    const engine = this.engine;
    if (!engine.ready) throw new SwitchyardError('unavailable', 'the engine is not available');
    const policy = this.namespaces.policy(request.channel);
    if (engine.publishNow === undefined) return this.#withTimeout(engine.publish(request, policy), 'publish');
    try {
      return engine.publishNow(request, policy);
    } catch (error) {
      throw this.#engineError(error, 'publish');
    }
  }

  /** Broadcast to every client (or one channel's subscribers) on every node. */
  broadcast(data: unknown, channel?: string): Promise<number> {
    return this.#withTimeout(this.engine.broadcast(data, channel), 'broadcast');
  }

  /** Send a direct message to a userId or clientId on any node; `not_found` when nobody matched. */
  async direct(to: string, from: string, data: unknown): Promise<number> {
    const delivered = await this.#withTimeout(this.engine.direct(to, from, data), 'direct');
    if (delivered === 0) throw new SwitchyardError('not_found', `no connection matches "${to}"`);
    return delivered;
  }

  async presence(channel: string): Promise<ClientInfo[]> {
    if (!this.namespaces.forChannel(channel).presence) throw new SwitchyardError('forbidden', `presence is off for ${channel}`);
    return this.#withTimeout(this.engine.presence(channel), 'presence');
  }

  async history(channel: string, query: Partial<HistoryQuery>, id?: RequestId): Promise<HistoryReply> {
    const limit = Math.min(query.limit ?? this.#limits.historyMaxLimit, this.#limits.historyMaxLimit);
    const full: HistoryQuery = { limit };
    if (query.since !== undefined) full.since = query.since;
    if (query.reverse !== undefined) full.reverse = query.reverse;
    const result: HistoryResult = await this.#withTimeout(this.engine.history(channel, full, this.namespaces.policy(channel)), 'history');
    return withId<HistoryReply>({
      type: 'history', timestamp: Date.now(), channel,
      data: { publications: result.publications, offset: result.offset, epoch: result.epoch },
    }, id);
  }

  /**
   * Deliver an ephemeral publication to this node's subscribers of `channel` only, without the engine:
   * for node-local feeds such as `$stats`, whose figures differ per server.
   */
  publishLocal(channelName: string, data: unknown, event?: string): void {
    const channel = this.#channels.get(channelName);
    if (channel === undefined) return;
    const position = channel.last ?? { offset: 0, epoch: '' };
    const publication: Publication = { data, offset: position.offset, epoch: position.epoch, timestamp: Date.now() };
    if (event !== undefined) publication.event = event;
    this.#fanOut(channel, publication, true);
  }

  // ---- engine events ----------------------------------------------------------------------------

  onPublication(channelName: string, publication: Publication, ephemeral: boolean): void {
    const channel = this.#channels.get(channelName);
    if (channel === undefined) return;
    this.#observer.onPublication?.(channelName, publication);
    if (ephemeral) {
      this.#fanOut(channel, publication, true);
      return;
    }
    if (channel.filling !== null) {
      channel.filling.push({ publication, ephemeral });
      return;
    }
    const last = channel.last;
    if (last !== null && last.epoch === publication.epoch) {
      if (publication.offset <= last.offset) return; // a repeat (e.g. a gap fill raced the live copy)
      if (publication.offset > last.offset + 1) {
        this.#fillGap(channel, last, publication);
        return;
      }
    } else if (last !== null && publication.offset > 1) {
      // A new epoch (the engine lost its store, e.g. Redis restarted empty) that began while this node was not
      // listening: deliver it from its start rather than from the middle.
      this.#fillGap(channel, { offset: 0, epoch: publication.epoch }, publication);
      return;
    }
    if (last === null) channel.last = { offset: publication.offset, epoch: publication.epoch };
    else {
      // Updated in place: the channel lives long, and a new object per publication would be one more to collect.
      last.offset = publication.offset;
      last.epoch = publication.epoch;
    }
    this.#fanOut(channel, publication, false);
  }

  /** Publications between `last` and `next` were lost in transit: read them from history first. */
  #fillGap(channel: LocalChannel, last: StreamPosition, next: Publication): void {
    const filling: Array<{ publication: Publication; ephemeral: boolean }> = [{ publication: next, ephemeral: false }];
    channel.filling = filling;
    const policy = this.namespaces.policy(channel.name);
    // A copy: `channel.last` changes in place as publications are delivered while the engine reads.
    this.engine.recover(channel.name, { offset: last.offset, epoch: last.epoch }, policy).then((result) => {
      if (result.recovered) for (const publication of result.publications) this.#deliverInOrder(channel, publication);
      else channel.last = null; // cannot be filled: subscribers see the jump and recover themselves
    }, (error: unknown) => {
      channel.last = null;
      this.#observer.onEngineError?.(error, 'fillGap');
    }).finally(() => {
      channel.filling = null;
      for (const item of filling) this.onPublication(channel.name, item.publication, item.ephemeral);
    });
  }

  #deliverInOrder(channel: LocalChannel, publication: Publication): void {
    const last = channel.last;
    if (last !== null && last.epoch === publication.epoch && publication.offset <= last.offset) return;
    channel.last = { offset: publication.offset, epoch: publication.epoch };
    this.#fanOut(channel, publication, false);
  }

  #fanOut(channel: LocalChannel, publication: Publication, ephemeral: boolean): void {
    this.#toSubscribers(channel, new Outbound(publicationMessage(channel.name, publication, ephemeral)), ephemeral ? undefined : publication);
  }

  /**
   * `outbound` to every subscriber of `channel`: held for those still being set up, and handed to the
   * outbox for all the others at once. `publication` is set for non-ephemeral publications (see Pending).
   */
  #toSubscribers(channel: LocalChannel, outbound: Outbound, publication: Publication | undefined): void {
    for (const subscription of channel.settingUp) subscription.pending?.push({ outbound, publication });
    const live = (channel.live ??= livePeers(channel));
    if (live.length > 0) this.#outbox.deliverAll(outbound, live);
  }

  onJoin(channel: string, member: ClientInfo): void {
    this.#presenceEvent(channel, 'join', member);
  }

  onLeave(channel: string, member: ClientInfo): void {
    this.#presenceEvent(channel, 'leave', member);
  }

  #presenceEvent(channelName: string, type: 'join' | 'leave', member: ClientInfo): void {
    const channel = this.#channels.get(channelName);
    if (channel === undefined || !this.namespaces.forChannel(channelName).joinLeave) return;
    this.#toSubscribers(channel, new Outbound({ type, timestamp: Date.now(), channel: channelName, data: member }), undefined);
  }

  onBroadcast(data: unknown, channelName: string | undefined): number {
    const message: ServerMessage = { type: 'broadcast', timestamp: Date.now(), data };
    if (channelName !== undefined) message.channel = channelName;
    const outbound = new Outbound(message);
    let delivered = 0;
    if (channelName === undefined) {
      for (const peer of this.#byClientId.values()) if (peer.deliver(outbound)) delivered++;
    } else {
      for (const [peer, subscription] of this.#channels.get(channelName)?.subscribers ?? []) {
        if (subscription.pending !== null) subscription.pending.push({ outbound, publication: undefined });
        else if (peer.deliver(outbound)) delivered++;
      }
    }
    return delivered;
  }

  onDirect(to: string, from: string, data: unknown): number {
    const targets = new Set<Peer>(this.#byUserId.get(to));
    const byClient = this.#byClientId.get(to);
    if (byClient !== undefined) targets.add(byClient);
    if (targets.size === 0) return 0;
    const outbound = new Outbound({ type: 'direct', timestamp: Date.now(), from, data });
    let delivered = 0;
    for (const peer of targets) if (peer.deliver(outbound)) delivered++;
    return delivered;
  }

  onAvailability(available: boolean): void {
    if (available === this.#available) return;
    this.#available = available;
    if (available) {
      // The engine may have lost this node's subscriptions: subscribe again. Anything published while it
      // was away shows up as an offset jump on the next publication, which the gap check fills from history.
      for (const channel of this.#channels.values()) {
        channel.ready = this.engine.subscribe(channel.name).catch((error: unknown) => this.#observer.onEngineError?.(error, 'resubscribe'));
      }
    }
  }

  #send(peer: Peer, message: ServerMessage): void {
    peer.deliver(new Outbound(message));
  }

  #withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
    const timeoutMs = this.#limits.engineTimeoutMs;
    // An in-process engine answers or fails by itself; a timer per request would only cost time.
    if (!this.engine.remote) {
      return promise.catch((error: unknown) => {
        throw this.#engineError(error, what);
      });
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new SwitchyardError('unavailable', `the engine did not answer ${what} in time`)), timeoutMs);
      promise.then((value) => {
        clearTimeout(timer);
        resolve(value);
      }, (error: unknown) => {
        clearTimeout(timer);
        reject(this.#engineError(error, what));
      });
    });
  }

  /** An engine error as the client sees it: `unavailable`, unless the engine already chose a code. */
  #engineError(error: unknown, what: string): SwitchyardError {
    if (error instanceof SwitchyardError) return error;
    this.#observer.onEngineError?.(error, what);
    return new SwitchyardError('unavailable', `the engine failed to ${what}`);
  }
}

/** Peers of `channel`'s subscriptions that are set up, in subscription order. */
function livePeers(channel: LocalChannel): Peer[] {
  const peers: Peer[] = [];
  for (const [peer, subscription] of channel.subscribers) if (subscription.pending === null) peers.push(peer);
  return peers;
}

/** The `message` frame for a publication. */
export function publicationMessage(channel: string, publication: Publication, ephemeral: boolean): PublicationMessage {
  const { timestamp, data, offset, epoch, event, from } = publication;
  // The usual message (a client's publication: `from`, no `event`, kept) in one literal, so that `from` has a slot
  // of its own: added afterwards, it would take a separate property store per message.
  if (event === undefined && from !== undefined && !ephemeral) return { type: 'message', timestamp, channel, data, offset, epoch, from };
  const message: PublicationMessage = { type: 'message', timestamp, channel, data, offset, epoch };
  if (event !== undefined) message.event = event;
  if (from !== undefined) message.from = from;
  if (ephemeral) message.ephemeral = true;
  return message;
}
