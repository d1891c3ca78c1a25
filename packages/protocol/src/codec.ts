// Encoders and decoders for the two wire encodings: JSON text frames and MessagePack binary frames.

import { Packr, Unpackr } from 'msgpackr';
import { SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK } from './frames.js';

/** One wire encoding. `encode` returns a string for text frames and bytes for binary frames. */
export interface Codec {
  readonly name: 'json' | 'msgpack';
  readonly subprotocol: string;
  readonly binary: boolean;
  encode(message: unknown): string | Uint8Array;
  /** Throws on malformed input; callers turn that into `bad_json`. */
  decode(frame: string | Uint8Array): unknown;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** JSON in text frames: the default, so a plain browser `WebSocket` works. */
export const jsonCodec: Codec = Object.freeze({
  name: 'json',
  subprotocol: SUBPROTOCOL_JSON,
  binary: false,
  encode: (message: unknown): string => JSON.stringify(message),
  decode: (frame: string | Uint8Array): unknown =>
    JSON.parse(typeof frame === 'string' ? frame : textDecoder.decode(frame)),
});

/**
 * msgpackr settings of the wire encoding. Records off: every message stays a plain map, so any
 * MessagePack library can read our frames. The server's history stores data with the same settings.
 * msgpackr writes into the options object it is given, so pass it a copy.
 */
export const MSGPACK_PACK_OPTIONS = Object.freeze({ useRecords: false, moreTypes: false, int64AsType: 'number' } as const);
export const MSGPACK_UNPACK_OPTIONS = Object.freeze({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' } as const);

const packr = new Packr({ ...MSGPACK_PACK_OPTIONS });
const unpackr = new Unpackr({ ...MSGPACK_UNPACK_OPTIONS });

/** MessagePack in binary frames, negotiated with `Sec-WebSocket-Protocol: switchyard.v1.msgpack`. */
export const msgpackCodec: Codec = Object.freeze({
  name: 'msgpack',
  subprotocol: SUBPROTOCOL_MSGPACK,
  binary: true,
  encode: (message: unknown): Uint8Array => packr.pack(message),
  decode: (frame: string | Uint8Array): unknown => {
    if (typeof frame === 'string') throw new TypeError('msgpack frames must be binary');
    return unpackr.unpack(frame);
  },
});

/** The codec for a negotiated subprotocol (JSON when none or unknown). */
export function codecForSubprotocol(subprotocol: string | undefined | null): Codec {
  return subprotocol === SUBPROTOCOL_MSGPACK ? msgpackCodec : jsonCodec;
}
