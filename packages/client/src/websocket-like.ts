// The part of the WebSocket API the SDK uses, so a browser's WebSocket and Node's `ws` both fit.

/**
 * A handler type whose parameter is checked bivariantly, so implementations with richer event
 * types (`ws`'s `MessageEvent`, the DOM's `CloseEvent`) are accepted without casts.
 */
type EventHandler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The WebSocket surface the client relies on (the WHATWG API, which `ws` also implements). */
export interface WebSocketLike {
  readonly readyState: number;
  /** The subprotocol the server selected ('' when none). */
  readonly protocol: string;
  binaryType: string;
  onopen: EventHandler<unknown> | null;
  onmessage: EventHandler<{ data: unknown }> | null;
  onclose: EventHandler<{ code: number; reason: string }> | null;
  onerror: EventHandler<unknown> | null;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket class: `globalThis.WebSocket` in browsers, `WebSocket` from the `ws` package in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** `readyState` of an open socket (the same in every implementation). */
export const WEBSOCKET_OPEN = 1;
