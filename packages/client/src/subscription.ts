// One channel subscription: its state, its stream position (for recovery) and its events.

import type { ClientInfo, PublicationMessage, RecoveryFailure, StreamPosition, SubscribedReply } from '@switchyard/protocol';
import { ClientError } from './client-error.js';
import type { HistoryOptions, HistoryResult, PresenceResult, PublishOptions, PublishResult, SwitchyardClient } from './client.js';
import { TypedEmitter, type Unsubscribe } from './typed-emitter.js';

/** `subscribing` until the server's `subscribed` (again after every reconnect); `unsubscribed` for good. */
export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed';

/** A publication as the application sees it. */
export interface SubscriptionMessage {
  channel: string;
  data: unknown;
  event?: string;
  offset: number;
  epoch: string;
  from?: string;
  timestamp: number;
  /** True for ephemeral publications (typing indicators): not in history, offset not advanced. */
  ephemeral?: boolean;
}

/** The body of a `subscribed` reply. */
export type SubscribedInfo = SubscribedReply['data'];

/** Options of `client.subscribe()`. */
export interface SubscribeOptions {
  /** A small object shown to other members in presence. */
  info?: Record<string, unknown>;
  /** Resume after this position: the publications after it are replayed before live ones. */
  since?: StreamPosition;
}

/** Events of a subscription. */
export interface SubscriptionEvents {
  message: SubscriptionMessage;
  /** After every (re)subscribe. */
  subscribed: SubscribedInfo;
  join: ClientInfo;
  leave: ClientInfo;
  /** Recovery after a reconnect was impossible: the app should reload its state. */
  unrecovered: { reason: RecoveryFailure | 'unknown' };
  error: ClientError;
  state: { oldState: SubscriptionState; newState: SubscriptionState };
}

/**
 * A subscription to one channel, made with `client.subscribe(channel)`. It survives reconnects:
 * the client re-subscribes with `since: position`, so the app sees one continuous stream in which
 * no offset appears twice.
 */
export class Subscription {
  readonly channel: string;
  /** The `info` sent with every subscribe. */
  readonly info: Record<string, unknown> | undefined;
  /**
   * Resolves on the first `subscribed`; rejects when the subscription ends before it (a subscribe
   * refused for good, such as `invalid_channel`, or `unsubscribe()`). Transient failures, which are
   * retried, only emit `error`.
   */
  readonly ready: Promise<SubscribedInfo>;
  /** `subscribed.data.state` of the latest subscribe (e.g. the demo `events` list). */
  initialState: unknown;
  #state: SubscriptionState = 'subscribing';
  #position: StreamPosition | undefined;
  #settleReady: { resolve: (info: SubscribedInfo) => void; reject: (error: ClientError) => void } | undefined;
  readonly #client: SwitchyardClient;
  readonly #events = new TypedEmitter<SubscriptionEvents>();

  /** Created by `client.subscribe()`; not meant to be constructed directly. */
  constructor(client: SwitchyardClient, channel: string, options: SubscribeOptions = {}) {
    this.#client = client;
    this.channel = channel;
    this.info = options.info;
    this.#position = options.since === undefined ? undefined : { offset: options.since.offset, epoch: options.since.epoch };
    this.ready = new Promise<SubscribedInfo>((resolve, reject) => {
      this.#settleReady = { resolve, reject };
    });
    // Nobody has to await `ready`: an unobserved rejection must not crash Node or litter a console.
    this.ready.catch(() => undefined);
  }

  get state(): SubscriptionState {
    return this.#state;
  }

  /** The last publication seen (or the position the server reported): where recovery resumes. */
  get position(): StreamPosition | undefined {
    return this.#position === undefined ? undefined : { ...this.#position };
  }

  on<K extends keyof SubscriptionEvents>(event: K, handler: (payload: SubscriptionEvents[K]) => void): Unsubscribe {
    return this.#events.on(event, handler);
  }

  onMessage(handler: (message: SubscriptionMessage) => void): Unsubscribe {
    return this.#events.on('message', handler);
  }

  onJoin(handler: (member: ClientInfo) => void): Unsubscribe {
    return this.#events.on('join', handler);
  }

  onLeave(handler: (member: ClientInfo) => void): Unsubscribe {
    return this.#events.on('leave', handler);
  }

  presence(): Promise<PresenceResult> {
    return this.#client.presence(this.channel);
  }

  history(options?: HistoryOptions): Promise<HistoryResult> {
    return this.#client.history(this.channel, options);
  }

  publish(data: unknown, options?: PublishOptions): Promise<PublishResult> {
    return this.#client.publish(this.channel, data, options);
  }

  unsubscribe(): Promise<void> {
    return this.#client.unsubscribe(this.channel);
  }

  // ---- driven by the client ---------------------------------------------------------------------

  /** @internal The `subscribe` frame's optional fields for the next (re)subscribe. */
  subscribeFields(): { since?: StreamPosition; info?: Record<string, unknown> } {
    const fields: { since?: StreamPosition; info?: Record<string, unknown> } = {};
    if (this.#position !== undefined) fields.since = { ...this.#position };
    if (this.info !== undefined) fields.info = this.info;
    return fields;
  }

  /** @internal The server confirmed the subscription. */
  handleSubscribed(info: SubscribedInfo): void {
    if (this.#state === 'unsubscribed') return;
    // recovered: true keeps our position, because the replay that follows advances it; otherwise
    // the server's position is where the stream continues.
    if (info.recovered !== true) this.#position = { offset: info.offset, epoch: info.epoch };
    this.initialState = info.state;
    this.#setState('subscribed');
    this.#settleReady?.resolve(info);
    this.#settleReady = undefined;
    this.#events.emit('subscribed', info);
    if (info.recovered === false) this.#events.emit('unrecovered', { reason: info.reason ?? 'unknown' });
  }

  /**
   * @internal A publication arrived. Returns false when it was dropped as a duplicate: an offset
   * not above the last one in the same epoch (ephemeral publications do not advance offsets).
   */
  handleMessage(frame: PublicationMessage): boolean {
    if (this.#state === 'unsubscribed') return false;
    if (frame.ephemeral !== true) {
      const last = this.#position;
      if (last !== undefined && last.epoch === frame.epoch && frame.offset <= last.offset) return false;
      this.#position = { offset: frame.offset, epoch: frame.epoch };
    }
    const message: SubscriptionMessage = {
      channel: this.channel, data: frame.data, offset: frame.offset, epoch: frame.epoch, timestamp: frame.timestamp,
    };
    if (frame.event !== undefined) message.event = frame.event;
    if (frame.from !== undefined) message.from = frame.from;
    if (frame.ephemeral === true) message.ephemeral = true;
    this.#events.emit('message', message);
    return true;
  }

  /** @internal A presence change on the channel. */
  handlePresence(type: 'join' | 'leave', member: ClientInfo): void {
    if (this.#state !== 'unsubscribed') this.#events.emit(type, member);
  }

  /**
   * @internal A (re)subscribe failed. `ready` stays pending: the client retries transient failures,
   * and ends the subscription (which rejects `ready`) on permanent ones.
   */
  handleError(error: ClientError): void {
    this.#events.emit('error', error);
  }

  /** @internal The connection was lost: the subscription waits for the next connect. */
  handleConnectionLost(): void {
    if (this.#state === 'subscribed') this.#setState('subscribing');
  }

  /** @internal The subscription ended (unsubscribe, or a refused subscribe). */
  handleEnded(error?: ClientError): void {
    if (this.#state === 'unsubscribed') return;
    this.#settleReady?.reject(error ?? new ClientError('closed', `unsubscribed from ${this.channel} before it was subscribed`));
    this.#settleReady = undefined;
    this.#setState('unsubscribed');
  }

  #setState(newState: SubscriptionState): void {
    const oldState = this.#state;
    if (oldState === newState) return;
    this.#state = newState;
    this.#events.emit('state', { oldState, newState });
  }
}
