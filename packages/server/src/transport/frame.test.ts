import { describe, expect, it } from 'vitest';
import * as wsModule from 'ws';
import { serverFrame } from './frame.js';

/** ws's own frame builder, a documented public static that @types/ws does not declare. */
const Sender = (wsModule as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } }).Sender;

function wsFrame(payload: Buffer, binary: boolean, compressed: boolean): Buffer {
  return Buffer.concat(Sender.frame(payload, { fin: true, opcode: binary ? 2 : 1, mask: false, readOnly: true, rsv1: compressed }));
}

describe('serverFrame', () => {
  // Each length class of RFC 6455 §5.2 and both sides of each boundary: 7-bit, 16-bit and 64-bit lengths.
  const lengths = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000];

  it('builds the same bytes as ws for text, binary and compressed frames of every length class', () => {
    for (const length of lengths) {
      const payload = Buffer.alloc(length, 0x61);
      for (const [binary, compressed] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        expect(serverFrame(payload, binary, compressed)).toEqual(wsFrame(payload, binary, compressed));
      }
      expect(serverFrame(payload.toString('latin1'), false, false)).toEqual(wsFrame(payload, false, false));
    }
  });

  it('counts a string payload in UTF-8 bytes, not characters', () => {
    const text = 'é€😀'.repeat(30); // 270 bytes in 90 characters: a 16-bit length
    expect(serverFrame(text, false, false)).toEqual(wsFrame(Buffer.from(text), false, false));
  });

  it('frames a view into a larger buffer by its own bytes only', () => {
    const whole = Buffer.from('0123456789');
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 2, 5);
    expect(serverFrame(view, true, false)).toEqual(wsFrame(Buffer.from('23456'), true, false));
  });
});
