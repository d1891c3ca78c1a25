import { describe, expect, it } from 'vitest';
import type { Publication } from '@switchyard/protocol';
import { PackedHistory, releaseBuffer } from './packed-history.js';

function publication(offset: number, data: unknown, extra: Partial<Publication> = {}): Publication {
  return { data, offset, epoch: 'e1', timestamp: 1_700_000_000_000 + offset, ...extra };
}

describe('PackedHistory', () => {
  it('reads back every field of what it kept, for any index range', () => {
    const history = new PackedHistory();
    for (let offset = 1; offset <= 5; offset++) history.append(publication(offset, { n: offset }, offset === 3 ? { event: 'tick', from: 'u1' } : {}));
    expect(history.length).toBe(5);
    expect(history.firstOffset).toBe(1);
    expect(history.read(1, 4, 'e1')).toEqual([
      { data: { n: 2 }, offset: 2, epoch: 'e1', timestamp: 1_700_000_000_002 },
      { data: { n: 3 }, offset: 3, epoch: 'e1', timestamp: 1_700_000_000_003, event: 'tick', from: 'u1' },
      { data: { n: 4 }, offset: 4, epoch: 'e1', timestamp: 1_700_000_000_004 },
    ]);
    expect(history.read(-2, 99, 'e1').map((p) => p.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(history.timestampAt(4)).toBe(1_700_000_000_005);
  });

  it('gives back what JSON and MessagePack clients can send, as a MessagePack subscriber receives it', () => {
    const history = new PackedHistory();
    const values: unknown[] = [
      null, true, 0, 1.5, -7, 2 ** 60, 'plain', 'é'.repeat(3000), '',
      [1, 'x', { y: [true, false, null] }], { nested: { deep: ['a'] } }, new Date(1_700_000_000_000),
    ];
    values.forEach((value, index) => history.append(publication(index + 1, value)));
    expect(history.read(0, values.length, 'e1').map((entry) => entry.data)).toStrictEqual(values);
    history.append(publication(values.length + 1, '\ud800!'));
    expect(history.read(values.length, values.length + 1, 'e1')[0]!.data).not.toContain('\ud800');
  });

  it('copies binary data out, so it stays as read when the history buffer moves', () => {
    const history = new PackedHistory();
    history.append(publication(1, new Uint8Array([0, 1, 255])));
    const bytes = history.read(0, 1, 'e1')[0]!.data as Uint8Array;
    for (let offset = 2; offset <= 400; offset++) {
      history.append(publication(offset, new Uint8Array(64).fill(offset & 0xff)));
      if (history.length > 3) history.dropOldest(history.length - 3);
    }
    expect([...bytes]).toEqual([0, 1, 255]);
    expect(history.read(0, 1, 'e1')[0]!.data).toBeInstanceOf(Uint8Array);
  });

  it('hands each reader fresh objects', () => {
    const history = new PackedHistory();
    history.append(publication(1, { list: [1] }));
    const first = history.read(0, 1, 'e1')[0]!.data as { list: number[] };
    first.list.push(2);
    expect(history.read(0, 1, 'e1')[0]!.data).toEqual({ list: [1] });
  });

  it('drops the oldest and keeps offsets and data aligned across many rewrites of its buffer', () => {
    const history = new PackedHistory();
    const text = (offset: number): string => `${offset}:${'x'.repeat(offset % 700)}`;
    for (let offset = 1; offset <= 5000; offset++) {
      history.append(publication(offset, text(offset)));
      if (history.length > 40) history.dropOldest(history.length - 40);
    }
    expect(history.length).toBe(40);
    expect(history.firstOffset).toBe(4961);
    const read = history.read(0, 40, 'e1');
    expect(read.map((p) => p.offset)).toEqual(Array.from({ length: 40 }, (_, index) => 4961 + index));
    read.forEach((entry) => expect(entry.data).toBe(text(entry.offset)));
    // Timestamps move with their entries (each publication's is 1_700_000_000_000 + its offset).
    read.forEach((entry, index) => {
      expect(entry.timestamp).toBe(1_700_000_000_000 + entry.offset);
      expect(history.timestampAt(index)).toBe(entry.timestamp);
    });
  });

  it('holds bytes in proportion to what it keeps: grows for large publications, shrinks after them', () => {
    const history = new PackedHistory();
    let offset = 0;
    const keepTen = (data: string): void => {
      history.append(publication(++offset, data));
      if (history.length > 10) history.dropOldest(history.length - 10);
    };
    for (let index = 0; index < 30; index++) keepTen('y'.repeat(10_000));
    expect(history.bytesHeld).toBeGreaterThanOrEqual(10 * 10_000);
    expect(history.bytesHeld).toBeLessThanOrEqual(4 * 11 * 10_100);
    for (let index = 0; index < 200; index++) keepTen('small');
    expect(history.bytesHeld).toBeLessThanOrEqual(1024);
    history.dropOldest(10);
    expect(history.bytesHeld).toBe(0);
  });

  it('empties when everything is dropped and starts again at the next appended offset', () => {
    const history = new PackedHistory();
    history.append(publication(1, 'a'));
    history.append(publication(2, 'b'));
    history.dropOldest(5);
    expect(history.length).toBe(0);
    expect(history.read(0, 10, 'e1')).toEqual([]);
    history.append(publication(3, 'c'));
    expect(history.firstOffset).toBe(3);
    expect(history.read(0, 1, 'e1').map((p) => p.data)).toEqual(['c']);
  });

  it('restarts at a publication that does not follow the newest kept one', () => {
    const history = new PackedHistory();
    history.append(publication(1, 'a'));
    history.append(publication(7, 'g'));
    expect(history.length).toBe(1);
    expect(history.firstOffset).toBe(7);
  });
});

describe('releaseBuffer', () => {
  it('detaches a buffer that owns its memory, so the next scavenge can free it', () => {
    const buffer = Buffer.allocUnsafeSlow(4096);
    const memory = buffer.buffer;
    releaseBuffer(buffer);
    expect(memory.byteLength).toBe(0);
  });

  it('leaves alone a buffer that shares its memory, such as a slice of Node\'s pool', () => {
    const whole = Buffer.allocUnsafeSlow(4096).fill(7);
    const part = whole.subarray(1024, 2048);
    releaseBuffer(part);
    expect(whole.buffer.byteLength).toBe(4096);
    const pooled = Buffer.from('a pooled buffer');
    releaseBuffer(pooled);
    expect(pooled.toString()).toBe('a pooled buffer');
    expect(whole[0]).toBe(7);
  });
});
