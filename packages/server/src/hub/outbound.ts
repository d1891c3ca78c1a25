// A server message prepared for many recipients: encoded once per codec, framed once per transport.

import type { Codec, ServerMessage } from '@switchyard/protocol';

/**
 * One outgoing message shared by every recipient. The first recipient that needs a given
 * encoding (or a transport-specific framing of it) computes it; everyone after reuses it.
 */
export class Outbound {
  readonly message: ServerMessage;
  /** Connections this message was written to; the transport counts it for metrics. */
  deliveries = 0;
  #json: string | Uint8Array | undefined;
  #msgpack: string | Uint8Array | undefined;
  #jsonFrame: unknown;
  #msgpackFrame: unknown;

  constructor(message: ServerMessage) {
    this.message = message;
  }

  /** The message encoded with `codec`, computed once. */
  encoded(codec: Codec): string | Uint8Array {
    if (codec.name === 'json') return (this.#json ??= codec.encode(this.message));
    return (this.#msgpack ??= codec.encode(this.message));
  }

  /**
   * The transport's framing of this message for `codec` (such as a pre-built WebSocket frame), computed once.
   * The hub does not know what a frame is; it only keeps the slot.
   */
  framed<T>(codec: Codec, frame: (encoded: string | Uint8Array) => T): T {
    if (codec.name === 'json') return (this.#jsonFrame ??= frame(this.encoded(codec))) as T;
    return (this.#msgpackFrame ??= frame(this.encoded(codec))) as T;
  }
}
