// Unit tests of the bounded offline queue and its two policies.

import { describe, expect, it } from 'vitest';
import { OfflineQueue } from './offline-queue.js';

describe('OfflineQueue', () => {
  it('keeps items in order up to its bound', () => {
    const queue = new OfflineQueue<string>(3, 'drop-oldest');
    expect([queue.push('a'), queue.push('b'), queue.push('c')]).toEqual([undefined, undefined, undefined]);
    expect(queue.size).toBe(3);
    expect(queue.drain()).toEqual(['a', 'b', 'c']);
    expect(queue.size).toBe(0);
  });

  it('drop-oldest evicts the head to make room', () => {
    const queue = new OfflineQueue<string>(2, 'drop-oldest');
    queue.push('a');
    queue.push('b');
    expect(queue.push('c')).toBe('a');
    expect(queue.push('d')).toBe('b');
    expect(queue.drain()).toEqual(['c', 'd']);
  });

  it('drop-newest refuses the new item', () => {
    const queue = new OfflineQueue<string>(2, 'drop-newest');
    queue.push('a');
    queue.push('b');
    expect(queue.push('c')).toBe('c');
    expect(queue.drain()).toEqual(['a', 'b']);
  });

  it('with a bound of 0 drops everything', () => {
    const queue = new OfflineQueue<string>(0, 'drop-oldest');
    expect(queue.push('a')).toBe('a');
    expect(queue.size).toBe(0);
  });

  it('requeues in-flight items in front, trimming by the policy', () => {
    const oldest = new OfflineQueue<string>(3, 'drop-oldest');
    oldest.push('x');
    oldest.push('y');
    expect(oldest.requeueFront(['a', 'b'])).toEqual(['a']);
    expect(oldest.drain()).toEqual(['b', 'x', 'y']);

    const newest = new OfflineQueue<string>(3, 'drop-newest');
    newest.push('x');
    newest.push('y');
    expect(newest.requeueFront(['a', 'b'])).toEqual(['y']);
    expect(newest.drain()).toEqual(['a', 'b', 'x']);
  });

  it('refuses a bad bound or policy with a TypeError naming the option', () => {
    expect(() => new OfflineQueue(-1, 'drop-oldest')).toThrow(/maxQueue/);
    expect(() => new OfflineQueue(1.5, 'drop-oldest')).toThrow(/maxQueue/);
    expect(() => new OfflineQueue(1, 'drop-random' as 'drop-oldest')).toThrow(/queuePolicy/);
  });
});
