// A server message prepared for many recipients: encoded once per codec, framed once per transport.

import type { Codec, ServerMessage } from '@switchyard/protocol';

/**
 * One outgoing message shared by every recipient. The first recipient that needs a given
 * encoding (or a transport-specific framing of it) computes it; everyone after reuses it.
 */
export class Outbound {
  readonly message: ServerMessage;
  #json: string | Uint8Array | undefined;
  #msgpack: string | Uint8Array | undefined;
  #memo: Map<string, unknown> | undefined;

  constructor(message: ServerMessage) {
    this.message = message;
  }

  /** The message encoded with `codec`, computed once. */
  encoded(codec: Codec): string | Uint8Array {
    if (codec.name === 'json') return (this.#json ??= codec.encode(this.message));
    return (this.#msgpack ??= codec.encode(this.message));
  }

  /** A value derived from this message (such as a pre-built frame), computed once per `slot`. */
  memo<T>(slot: string, make: () => T): T {
    this.#memo ??= new Map();
    if (this.#memo.has(slot)) return this.#memo.get(slot) as T;
    const value = make();
    this.#memo.set(slot, value);
    return value;
  }
}
