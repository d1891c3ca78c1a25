// Unit tests of the client's option defaults and validation.

import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { clientDefaults, resolveClientOptions } from './client-options.js';

describe('resolveClientOptions', () => {
  it('applies the documented defaults', () => {
    const options = resolveClientOptions({ WebSocket });
    expect(options).toMatchObject({
      encoding: 'json', autoConnect: true, requestTimeoutMs: 10_000, maxQueue: 100, queuePolicy: 'drop-oldest',
      reconnect: { minDelayMs: 500, maxDelayMs: 30_000, factor: 2, maxAttempts: Infinity },
    });
    expect(clientDefaults.reconnect.maxAttempts).toBe(Infinity);
  });

  it('merges partial reconnect options over the defaults', () => {
    expect(resolveClientOptions({ WebSocket, reconnect: { maxAttempts: 3 } }).reconnect).toEqual({
      minDelayMs: 500, maxDelayMs: 30_000, factor: 2, maxAttempts: 3,
    });
  });

  it('refuses bad values with a TypeError naming the option', () => {
    expect(() => resolveClientOptions({ WebSocket, requestTimeoutMs: 0 })).toThrow(/requestTimeoutMs/);
    expect(() => resolveClientOptions({ WebSocket, reconnect: { minDelayMs: -1 } })).toThrow(/reconnect\.minDelayMs/);
    expect(() => resolveClientOptions({ WebSocket, reconnect: { minDelayMs: 5000, maxDelayMs: 100 } })).toThrow(/maxDelayMs.*minDelayMs/);
    expect(() => resolveClientOptions({ WebSocket, reconnect: { factor: 0.5 } })).toThrow(/factor/);
    expect(() => resolveClientOptions({ WebSocket, encoding: 'xml' as 'json' })).toThrow(/encoding/);
  });

  // Node 22+ and browsers have a global WebSocket; Node 20 has none.
  it.skipIf((globalThis as { WebSocket?: unknown }).WebSocket !== undefined)('asks for a WebSocket class where the runtime has none', () => {
    expect(() => resolveClientOptions({})).toThrow(/options\.WebSocket/);
  });
});
