// One client connection: identity, permissions, rate limit, request handling. No transport library here.

import {
  CloseCodes, PROTOCOL_VERSION, exceedsDepth, isServerChannel, validateClientMessage,
  type ClientMessage, type Codec, type StreamPosition, type ConnectionMessage, type RequestId, type ServerMessage,
} from '@switchyard/protocol';
import { channelAllowed, type Authenticator, type Identity } from './auth/identity.js';
import { SwitchyardError, errorFrame, toSwitchyardError } from './errors.js';
import type { PublishRequest, PublishResult } from './engine/engine.js';
import type { Hub } from './hub/hub.js';
import { Outbound } from './hub/outbound.js';
import type { Peer } from './hub/peer.js';
import { authConfigured, type NamespaceOptions, type SwitchyardOptions } from './options.js';
import type { Stats } from './stats.js';

type PublishMessage = Extract<ClientMessage, { type: 'publish' }>;

/** What the transport offers a session: a way to send and a way to close. */
export interface Connection {
  readonly remoteAddress: string;
  readonly codec: Codec;
  /**
   * Queue a message; false when the connection is closing. `late`: the message cannot fail to encode (an ack: numbers
   * and strings), so the transport may encode it when it leaves, after the fan-out it writes first in the same tick.
   */
  send(outbound: Outbound, late?: boolean): boolean;
  close(code: number, reason: string): void;
}

/** What a permission hook is asked. */
export interface AuthorizeRequest {
  action: 'subscribe' | 'publish' | 'presence' | 'history' | 'broadcast' | 'direct';
  channel?: string;
  clientId: string;
  userId: string | undefined;
}

/** Hooks an embedding app can give the server. */
export interface SwitchyardHooks {
  /** Return false to refuse a request with `forbidden` (or throw a SwitchyardError for another code). */
  authorize?(request: AuthorizeRequest): boolean | Promise<boolean>;
}

/** Everything a session needs from its server. */
export interface SessionContext {
  readonly hub: Hub;
  readonly options: Readonly<SwitchyardOptions>;
  readonly stats: Stats;
  readonly authenticator: Authenticator | undefined;
  readonly hooks: SwitchyardHooks;
  readonly version: string;
  readonly newClientId: () => string;
  /** Reports session events to the server (typed events, logs). */
  readonly events: SessionEvents;
}

/** Session happenings the server turns into its typed events. */
export interface SessionEvents {
  subscribed(session: Session, channel: string): void;
  unsubscribed(session: Session, channel: string): void;
  published(session: Session, channel: string, offset: number): void;
  rejected(session: Session, error: SwitchyardError): void;
}

/**
 * Whole milliseconds on a monotonic clock that starts with the process: small integers, which V8 keeps in an
 * object's field without a heap object of their own (for the first 12 days; later values are simply boxed).
 */
function clockMs(): number {
  return Math.floor(performance.now());
}

/** One connected client. */
export class Session implements Peer {
  readonly clientId: string;
  readonly #ctx: SessionContext;
  readonly #connection: Connection;
  /**
   * Rate limit, as the generic cell rate algorithm keeps it: the time the next message is due, in whole ms of
   * `clockMs`. Each allowed message moves it one interval (1000 / rateLimitPerSecond ms) on from the later of it
   * and now; a message is refused while it lies more than burst − 1 intervals ahead of now. That is a token
   * bucket of `rateLimitBurst` tokens refilled at `rateLimitPerSecond`, in one field that stays a small integer
   * when the interval is whole (the default, 100 a second, makes it 10 ms): a double would be a heap object per
   * session for every full collection to mark.
   */
  #due = 0;
  #identity: Identity | undefined;
  #violations = 0;
  #violationWindowStart = 0;
  #authTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Subscribes in flight, by channel; there only while one is (most connections subscribe once, or never). */
  #subscribingByChannel: Map<string, Promise<void>> | undefined;

  constructor(ctx: SessionContext, connection: Connection, identity: Identity | undefined) {
    this.#ctx = ctx;
    this.#connection = connection;
    this.clientId = ctx.newClientId();
    this.#identity = identity;
  }

  get userId(): string | undefined {
    return this.#identity?.userId;
  }

  get remoteAddress(): string {
    return this.#connection.remoteAddress;
  }

  /** Join the hub and return the greeting (`connection`), which the transport writes ahead of anything else. */
  open(): Outbound {
    const { options, hub } = this.#ctx;
    const welcome: ConnectionMessage = {
      type: 'connection',
      timestamp: Date.now(),
      data: {
        clientId: this.clientId,
        protocol: PROTOCOL_VERSION,
        heartbeatMs: options.heartbeatMs,
        server: { name: options.name, version: this.#ctx.version, nodeId: hub.engine.nodeId },
      },
    };
    if (this.#identity !== undefined) {
      welcome.data.userId = this.#identity.userId;
      if (this.#identity.expiresAt !== null) welcome.data.expiresAt = this.#identity.expiresAt;
    }
    hub.addPeer(this);
    if (this.#identity !== undefined) this.#armExpiry(this.#identity);
    else if (this.#mustAuthenticate()) {
      this.#authTimer = setTimeout(() => this.#connection.close(CloseCodes.POLICY_VIOLATION, 'authentication timeout'), options.authTimeoutMs);
      this.#authTimer.unref();
    }
    return new Outbound(welcome);
  }

  /** The connection closed: leave every channel and stop timers. */
  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#authTimer);
    clearTimeout(this.#expiryTimer);
    this.#ctx.hub.removePeer(this);
  }

  deliver(outbound: Outbound): boolean {
    return this.#connection.send(outbound);
  }

  /** The connection this session speaks through (its transport writes to it directly). */
  get connection(): Connection {
    return this.#connection;
  }

  /** Handle one frame from the client. Never throws: every problem becomes an `error` reply. */
  receive(frame: Buffer | string): void {
    const { stats, options } = this.#ctx;
    const size = typeof frame === 'string' ? frame.length : frame.byteLength;
    let decoded: unknown;
    try {
      decoded = this.#connection.codec.decode(typeof frame === 'string' || this.#connection.codec.binary ? frame : frame.toString('utf8'));
    } catch {
      stats.countIn('invalid', size);
      this.#fail(new SwitchyardError('bad_json', 'the frame is not valid ' + (this.#connection.codec.binary ? 'MessagePack' : 'JSON')), undefined);
      return;
    }
    const retryAfter = this.#takeToken(clockMs());
    if (retryAfter > 0) {
      stats.countIn('limited', size);
      this.#rateLimited(decoded, retryAfter);
      return;
    }
    if (exceedsDepth(decoded, options.maxJsonDepth)) {
      stats.countIn('invalid', size);
      this.#fail(new SwitchyardError('invalid_message', `nesting deeper than ${options.maxJsonDepth} levels`), idOf(decoded));
      return;
    }
    const result = validateClientMessage(decoded);
    if (!result.ok) {
      stats.countIn('invalid', size);
      this.#fail(new SwitchyardError(result.code, result.message), result.id);
      return;
    }
    const message = result.message;
    if ('channel' in message && message.channel.length > options.maxChannelLength) {
      stats.countIn('invalid', size);
      this.#fail(new SwitchyardError('invalid_channel', `channel names are at most ${options.maxChannelLength} characters here`), message.id);
      return;
    }
    stats.countIn(message.type, size);
    try {
      const handled = this.#handle(message);
      if (handled !== undefined) handled.catch((error: unknown) => this.#fail(toSwitchyardError(error), message.id));
    } catch (error) {
      this.#fail(toSwitchyardError(error), message.id);
    }
  }

  /** Take one token; returns 0 when allowed, else the ms until one is available. */
  #takeToken(now: number): number {
    const { rateLimitPerSecond: rate, rateLimitBurst: burst } = this.#ctx.options;
    const interval = 1000 / rate;
    const due = Math.max(this.#due, now);
    const early = due - now - (burst - 1) * interval;
    if (early > 0) return Math.ceil(early);
    this.#due = due + interval;
    return 0;
  }

  #rateLimited(decoded: unknown, retryAfterMs: number): void {
    const now = clockMs();
    if (this.#violations === 0 || now - this.#violationWindowStart > this.#ctx.options.rateLimitWindowMs) {
      this.#violationWindowStart = now;
      this.#violations = 0;
    }
    this.#violations++;
    if (this.#violations > this.#ctx.options.rateLimitMaxViolations) {
      this.#ctx.stats.countError('rate_limited');
      this.#connection.close(CloseCodes.POLICY_VIOLATION, 'rate limit exceeded');
      return;
    }
    this.#fail(new SwitchyardError('rate_limited', `too many messages; retry in ${retryAfterMs} ms`, retryAfterMs), idOf(decoded));
  }

  /** Dispatch a valid message. Synchronous requests return undefined; async ones a promise. */
  #handle(message: ClientMessage): Promise<void> | undefined {
    if (message.type === 'auth') return this.#authenticate(message.data.token, message.id);
    if (this.#identity === undefined && this.#ctx.options.auth === 'required') {
      this.#fail(new SwitchyardError('unauthorized', 'authenticate first (send "auth")'), message.id);
      return undefined;
    }
    switch (message.type) {
      case 'echo':
        this.#send(reply({ type: 'echo', timestamp: Date.now(), data: message.data }, message.id));
        return undefined;
      case 'ping':
        this.#send(reply({ type: 'pong', timestamp: Date.now(), data: message.data }, message.id));
        return undefined;
      case 'subscribe': {
        const channel = message.channel;
        const previous = this.#subscribing().get(channel);
        const run = async (): Promise<void> => {
          if (previous !== undefined) await previous.catch(() => undefined);
          await this.#subscribe(channel, message.since, message.info, message.id);
        };
        const done = run();
        const settled = done.catch(() => undefined).finally(() => {
          const subscribing = this.#subscribingByChannel;
          if (subscribing?.get(channel) !== settled) return;
          subscribing.delete(channel);
          // Dropped when empty: 10k empty maps kept for nothing weighed 1.5 MB of heap.
          if (subscribing.size === 0) this.#subscribingByChannel = undefined;
        });
        this.#subscribing().set(channel, settled);
        return done;
      }
      case 'unsubscribe':
        return this.#afterSubscribe(message.channel, () => {
          this.#ctx.hub.unsubscribe(this, message.channel);
          this.#send(reply({ type: 'unsubscribed', timestamp: Date.now(), channel: message.channel }, message.id));
          this.#ctx.events.unsubscribed(this, message.channel);
        });
      case 'publish':
        // A publisher seldom has a subscribe in flight on the channel; then no closure is made for the wait.
        if (this.#subscribingByChannel === undefined) return this.#publish(message);
        return this.#afterSubscribe(message.channel, () => this.#publish(message));
      case 'broadcast':
        return this.#broadcast(message.data, message.id);
      case 'presence':
        return this.#afterSubscribe(message.channel, () => this.#presence(message.channel, message.id));
      case 'history':
        return this.#afterSubscribe(message.channel, () => this.#history(message));
      case 'direct':
        return this.#direct(message.to, message.data, message.id);
    }
  }

  #subscribing(): Map<string, Promise<void>> {
    return (this.#subscribingByChannel ??= new Map());
  }

  /** Run `action` after any subscribe in flight on `channel`, so a client's requests keep their order. */
  #afterSubscribe(channel: string, action: () => void | Promise<void>): Promise<void> | undefined {
    const pending = this.#subscribingByChannel?.get(channel);
    if (pending === undefined) {
      const result = action();
      return result instanceof Promise ? result : undefined;
    }
    return pending.then(action);
  }

  async #subscribe(channel: string, since: StreamPosition | undefined, info: Record<string, unknown> | undefined, id: RequestId | undefined): Promise<void> {
    const { hub, options } = this.#ctx;
    const namespace = hub.namespaces.forChannel(channel);
    if (!namespace.subscribe) throw new SwitchyardError('forbidden', `clients may not subscribe to ${channel}`);
    this.#requireAccess(namespace, channel, 'subscribe');
    if (hub.subscriptionCount(this) >= options.maxSubscriptionsPerConnection) {
      throw new SwitchyardError('forbidden', `subscription limit reached (${options.maxSubscriptionsPerConnection})`);
    }
    if (info !== undefined && JSON.stringify(info).length > options.maxPresenceInfoBytes) {
      throw new SwitchyardError('invalid_message', `info is larger than ${options.maxPresenceInfoBytes} bytes`);
    }
    await this.#authorize({ action: 'subscribe', channel });
    const subscribeOptions: { since?: { offset: number; epoch: string }; info?: Record<string, unknown>; id?: RequestId } = {};
    if (since !== undefined) subscribeOptions.since = since;
    if (info !== undefined) subscribeOptions.info = info;
    if (id !== undefined) subscribeOptions.id = id;
    await hub.subscribe(this, channel, subscribeOptions);
    this.#ctx.events.subscribed(this, channel);
  }

  /**
   * Publish, and acknowledge once the engine has it. With the in-process engine and no authorize hook this all
   * happens before returning, without a promise: the ack then leaves in the same tick as the fan-out.
   */
  #publish(message: PublishMessage): Promise<void> | undefined {
    const channel = message.channel;
    if (isServerChannel(channel)) throw new SwitchyardError('forbidden', 'clients may not publish to server channels ($…)');
    const namespace = this.#ctx.hub.namespaces.forChannel(channel);
    if (!namespace.publish) throw new SwitchyardError('forbidden', `clients may not publish to ${channel}`);
    this.#requireAccess(namespace, channel, 'publish');
    const authorizing = this.#ctx.hooks.authorize === undefined ? undefined : this.#authorize({ action: 'publish', channel });
    if (authorizing !== undefined) return authorizing.then(() => this.#publishAuthorized(message));
    return this.#publishAuthorized(message);
  }

  #publishAuthorized(message: PublishMessage): Promise<void> | undefined {
    const request: PublishRequest = { channel: message.channel, data: message.data, from: this.userId ?? this.clientId };
    if (message.event !== undefined) request.event = message.event;
    if (message.key !== undefined) request.key = message.key;
    if (message.ephemeral === true) request.ephemeral = true;
    const result = this.#ctx.hub.publishNow(request);
    if (result instanceof Promise) return result.then((published) => this.#acknowledge(message, published));
    this.#acknowledge(message, result);
    return undefined;
  }

  #acknowledge(message: PublishMessage, result: PublishResult): void {
    const data: { offset: number; epoch: string; duplicate?: boolean } = { offset: result.offset, epoch: result.epoch };
    if (result.duplicate) data.duplicate = true;
    // Encoded after the publication's fan-out is written (see Connection#send): it leaves after it anyway.
    this.#connection.send(new Outbound(reply({ type: 'ack', timestamp: Date.now(), data }, message.id)), true);
    if (!result.duplicate) this.#ctx.events.published(this, message.channel, result.offset);
  }

  async #broadcast(data: unknown, id: RequestId | undefined): Promise<void> {
    if (authConfigured(this.#ctx.options) && this.#identity?.broadcast !== true) {
      throw new SwitchyardError('forbidden', 'this client may not broadcast (token needs "broadcast": true)');
    }
    await this.#authorize({ action: 'broadcast' });
    const delivered = await this.#ctx.hub.broadcast(data);
    this.#send(reply({ type: 'ack', timestamp: Date.now(), data: { delivered } }, id));
  }

  async #presence(channel: string, id: RequestId | undefined): Promise<void> {
    const namespace = this.#ctx.hub.namespaces.forChannel(channel);
    this.#requireAccess(namespace, channel, 'subscribe');
    await this.#authorize({ action: 'presence', channel });
    const members = await this.#ctx.hub.presence(channel);
    const users = [...new Set(members.flatMap((member) => (member.userId === undefined ? [] : [member.userId])))];
    this.#send(reply({ type: 'presence', timestamp: Date.now(), channel, data: { members, users } }, id));
  }

  async #history(message: Extract<ClientMessage, { type: 'history' }>): Promise<void> {
    const namespace = this.#ctx.hub.namespaces.forChannel(message.channel);
    this.#requireAccess(namespace, message.channel, 'subscribe');
    await this.#authorize({ action: 'history', channel: message.channel });
    const query: { since?: { offset: number; epoch: string }; limit?: number; reverse?: boolean } = {};
    if (message.since !== undefined) query.since = message.since;
    if (message.limit !== undefined) query.limit = message.limit;
    if (message.reverse !== undefined) query.reverse = message.reverse;
    this.#send(await this.#ctx.hub.history(message.channel, query, message.id));
  }

  async #direct(to: string, data: unknown, id: RequestId | undefined): Promise<void> {
    if (authConfigured(this.#ctx.options) && this.#identity === undefined) {
      throw new SwitchyardError('unauthorized', 'authenticate before sending direct messages');
    }
    await this.#authorize({ action: 'direct' });
    const delivered = await this.#ctx.hub.direct(to, this.userId ?? this.clientId, data);
    this.#send(reply({ type: 'ack', timestamp: Date.now(), data: { delivered } }, id));
  }

  async #authenticate(token: string, id: RequestId | undefined): Promise<void> {
    const authenticator = this.#ctx.authenticator;
    if (authenticator === undefined) {
      throw new SwitchyardError('unavailable', 'authentication is not configured on this server');
    }
    let identity: Identity;
    try {
      identity = await authenticator.verify(token);
    } catch (error) {
      const failure = toSwitchyardError(error);
      this.#fail(failure, id);
      this.#connection.close(CloseCodes.POLICY_VIOLATION, failure.message);
      return;
    }
    if (this.#closed) return;
    const previous = this.#identity?.userId;
    if (previous !== undefined && previous !== identity.userId) {
      throw new SwitchyardError('conflict', 'a connection cannot change its user; reconnect instead');
    }
    this.#identity = identity;
    clearTimeout(this.#authTimer);
    this.#authTimer = undefined;
    if (previous === undefined) this.#ctx.hub.identifyPeer(this, undefined);
    this.#armExpiry(identity);
    this.#send(reply({ type: 'authenticated', timestamp: Date.now(), data: { userId: identity.userId, expiresAt: identity.expiresAt } }, id));
  }

  #armExpiry(identity: Identity): void {
    clearTimeout(this.#expiryTimer);
    if (identity.expiresAt === null) return;
    // setTimeout's limit is 2^31-1 ms; a longer token simply gets re-armed on its next refresh.
    const delay = Math.min(Math.max(0, identity.expiresAt - Date.now()), 2_147_483_647);
    this.#expiryTimer = setTimeout(() => this.#connection.close(CloseCodes.POLICY_VIOLATION, 'token expired'), delay);
    this.#expiryTimer.unref();
  }

  #mustAuthenticate(): boolean {
    const { options, hub } = this.#ctx;
    if (!authConfigured(options)) return false;
    if (options.auth === 'required') return true;
    return !Object.values(hub.namespaces.all()).some((namespace) => namespace.anonymous === true);
  }

  /** Anonymous access and token channel patterns. */
  #requireAccess(namespace: Readonly<NamespaceOptions>, channel: string, action: 'subscribe' | 'publish'): void {
    const identity = this.#identity;
    if (identity === undefined) {
      const { options } = this.#ctx;
      const anonymous = options.auth !== 'required' && (namespace.anonymous ?? !authConfigured(options));
      if (!anonymous) throw new SwitchyardError('unauthorized', `authenticate to use ${channel}`);
      return;
    }
    if (!channelAllowed(identity.permissions?.[action], channel)) {
      throw new SwitchyardError('forbidden', `your token does not allow ${action} on ${channel}`);
    }
  }

  /** Ask the app's permission hook, if any; resolves synchronously (undefined) when there is none. */
  #authorize(request: Omit<AuthorizeRequest, 'clientId' | 'userId'>): Promise<void> | undefined {
    const hook = this.#ctx.hooks.authorize;
    if (hook === undefined) return undefined;
    return Promise.resolve(hook({ ...request, clientId: this.clientId, userId: this.userId })).then((allowed) => {
      if (!allowed) throw new SwitchyardError('forbidden', `${request.action} refused${request.channel === undefined ? '' : ` on ${request.channel}`}`);
    });
  }

  #send(message: ServerMessage): void {
    this.#connection.send(new Outbound(message));
  }

  /** Send an error reply. */
  #fail(error: SwitchyardError, id: RequestId | undefined): void {
    this.#ctx.stats.countError(error.code);
    this.#ctx.events.rejected(this, error);
    this.#send(errorFrame(error, id));
  }
}

function reply<T extends ServerMessage>(message: T, id: RequestId | undefined): T {
  if (id !== undefined) message.id = id;
  return message;
}

function idOf(value: unknown): RequestId | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const id = (value as Record<string, unknown>)['id'];
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
}
