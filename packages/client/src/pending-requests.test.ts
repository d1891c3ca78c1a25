// Unit tests of reply matching and request timeouts, driven by an injected scheduler.

import { describe, expect, it } from 'vitest';
import type { ServerMessage } from '@switchyard/protocol';
import { ClientError } from './client-error.js';
import type { Timers } from './client-options.js';
import { PendingRequests, type OutgoingRequest } from './pending-requests.js';

/** A scheduler whose timers fire only when the test says so. */
function manualTimers(): Timers & { fireAll(): void; count(): number } {
  const timers = new Map<number, () => void>();
  let next = 1;
  return {
    setTimeout: (callback) => {
      timers.set(next, callback);
      return next++;
    },
    clearTimeout: (handle) => {
      timers.delete(handle as number);
    },
    fireAll: () => {
      const due = [...timers.values()];
      timers.clear();
      for (const callback of due) callback();
    },
    count: () => timers.size,
  };
}

function request(id: number): OutgoingRequest & { outcome: () => unknown } {
  let outcome: unknown = 'pending';
  return {
    message: { type: 'echo', id, data: id },
    resolve: (reply) => {
      outcome = reply;
    },
    reject: (error) => {
      outcome = error;
    },
    outcome: () => outcome,
  };
}

describe('PendingRequests', () => {
  it('settles the request whose id the reply carries, and stops its timer', () => {
    const timers = manualTimers();
    const pending = new PendingRequests(timers, 1000);
    const a = request(1);
    const b = request(2);
    pending.track(a);
    pending.track(b);
    const reply: ServerMessage & { id: number } = { type: 'echo', timestamp: 1, id: 2, data: 2 };
    expect(pending.settle(reply)).toBe(true);
    expect(b.outcome()).toBe(reply);
    expect(a.outcome()).toBe('pending');
    expect(timers.count()).toBe(1);
    expect(pending.settle(reply)).toBe(false);
  });

  it('rejects with the error code of an error reply', () => {
    const pending = new PendingRequests(manualTimers(), 1000);
    const a = request(1);
    pending.track(a);
    pending.settle({ type: 'error', timestamp: 1, id: 1, data: { code: 'rate_limited', message: 'slow down', retryAfterMs: 250 } });
    expect(a.outcome()).toBeInstanceOf(ClientError);
    expect(a.outcome()).toMatchObject({ code: 'rate_limited', message: 'slow down', retryAfterMs: 250 });
  });

  it('rejects with timeout when the timer fires first, and ignores a late reply', () => {
    const timers = manualTimers();
    const pending = new PendingRequests(timers, 1000);
    const a = request(1);
    pending.track(a);
    timers.fireAll();
    expect(a.outcome()).toMatchObject({ code: 'timeout' });
    expect(pending.settle({ type: 'echo', timestamp: 1, id: 1 })).toBe(false);
  });

  it('hands back every request when the connection is gone', () => {
    const timers = manualTimers();
    const pending = new PendingRequests(timers, 1000);
    const a = request(1);
    const b = request(2);
    pending.track(a);
    pending.track(b);
    expect(pending.takeAll()).toEqual([a, b]);
    expect(pending.size).toBe(0);
    expect(timers.count()).toBe(0);
  });
});
