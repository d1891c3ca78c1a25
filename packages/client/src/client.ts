// SwitchyardClient: the connection state machine, requests as promises, reconnect, recovery and the offline queue.

/*
 * The client's states (ClientState) and what moves it between them:
 *
 *             connect()                  `connection` received (and `auth` answered)
 *   closed ---------------> connecting -------------------------------------------> connected
 *     ^                         |                                                       |
 *     |                         | retryable close, or no `connection` in time           | retryable close,
 *     |                         v                                                       | silent server
 *     |                   reconnecting <------------------------------------------------+
 *     |                     |      ^
 *     |                     |      +--- the attempt failed (retryable close): wait the next backoff delay
 *     |                     +---------- backoff timer fires (or connect(), or `online`): new socket;
 *     |                                 `connection` (and `auth`) --> connected
 *     |
 *     +---- from any state: disconnect(), a non-retryable close code, or maxAttempts reached
 *
 * Every close goes through #disconnect(code, reason, reconnect). Each socket belongs to one
 * generation; callbacks of an older generation's socket are ignored, so a late `close` of a
 * replaced socket cannot tear down the new connection.
 * On entering `connected`: subscriptions are re-sent (with `since` = their last position, so the
 * server replays what was missed), then the offline queue is flushed in order.
 */

import {
  CloseCodes, PROTOCOL_VERSION, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, clampCloseReason, codecForSubprotocol, isRetryable, jsonCodec,
  type ClientInfo, type ClientMessage, type ClientMessageType, type Codec, type ConnectionMessage, type Publication, type RequestId,
  type ServerMessage, type ServerMessageType, type StreamPosition,
} from '@switchyard/protocol';
import { backoff } from './backoff.js';
import { ClientError, type ClientErrorCode } from './client-error.js';
import { resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from './client-options.js';
import { OfflineQueue } from './offline-queue.js';
import { PendingRequests, type OutgoingRequest } from './pending-requests.js';
import { Subscription, type SubscribeOptions } from './subscription.js';
import { TypedEmitter, type Unsubscribe } from './typed-emitter.js';
import { WEBSOCKET_OPEN, type WebSocketLike } from './websocket-like.js';

/** Where the client is in its life; see the diagram at the top of client.ts. */
export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** Options of `publish`. */
export interface PublishOptions {
  /** An app-level name for the publication (`chat`, `typing`, …). */
  event?: string;
  /** Idempotency key; one is generated when omitted, so a publish retried after a reconnect is delivered once. */
  key?: string;
  /** Deliver to current subscribers only; not kept in history, no offset. */
  ephemeral?: boolean;
  /**
   * Not queued while offline and not sent again after a reconnect: rejects with `closed` instead.
   * For data that is stale by the time a connection is back (typing indicators, cursor positions).
   */
  volatile?: boolean;
}

/** What an `ack` to a publish says. */
export interface PublishResult {
  offset: number;
  epoch: string;
  /** True when the key had been seen: the original publication's offset, nothing delivered again. */
  duplicate?: boolean;
}

/** Options of `history`. */
export interface HistoryOptions {
  limit?: number;
  since?: StreamPosition;
  /** Newest first. */
  reverse?: boolean;
}

/** A `history` reply. */
export interface HistoryResult {
  publications: Publication[];
  /** The channel's latest offset. */
  offset: number;
  epoch: string;
}

/** A `presence` reply: one member per connection, and the distinct user ids. */
export interface PresenceResult {
  members: ClientInfo[];
  users: string[];
}

/** What the server said about itself in the `connection` frame. */
export interface ServerInfo {
  name: string;
  version: string;
  nodeId?: string;
}

/** Counters for dashboards. */
export interface ClientStats {
  /** Frames received, over all connections. */
  messagesIn: number;
  /** Frames sent, over all connections. */
  messagesOut: number;
  /** Successful reconnects (connections after the first). */
  reconnects: number;
  /** When the current connection was established (ms since the epoch); undefined while not connected. */
  connectedAt: number | undefined;
}

/** Why a message never reached the server. */
export type DropReason = 'queue_full' | 'closed';

/** Events of the client. */
export interface ClientEvents {
  state: { oldState: ClientState; newState: ClientState };
  connected: { clientId: string; userId?: string };
  disconnected: { code: number; reason: string; willReconnect: boolean };
  reconnecting: { attempt: number; delayMs: number };
  error: ClientError;
  broadcast: { data: unknown; channel?: string };
  direct: { from: string; data: unknown };
  /** Every decoded frame in and out (for message logs). */
  frame: { direction: 'in' | 'out'; message: object };
  dropped: { message: ClientMessage; reason: DropReason };
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
interface CallOptions {
  onSent?: () => void;
  volatile?: boolean;
  now?: boolean;
}
type Reply<T extends ServerMessageType> = Extract<ServerMessage, { type: T }>;

/** Requests that may be sent again after a reconnect without a visible effect happening twice. */
const RETRYABLE_REQUESTS: ReadonlySet<ClientMessageType> = new Set<ClientMessageType>(['echo', 'ping', 'presence', 'history']);
/** Subscribe errors worth retrying on the same connection (the others end the subscription). */
const TRANSIENT_ERRORS: ReadonlySet<ClientErrorCode> = new Set(['unavailable', 'rate_limited', 'internal']);
/** Wait before refreshing a token whose `expiresAt` has passed by this client's clock (a skewed clock). */
const SKEWED_REFRESH_MS = 1000;
/** Least time to spare when a token refresh starts (a token living under 10 s gets half its life; over 50 s, 10 % is more). */
const REFRESH_LEAD_MS = 5000;
/** setTimeout's ceiling (2^31 - 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * A Switchyard client for browsers and Node 20: `new SwitchyardClient(url, options)`.
 * It connects, reconnects with backoff and jitter, re-subscribes and recovers missed publications,
 * queues requests while offline, and turns every request into a promise.
 */
export class SwitchyardClient {
  clientId: string | undefined;
  userId: string | undefined;
  serverInfo: ServerInfo | undefined;
  heartbeatMs: number | undefined;
  /** Attempts since the last successful connect. */
  reconnectAttempts = 0;
  /** When the next attempt starts (ms since the epoch), while waiting in `reconnecting`. */
  nextReconnectAt: number | undefined;
  readonly stats: ClientStats = { messagesIn: 0, messagesOut: 0, reconnects: 0, connectedAt: undefined };

  readonly #url: string | (() => string | Promise<string>);
  readonly #options: ResolvedClientOptions;
  readonly #events = new TypedEmitter<ClientEvents>();
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #pending: PendingRequests;
  readonly #queue: OfflineQueue<OutgoingRequest>;
  #state: ClientState = 'closed';
  #socket: WebSocketLike | undefined;
  #codec: Codec = jsonCodec;
  #generation = 0;
  #nextId = 1;
  #lastInboundAt = 0;
  #livenessPingSent = false;
  #handshakeTimer: unknown;
  #livenessTimer: unknown;
  #reconnectTimer: unknown;
  #refreshTimer: unknown;
  readonly #resubscribeTimers = new Map<Subscription, unknown>();
  /** Transient refusals in a row per subscription, for the retry backoff. */
  readonly #resubscribeFailures = new Map<Subscription, number>();

  constructor(url: string | (() => string | Promise<string>), options: ClientOptions = {}) {
    if (typeof url !== 'string' && typeof url !== 'function') throw new TypeError('url must be a string or a function returning one');
    this.#url = url;
    this.#options = resolveClientOptions(options);
    this.#pending = new PendingRequests(this.#options.timers, this.#options.requestTimeoutMs);
    this.#queue = new OfflineQueue(this.#options.maxQueue, this.#options.queuePolicy);
    if (this.#options.autoConnect) this.connect();
  }

  get state(): ClientState {
    return this.#state;
  }

  /** Messages waiting in the offline queue. */
  get queued(): number {
    return this.#queue.size;
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  /**
   * Start connecting. While `reconnecting` and waiting for the backoff timer, try now instead
   * (a "Connect" button, or the network coming back). Otherwise a no-op unless `closed`.
   */
  connect(): void {
    if (this.#state === 'reconnecting' && this.#reconnectTimer !== undefined) {
      this.#options.timers.clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = undefined;
      this.nextReconnectAt = undefined;
      void this.#openTransport();
      return;
    }
    if (this.#state !== 'closed') return;
    this.reconnectAttempts = 0;
    this.#options.network?.addEventListener('online', this.#onOnline);
    this.#setState('connecting');
    void this.#openTransport();
  }

  /** Close for good (no reconnect): state → `closed`; queued and pending requests reject with `closed`. */
  disconnect(code: number = CloseCodes.NORMAL, reason = 'client closed'): void {
    this.#disconnect(code, reason, false);
  }

  on<K extends keyof ClientEvents>(event: K, handler: (payload: ClientEvents[K]) => void): Unsubscribe {
    return this.#events.on(event, handler);
  }

  onDirect(handler: (message: ClientEvents['direct']) => void): Unsubscribe {
    return this.#events.on('direct', handler);
  }

  // ---- requests ---------------------------------------------------------------------------------

  /** The server sends `data` back. */
  async echo(data?: unknown): Promise<unknown> {
    const reply = await this.#call({ type: 'echo', data }, 'echo');
    return reply.data;
  }

  /** An app-level ping; resolves to the round trip in ms, measured from when it was actually sent. */
  async ping(): Promise<number> {
    let sentAt = 0;
    await this.#call({ type: 'ping' }, 'pong', {
      onSent: () => {
        sentAt = now();
      },
    });
    return now() - sentAt;
  }

  /** Publish on `channel`; resolves once the server's engine accepted it. Queued while offline. */
  async publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    const message: WithoutId<ClientMessage> = { type: 'publish', channel, data, key: options.key ?? randomKey() };
    if (options.event !== undefined) message.event = options.event;
    if (options.ephemeral === true) message.ephemeral = true;
    const reply = await this.#call(message, 'ack', { volatile: options.volatile === true });
    const result: PublishResult = { offset: reply.data?.offset ?? 0, epoch: reply.data?.epoch ?? '' };
    if (reply.data?.duplicate === true) result.duplicate = true;
    return result;
  }

  /** Send `data` to every connected client. */
  async broadcast(data: unknown): Promise<{ delivered: number }> {
    const reply = await this.#call({ type: 'broadcast', data }, 'ack');
    return { delivered: reply.data?.delivered ?? 0 };
  }

  /** The members of a presence-enabled channel. */
  async presence(channel: string): Promise<PresenceResult> {
    const reply = await this.#call({ type: 'presence', channel }, 'presence');
    return { members: reply.data.members, users: reply.data.users ?? [] };
  }

  /** Publications kept in a channel's history (oldest first unless `reverse`). */
  async history(channel: string, options: HistoryOptions = {}): Promise<HistoryResult> {
    const message: WithoutId<ClientMessage> = { type: 'history', channel };
    if (options.limit !== undefined) message.limit = options.limit;
    if (options.since !== undefined) message.since = { offset: options.since.offset, epoch: options.since.epoch };
    if (options.reverse !== undefined) message.reverse = options.reverse;
    const reply = await this.#call(message, 'history');
    return { publications: reply.data.publications, offset: reply.data.offset, epoch: reply.data.epoch };
  }

  /** Send `data` to a userId (all its connections) or a clientId. */
  async direct(to: string, data: unknown): Promise<{ delivered: number }> {
    const reply = await this.#call({ type: 'direct', to, data }, 'ack');
    return { delivered: reply.data?.delivered ?? 0 };
  }

  /** Authenticate (or refresh the token of) this connection. */
  async auth(token: string): Promise<{ userId: string; expiresAt: number | null }> {
    const reply = await this.#call({ type: 'auth', data: { token } }, 'authenticated');
    this.#authenticated(reply.data);
    return reply.data;
  }

  // ---- subscriptions ----------------------------------------------------------------------------

  /** Subscribe to `channel` (idempotent: returns the existing subscription). Kept across reconnects. */
  subscribe(channel: string, options: SubscribeOptions = {}): Subscription {
    const existing = this.#subscriptions.get(channel);
    if (existing !== undefined) return existing;
    const subscription = new Subscription(this, channel, options);
    this.#subscriptions.set(channel, subscription);
    if (this.#state === 'connected') this.#sendSubscribe(subscription);
    return subscription;
  }

  getSubscription(channel: string): Subscription | undefined {
    return this.#subscriptions.get(channel);
  }

  /** Every current subscription. */
  subscriptions(): Subscription[] {
    return [...this.#subscriptions.values()];
  }

  /** End the subscription to `channel`; resolves when the server confirmed (at once when offline). */
  async unsubscribe(channel: string): Promise<void> {
    const subscription = this.#subscriptions.get(channel);
    if (subscription === undefined) return;
    this.#subscriptions.delete(channel);
    this.#clearResubscribe(subscription);
    this.#resubscribeFailures.delete(subscription);
    subscription.handleEnded();
    // Offline, the next connection simply does not subscribe again.
    if (this.#state !== 'connected') return;
    try {
      await this.#call({ type: 'unsubscribe', channel }, 'unsubscribed');
    } catch (error) {
      // Already not subscribed on the server (a refused subscribe, or the connection went away).
      if (error instanceof ClientError && (error.code === 'not_subscribed' || error.code === 'closed')) return;
      throw error;
    }
  }

  // ---- the state machine ------------------------------------------------------------------------

  #setState(newState: ClientState): void {
    const oldState = this.#state;
    if (oldState === newState) return;
    this.#state = newState;
    this.#events.emit('state', { oldState, newState });
  }

  /** The network came back: waiting out the rest of a long backoff would only delay the user. */
  readonly #onOnline = (): void => {
    if (this.#state === 'reconnecting') this.connect();
  };

  async #openTransport(): Promise<void> {
    const generation = ++this.#generation;
    let url: string;
    try {
      url = typeof this.#url === 'function' ? await this.#url() : this.#url;
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#events.emit('error', new ClientError('unavailable', `the url function failed: ${describe(error)}`));
      this.#disconnect(CloseCodes.ABNORMAL, 'url function failed', true);
      return;
    }
    if (generation !== this.#generation) return;
    const protocols = this.#options.encoding === 'msgpack' ? [SUBPROTOCOL_MSGPACK, SUBPROTOCOL_JSON] : undefined;
    let socket: WebSocketLike;
    try {
      socket = protocols === undefined ? new this.#options.WebSocket(url) : new this.#options.WebSocket(url, protocols);
    } catch (error) {
      // A malformed URL will not get better by retrying.
      this.#events.emit('error', new ClientError('closed', `cannot open a WebSocket to ${url}: ${describe(error)}`));
      this.#disconnect(CloseCodes.ABNORMAL, 'invalid url', false);
      return;
    }
    this.#socket = socket;
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => {
      if (generation === this.#generation) this.#codec = codecForSubprotocol(socket.protocol);
    };
    socket.onmessage = (event) => {
      if (generation === this.#generation) this.#receive(event.data);
    };
    socket.onclose = (event) => {
      if (generation === this.#generation) this.#disconnect(event.code, event.reason, isRetryable(event.code));
    };
    // `close` always follows `error`; the error itself carries nothing a client could act on.
    socket.onerror = () => undefined;
    this.#handshakeTimer = this.#options.timers.setTimeout(() => {
      if (generation !== this.#generation) return;
      this.#disconnect(CloseCodes.ABNORMAL, `no connection frame within ${this.#options.requestTimeoutMs} ms`, true);
    }, this.#options.requestTimeoutMs);
  }

  /** The single path of every close: stop the socket, settle requests, then reconnect or close for good. */
  #disconnect(code: number, reason: string, reconnect: boolean): void {
    if (this.#state === 'closed') return;
    const wasConnected = this.#state === 'connected';
    this.#generation++;
    this.#clearTimers();
    this.#closeSocket(code, reason);
    this.stats.connectedAt = undefined;
    for (const subscription of this.#subscriptions.values()) subscription.handleConnectionLost();
    const inFlight = this.#pending.takeAll();
    const willReconnect = reconnect && this.reconnectAttempts < this.#options.reconnect.maxAttempts;
    if (willReconnect) {
      const retry: OutgoingRequest[] = [];
      for (const request of inFlight) {
        const type = request.message.type;
        const idempotent = RETRYABLE_REQUESTS.has(type) || (type === 'publish' && request.message.key !== undefined);
        if (idempotent && request.volatile !== true) retry.push(request);
        else request.reject(new ClientError('closed', `the connection closed before the ${type} reply (${code} ${reason})`));
      }
      for (const dropped of this.#queue.requeueFront(retry)) this.#drop(dropped, 'queue_full');
      this.#scheduleReconnect(code, reason, wasConnected);
      return;
    }
    for (const request of inFlight) request.reject(new ClientError('closed', `the connection closed before the ${request.message.type} reply (${code} ${reason})`));
    for (const request of this.#queue.drain()) this.#drop(request, 'closed');
    this.nextReconnectAt = undefined;
    this.#options.network?.removeEventListener('online', this.#onOnline);
    this.#setState('closed');
    this.#events.emit('disconnected', { code, reason, willReconnect: false });
  }

  #scheduleReconnect(code: number, reason: string, wasConnected: boolean): void {
    const delayMs = backoff(this.reconnectAttempts, this.#options.reconnect, this.#options.random);
    this.reconnectAttempts++;
    const attempt = this.reconnectAttempts;
    this.nextReconnectAt = Date.now() + delayMs;
    const generation = this.#generation;
    this.#reconnectTimer = this.#options.timers.setTimeout(() => {
      if (generation !== this.#generation) return;
      this.#reconnectTimer = undefined;
      this.nextReconnectAt = undefined;
      void this.#openTransport();
    }, delayMs);
    this.#setState('reconnecting');
    if (wasConnected) this.#events.emit('disconnected', { code, reason, willReconnect: true });
    this.#events.emit('reconnecting', { attempt, delayMs });
  }

  #closeSocket(code: number, reason: string): void {
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined) return;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    // Keep an error handler: `ws` throws on an 'error' event nobody listens to (e.g. closing while CONNECTING).
    socket.onerror = () => undefined;
    // A client may only send 1000 or 3000–4999; other codes describe what we saw, not what we send.
    const wireCode = code === CloseCodes.NORMAL || (code >= 3000 && code <= 4999) ? code : CloseCodes.NORMAL;
    try {
      socket.close(wireCode, clampCloseReason(reason));
    } catch {
      // Already closing or closed: nothing left to release.
    }
  }

  #clearTimers(): void {
    const { clearTimeout } = this.#options.timers;
    for (const timer of [this.#handshakeTimer, this.#livenessTimer, this.#reconnectTimer, this.#refreshTimer]) {
      if (timer !== undefined) clearTimeout(timer);
    }
    this.#handshakeTimer = this.#livenessTimer = this.#reconnectTimer = this.#refreshTimer = undefined;
    for (const timer of this.#resubscribeTimers.values()) clearTimeout(timer);
    this.#resubscribeTimers.clear();
  }

  /** The server greeted us: authenticate if we have a token, then restore subscriptions and flush. */
  async #onConnection(frame: ConnectionMessage): Promise<void> {
    if (this.#state === 'connected') return;
    const generation = this.#generation;
    this.#options.timers.clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    const data = frame.data;
    if (data?.protocol !== PROTOCOL_VERSION) {
      // Another protocol version would misread every frame; retrying cannot fix that.
      const reason = `the server speaks protocol ${String(data?.protocol)}, this client ${PROTOCOL_VERSION}`;
      this.#events.emit('error', new ClientError('invalid_message', reason));
      this.#disconnect(CloseCodes.UNSUPPORTED_PROTOCOL, reason, false);
      return;
    }
    this.clientId = data.clientId;
    this.heartbeatMs = data.heartbeatMs;
    this.serverInfo = { ...data.server };
    this.userId = data.userId;
    this.#armLiveness(generation);
    const token = this.#options.token;
    if (token !== undefined) {
      try {
        const value = typeof token === 'function' ? await token() : token;
        if (generation !== this.#generation) return;
        const reply = await this.#call({ type: 'auth', data: { token: value } }, 'authenticated', { now: true });
        if (generation !== this.#generation) return;
        this.#authenticated(reply.data);
      } catch (error) {
        if (generation !== this.#generation) return;
        const failure = error instanceof ClientError ? error : new ClientError('unauthorized', `the token function failed: ${describe(error)}`);
        this.#events.emit('error', failure);
        // A token function that failed, or an auth that got no answer, may succeed on the next connection.
        if (!(error instanceof ClientError) || failure.code === 'timeout') {
          this.#disconnect(CloseCodes.ABNORMAL, failure.message, true);
          return;
        }
        // A refused token is followed by the server's close (1008: no reconnect); wait for it. Anything
        // else (e.g. `unavailable`: the server has no auth configured) leaves the connection anonymous.
        if (failure.code === 'unauthorized' || failure.code === 'forbidden' || failure.code === 'closed') return;
      }
    }
    this.#becomeConnected(generation);
  }

  #becomeConnected(generation: number): void {
    if (generation !== this.#generation) return;
    if (this.#state === 'reconnecting') this.stats.reconnects++;
    this.reconnectAttempts = 0;
    this.nextReconnectAt = undefined;
    this.stats.connectedAt = Date.now();
    // Subscriptions first, so queued publishes reach channels we are subscribed to in the order made.
    for (const subscription of this.#subscriptions.values()) this.#sendSubscribe(subscription);
    for (const request of this.#queue.drain()) this.#transmit(request);
    this.#setState('connected');
    if (generation !== this.#generation) return;
    const connected: ClientEvents['connected'] = { clientId: this.clientId ?? '' };
    if (this.userId !== undefined) connected.userId = this.userId;
    this.#events.emit('connected', connected);
  }

  #authenticated(data: { userId: string; expiresAt: number | null }): void {
    this.userId = data.userId;
    const token = this.#options.token;
    if (typeof token !== 'function' || data.expiresAt === null) return;
    if (this.#refreshTimer !== undefined) this.#options.timers.clearTimeout(this.#refreshTimer);
    const generation = this.#generation;
    // Refresh with 10% of the token's remaining life left, and at least REFRESH_LEAD_MS (half the life of a
    // shorter token), so that a slow token endpoint and the `auth` round trip still beat expiry. A clock skewed
    // past `expiresAt` waits SKEWED_REFRESH_MS rather than refreshing in a loop.
    const remaining = data.expiresAt - Date.now();
    const lead = Math.max(remaining * 0.1, Math.min(remaining / 2, REFRESH_LEAD_MS));
    const delay = remaining > 0 ? Math.min(remaining - lead, MAX_TIMER_MS) : SKEWED_REFRESH_MS;
    this.#refreshTimer = this.#options.timers.setTimeout(() => {
      this.#refreshTimer = undefined;
      if (generation !== this.#generation) return;
      Promise.resolve()
        .then(() => token())
        .then((fresh) => (generation === this.#generation ? this.auth(fresh) : undefined))
        .catch((error: unknown) => {
          this.#events.emit('error', error instanceof ClientError ? error : new ClientError('unauthorized', `token refresh failed: ${describe(error)}`));
        });
    }, delay);
  }

  // ---- liveness ---------------------------------------------------------------------------------

  /**
   * A silent server (no frame for two heartbeat periods) is dead: close and reconnect. Browsers
   * hide protocol pings, so after one quiet period we send an app-level `ping`, whose `pong` counts.
   */
  #armLiveness(generation: number): void {
    const heartbeatMs = this.heartbeatMs;
    if (heartbeatMs === undefined || !(heartbeatMs > 0)) return;
    const tickMs = Math.max(1, Math.floor(heartbeatMs / 2));
    const tick = (): void => {
      if (generation !== this.#generation) return;
      const idle = Date.now() - this.#lastInboundAt;
      if (idle >= 2 * heartbeatMs) {
        this.#disconnect(CloseCodes.HEARTBEAT_TIMEOUT, `no frame from the server for ${idle} ms`, true);
        return;
      }
      if (idle >= heartbeatMs && !this.#livenessPingSent) {
        this.#livenessPingSent = true;
        this.#send({ type: 'ping' });
      }
      this.#livenessTimer = this.#options.timers.setTimeout(tick, tickMs);
    };
    this.#livenessTimer = this.#options.timers.setTimeout(tick, tickMs);
  }

  // ---- frames -----------------------------------------------------------------------------------

  #receive(raw: unknown): void {
    const input = typeof raw === 'string' ? raw : bytesOf(raw);
    let frame: ServerMessage;
    try {
      if (input === undefined) throw new TypeError('unsupported frame data');
      frame = this.#codec.decode(input) as ServerMessage;
    } catch (error) {
      this.#events.emit('error', new ClientError('bad_json', `an undecodable frame from the server: ${describe(error)}`));
      return;
    }
    if (typeof frame !== 'object' || frame === null || typeof (frame as { type?: unknown }).type !== 'string') {
      this.#events.emit('error', new ClientError('invalid_message', 'a frame from the server without a type'));
      return;
    }
    this.#lastInboundAt = Date.now();
    this.#livenessPingSent = false;
    this.stats.messagesIn++;
    if (this.#events.listens('frame')) this.#events.emit('frame', { direction: 'in', message: frame });
    switch (frame.type) {
      case 'connection':
        void this.#onConnection(frame);
        return;
      case 'message':
        this.#subscriptions.get(frame.channel)?.handleMessage(frame);
        return;
      case 'join':
      case 'leave':
        this.#subscriptions.get(frame.channel)?.handlePresence(frame.type, frame.data);
        return;
      case 'broadcast': {
        const payload: ClientEvents['broadcast'] = { data: frame.data };
        if (frame.channel !== undefined) payload.channel = frame.channel;
        this.#events.emit('broadcast', payload);
        return;
      }
      case 'direct':
        this.#events.emit('direct', { from: frame.from, data: frame.data });
        return;
    }
    if (frame.id !== undefined && this.#pending.settle(frame as ServerMessage & { id: RequestId })) return;
    if (frame.type === 'error') this.#events.emit('error', ClientError.fromFrame(frame.data));
    // Anything else (the `pong` to a liveness ping, a reply that timed out) needs no action.
  }

  #send(message: ClientMessage): boolean {
    const socket = this.#socket;
    if (socket === undefined || socket.readyState !== WEBSOCKET_OPEN) return false;
    socket.send(this.#codec.encode(message));
    this.stats.messagesOut++;
    if (this.#events.listens('frame')) this.#events.emit('frame', { direction: 'out', message });
    return true;
  }

  /** Send now and wait for the reply; requeue if the socket is not open after all. */
  #transmit(request: OutgoingRequest): void {
    if (!this.#send(request.message)) {
      this.#enqueue(request);
      return;
    }
    request.onSent?.();
    this.#pending.track(request);
  }

  #enqueue(request: OutgoingRequest): void {
    const dropped = this.#queue.push(request);
    if (dropped !== undefined) this.#drop(dropped, 'queue_full');
  }

  #drop(request: OutgoingRequest, reason: 'queue_full' | 'closed'): void {
    this.#events.emit('dropped', { message: request.message, reason });
    request.reject(reason === 'queue_full'
      ? new ClientError('queue_full', `the offline queue is full (maxQueue ${this.#queue.maxSize}); ${request.message.type} dropped`)
      : new ClientError('closed', `the client closed before ${request.message.type} was sent`));
  }

  /**
   * Make a request: sent at once when connected, queued while (re)connecting, refused when closed.
   * `now` sends on the current socket even before `connected` (the connect-time `auth`);
   * `volatile` refuses instead of queueing and is not sent again after a reconnect.
   */
  #call<T extends ServerMessageType>(message: WithoutId<ClientMessage>, expected: T, how: CallOptions = {}): Promise<Reply<T>> {
    return new Promise<Reply<T>>((resolve, reject) => {
      const full = { ...message, id: this.#nextId++ } as ClientMessage & { id: RequestId };
      const request: OutgoingRequest = {
        message: full,
        resolve: (reply) => {
          if (reply.type === expected) resolve(reply as Reply<T>);
          else reject(new ClientError('internal', `expected a ${expected} reply to ${full.type}, got ${reply.type}`));
        },
        reject,
        ...(how.onSent === undefined ? {} : { onSent: how.onSent }),
        ...(how.volatile === true ? { volatile: true } : {}),
      };
      if (how.now === true || this.#state === 'connected') {
        if (this.#send(full)) {
          how.onSent?.();
          this.#pending.track(request);
          return;
        }
        if (how.now === true) {
          reject(new ClientError('closed', 'the connection is not open'));
          return;
        }
      }
      if (this.#state === 'closed') reject(new ClientError('closed', 'the client is closed; call connect() first'));
      else if (how.volatile === true) reject(new ClientError('closed', `not connected; a volatile ${full.type} is not queued`));
      else this.#enqueue(request);
    });
  }

  #sendSubscribe(subscription: Subscription): void {
    const channel = subscription.channel;
    const generation = this.#generation;
    this.#clearResubscribe(subscription);
    this.#call({ type: 'subscribe', channel, ...subscription.subscribeFields() }, 'subscribed').then((reply) => {
      if (this.#subscriptions.get(channel) !== subscription) return;
      this.#resubscribeFailures.delete(subscription);
      subscription.handleSubscribed(reply.data);
    }, (error: ClientError) => {
      if (this.#subscriptions.get(channel) !== subscription) return;
      // The connection went away: the next connection subscribes again.
      if (error.code === 'closed') return;
      subscription.handleError(error);
      if (error.code === 'timeout' || error.code === 'conflict') return;
      if (TRANSIENT_ERRORS.has(error.code) && generation === this.#generation) {
        this.#retrySubscribe(subscription, error.retryAfterMs);
        return;
      }
      this.#subscriptions.delete(channel);
      this.#resubscribeFailures.delete(subscription);
      subscription.handleEnded(error);
    });
  }

  #retrySubscribe(subscription: Subscription, retryAfterMs: number | undefined): void {
    const failures = this.#resubscribeFailures.get(subscription) ?? 0;
    this.#resubscribeFailures.set(subscription, failures + 1);
    const delay = retryAfterMs ?? backoff(failures, this.#options.reconnect, this.#options.random);
    const timer = this.#options.timers.setTimeout(() => {
      this.#resubscribeTimers.delete(subscription);
      if (this.#state === 'connected' && this.#subscriptions.get(subscription.channel) === subscription) this.#sendSubscribe(subscription);
    }, delay);
    this.#resubscribeTimers.set(subscription, timer);
  }

  #clearResubscribe(subscription: Subscription): void {
    const timer = this.#resubscribeTimers.get(subscription);
    if (timer === undefined) return;
    this.#options.timers.clearTimeout(timer);
    this.#resubscribeTimers.delete(subscription);
  }
}

/** A monotonic clock where there is one (browsers, Node), for round trips. */
function now(): number {
  return typeof globalThis.performance?.now === 'function' ? globalThis.performance.now() : Date.now();
}

/** 128 random bits as hex; getRandomValues works in insecure browser contexts, unlike randomUUID. */
function randomKey(): string {
  const bytes = new Uint8Array(16);
  if (typeof globalThis.crypto?.getRandomValues === 'function') globalThis.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

function bytesOf(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
