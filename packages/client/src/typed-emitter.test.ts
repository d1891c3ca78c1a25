// Unit tests of the typed emitter: on() returns its own unsubscribe, handlers run in order.

import { describe, expect, it } from 'vitest';
import { TypedEmitter } from './typed-emitter.js';

describe('TypedEmitter', () => {
  it('calls handlers in registration order until they unsubscribe', () => {
    const emitter = new TypedEmitter<{ tick: number }>();
    const calls: string[] = [];
    const offA = emitter.on('tick', (n) => calls.push(`a${n}`));
    emitter.on('tick', (n) => calls.push(`b${n}`));
    emitter.emit('tick', 1);
    offA();
    offA();
    emitter.emit('tick', 2);
    expect(calls).toEqual(['a1', 'b1', 'b2']);
  });

  it('says whether anything listens', () => {
    const emitter = new TypedEmitter<{ frame: object }>();
    expect(emitter.listens('frame')).toBe(false);
    const off = emitter.on('frame', () => undefined);
    expect(emitter.listens('frame')).toBe(true);
    off();
    expect(emitter.listens('frame')).toBe(false);
  });

  it('lets a handler unsubscribe another during an emit without skipping the rest of this round', () => {
    const emitter = new TypedEmitter<{ tick: number }>();
    const calls: string[] = [];
    let offB = (): void => undefined;
    emitter.on('tick', () => {
      calls.push('a');
      offB();
    });
    offB = emitter.on('tick', () => calls.push('b'));
    emitter.emit('tick', 1);
    emitter.emit('tick', 2);
    expect(calls).toEqual(['a', 'b', 'a']);
  });
});
