// Options of SwitchyardClient, their defaults, and their validation.

import type { QueuePolicy } from './offline-queue.js';
import type { WebSocketConstructor } from './websocket-like.js';

/** Timer functions, injectable for tests and for runtimes with their own scheduler. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Where "the network is back" comes from: `window` in browsers (its `online` event). */
export interface NetworkEvents {
  addEventListener(type: 'online', listener: () => void): void;
  removeEventListener(type: 'online', listener: () => void): void;
}

/** Reconnect backoff: delay = random() * min(maxDelayMs, minDelayMs * factor^attempt). */
export interface ReconnectOptions {
  /** @default 500 */
  minDelayMs?: number;
  /** @default 30000 */
  maxDelayMs?: number;
  /** @default 2 */
  factor?: number;
  /** Attempts after one connection is lost before giving up (state → 'closed'). @default Infinity */
  maxAttempts?: number;
}

/** Options of `new SwitchyardClient(url, options)`. */
export interface ClientOptions {
  /**
   * Sent as an `auth` message right after each connect, before subscriptions are restored.
   * With a function, it is called on every connect and again ~10% before the token's `expiresAt`.
   * @default undefined (anonymous)
   */
  token?: string | (() => string | Promise<string>);
  /** The WebSocket class. @default globalThis.WebSocket (Node 20 has none: pass `WebSocket` from `ws`) */
  WebSocket?: WebSocketConstructor;
  /** Wire encoding; `msgpack` offers `Sec-WebSocket-Protocol: switchyard.v1.msgpack`. @default 'json' */
  encoding?: 'json' | 'msgpack';
  /** Connect in the constructor. @default true */
  autoConnect?: boolean;
  /** Reconnect backoff. */
  reconnect?: ReconnectOptions;
  /** How long a sent request waits for its reply (also bounds the wait for the `connection` frame). @default 10000 */
  requestTimeoutMs?: number;
  /** Requests kept while disconnected. @default 100 */
  maxQueue?: number;
  /** Which message goes when the queue is full; a `dropped` event fires for each one. @default 'drop-oldest' */
  queuePolicy?: QueuePolicy;
  /** @default globalThis.setTimeout / clearTimeout */
  timers?: Timers;
  /** Random source in [0, 1) for the backoff jitter. @default Math.random */
  random?: () => number;
  /**
   * Its `online` event makes a client that waits to reconnect try at once; `null` turns that off.
   * @default globalThis when it has addEventListener (browsers), else none
   */
  network?: NetworkEvents | null;
}

/** Options with every default applied. */
export interface ResolvedClientOptions {
  token: ClientOptions['token'];
  WebSocket: WebSocketConstructor;
  encoding: 'json' | 'msgpack';
  autoConnect: boolean;
  reconnect: Required<ReconnectOptions>;
  requestTimeoutMs: number;
  maxQueue: number;
  queuePolicy: QueuePolicy;
  timers: Timers;
  random: () => number;
  network: NetworkEvents | null;
}

/** Defaults of every option that has one. */
export const clientDefaults = Object.freeze({
  encoding: 'json' as const,
  autoConnect: true,
  reconnect: Object.freeze({ minDelayMs: 500, maxDelayMs: 30_000, factor: 2, maxAttempts: Infinity }),
  requestTimeoutMs: 10_000,
  maxQueue: 100,
  queuePolicy: 'drop-oldest' as const,
});

const globalTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
};

function defaultNetwork(): NetworkEvents | null {
  const runtime = globalThis as Partial<NetworkEvents>;
  return typeof runtime.addEventListener === 'function' && typeof runtime.removeEventListener === 'function'
    ? (runtime as NetworkEvents)
    : null;
}

function positive(name: string, value: number, allowInfinity = false): number {
  const ok = allowInfinity ? value > 0 || value === Infinity : Number.isFinite(value) && value > 0;
  if (typeof value !== 'number' || !ok) throw new TypeError(`${name} must be a positive number, got ${String(value)}`);
  return value;
}

/** Apply defaults and refuse bad values with a TypeError naming the option. */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (WebSocketClass === undefined) {
    throw new TypeError("no WebSocket implementation: pass options.WebSocket (in Node 20: import WebSocket from 'ws')");
  }
  const reconnect = { ...clientDefaults.reconnect, ...options.reconnect };
  positive('reconnect.minDelayMs', reconnect.minDelayMs);
  positive('reconnect.maxDelayMs', reconnect.maxDelayMs);
  if (reconnect.maxDelayMs < reconnect.minDelayMs) {
    throw new TypeError(`reconnect.maxDelayMs (${reconnect.maxDelayMs}) must not be below reconnect.minDelayMs (${reconnect.minDelayMs})`);
  }
  if (typeof reconnect.factor !== 'number' || !(reconnect.factor >= 1)) throw new TypeError(`reconnect.factor must be ≥ 1, got ${String(reconnect.factor)}`);
  if (!(reconnect.maxAttempts >= 0)) throw new TypeError(`reconnect.maxAttempts must be ≥ 0, got ${String(reconnect.maxAttempts)}`);
  const encoding = options.encoding ?? clientDefaults.encoding;
  if (encoding !== 'json' && encoding !== 'msgpack') throw new TypeError(`encoding must be 'json' or 'msgpack', got ${String(encoding)}`);
  return {
    token: options.token,
    WebSocket: WebSocketClass,
    encoding,
    autoConnect: options.autoConnect ?? clientDefaults.autoConnect,
    reconnect,
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs ?? clientDefaults.requestTimeoutMs),
    maxQueue: options.maxQueue ?? clientDefaults.maxQueue,
    queuePolicy: options.queuePolicy ?? clientDefaults.queuePolicy,
    timers: options.timers ?? globalTimers,
    random: options.random ?? Math.random,
    network: options.network === undefined ? defaultNetwork() : options.network,
  };
}
