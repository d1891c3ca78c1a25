// A server message prepared for many recipients: encoded once per codec, framed once per transport framing.

import type { Codec, ServerMessage } from '@switchyard/protocol';

/**
 * A transport's way of framing an encoded message (such as a pre-built WebSocket frame, plain or
 * compressed). `slot` names where an Outbound keeps the result; the hub does not know what a frame is.
 */
export interface Framing<T> {
  readonly slot: 0 | 1;
  frame(encoded: string | Uint8Array, binary: boolean): T;
}

/**
 * One outgoing message shared by every recipient. The first recipient that needs a given
 * encoding (or a framing of it) computes it; everyone after reuses it.
 */
export class Outbound {
  readonly message: ServerMessage;
  /** Connections this message was written to; the transport counts it for metrics. */
  deliveries = 0;
  #json: string | Uint8Array | undefined;
  #msgpack: string | Uint8Array | undefined;
  /** The plain JSON frame (framing slot 0), which most recipients share; kept apart so it needs no array. */
  #plainJsonFrame: unknown;
  /** Other frames, by index: 1 for JSON in slot 1, then 2 and 3 for MessagePack in slots 0 and 1. */
  #otherFrames: unknown[] | undefined;

  constructor(message: ServerMessage) {
    this.message = message;
  }

  /** The message encoded with `codec`, computed once. */
  encoded(codec: Codec): string | Uint8Array {
    if (codec.name === 'json') return (this.#json ??= codec.encode(this.message));
    return (this.#msgpack ??= codec.encode(this.message));
  }

  /** `framing`'s frame of this message encoded with `codec`, computed once. */
  framed<T>(codec: Codec, framing: Framing<T>): T {
    const index = (codec.binary ? 2 : 0) + framing.slot;
    if (index === 0) return (this.#plainJsonFrame ??= framing.frame(this.encoded(codec), false)) as T;
    const frames = (this.#otherFrames ??= new Array<unknown>(4));
    return (frames[index] ??= framing.frame(this.encoded(codec), codec.binary)) as T;
  }
}
