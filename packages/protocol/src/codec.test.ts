import { describe, expect, it } from 'vitest';
import { codecForSubprotocol, jsonCodec, msgpackCodec } from './codec.js';

describe('Codecs', () => {
  const message = { type: 'message', channel: 'c', data: { n: 1, s: 'ü', list: [1, null, true] }, offset: 7, epoch: 'e', timestamp: 1_700_000_000_000 };

  it('round-trip a message through JSON and MessagePack', () => {
    expect(jsonCodec.decode(jsonCodec.encode(message))).toEqual(message);
    const packed = msgpackCodec.encode(message);
    expect(packed).toBeInstanceOf(Uint8Array);
    expect(msgpackCodec.decode(packed)).toEqual(message);
  });

  it('decode JSON from UTF-8 bytes and refuse invalid UTF-8', () => {
    expect(jsonCodec.decode(new TextEncoder().encode('{"a":1}'))).toEqual({ a: 1 });
    expect(() => jsonCodec.decode(new Uint8Array([0x7b, 0xff, 0x7d]))).toThrow();
  });

  it('pick the codec from the negotiated subprotocol', () => {
    expect(codecForSubprotocol('switchyard.v1.msgpack')).toBe(msgpackCodec);
    expect(codecForSubprotocol('switchyard.v1.json')).toBe(jsonCodec);
    expect(codecForSubprotocol('')).toBe(jsonCodec);
  });
});
