// Public surface of @switchyard/client.

export { SwitchyardClient } from './client.js';
export type {
  ClientState, ClientEvents, ClientStats, DropReason, HistoryOptions, HistoryResult, PresenceResult, PublishOptions,
  PublishResult, ServerInfo,
} from './client.js';
export { ClientError, type ClientErrorCode } from './client-error.js';
export { clientDefaults, type ClientOptions, type NetworkEvents, type ReconnectOptions, type Timers } from './client-options.js';
export { Subscription } from './subscription.js';
export type { SubscribeOptions, SubscribedInfo, SubscriptionEvents, SubscriptionMessage, SubscriptionState } from './subscription.js';
export { backoff, type BackoffOptions } from './backoff.js';
export { OfflineQueue, type QueuePolicy } from './offline-queue.js';
export type { WebSocketConstructor, WebSocketLike } from './websocket-like.js';
export type { Unsubscribe } from './typed-emitter.js';
export type { ClientInfo, Publication, StreamPosition } from '@switchyard/protocol';
