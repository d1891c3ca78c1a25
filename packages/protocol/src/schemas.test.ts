import { describe, expect, it } from 'vitest';
import { acceptsQuickly, clientMessageSchemas, exceedsDepth, validateClientMessage } from './schemas.js';
import type { ClientMessageType } from './frames.js';

describe('validateClientMessage', () => {
  it('accepts every well-formed client message', () => {
    const messages = [
      { type: 'echo', id: 1, data: { a: 1 } },
      { type: 'ping' },
      { type: 'auth', data: { token: 't' } },
      { type: 'subscribe', id: 'x', channel: 'c', since: { offset: 3, epoch: 'e' }, info: { name: 'n' } },
      { type: 'unsubscribe', channel: 'c' },
      { type: 'publish', channel: 'c', data: null, event: 'chat', key: 'k', ephemeral: true },
      { type: 'broadcast', data: 0 },
      { type: 'presence', channel: 'c' },
      { type: 'history', channel: 'c', limit: 10, reverse: true },
      { type: 'direct', to: 'user', data: 'hi' },
    ];
    for (const message of messages) expect(validateClientMessage(message)).toEqual({ ok: true, message });
  });

  it('names the code and the offending field, and keeps the id', () => {
    expect(validateClientMessage({ type: 'publish', id: 9, channel: 'c' })).toMatchObject({ ok: false, code: 'invalid_message', id: 9, message: expect.stringContaining('data') });
    expect(validateClientMessage({ type: 'subscribe', id: 'a', channel: 'bad name' })).toMatchObject({ ok: false, code: 'invalid_channel', id: 'a' });
    expect(validateClientMessage({ type: 'fly' })).toMatchObject({ ok: false, code: 'unknown_type' });
    expect(validateClientMessage({ type: 'echo', extra: 1 })).toMatchObject({ ok: false, code: 'invalid_message' });
    expect(validateClientMessage([])).toMatchObject({ ok: false, code: 'invalid_message' });
  });

  it('does not treat inherited properties as message types', () => {
    expect(validateClientMessage({ type: 'toString' })).toMatchObject({ ok: false, code: 'unknown_type' });
    expect(validateClientMessage({ type: '__proto__' })).toMatchObject({ ok: false, code: 'unknown_type' });
  });
});

describe('the fast path', () => {
  // Values chosen to sit on both sides of every rule the fast checks apply.
  const samples: unknown[] = [
    undefined, null, true, 0, -1, 1.5, 2 ** 53, Number.MAX_SAFE_INTEGER, '', 'c', 'chat:room-1', 'bad name', '$stats', 'a$b',
    'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(128), 'x'.repeat(129), 'x'.repeat(255), 'x'.repeat(256), {}, { a: 1 }, [], [1],
    { offset: 1, epoch: 'e' }, { offset: -1, epoch: 'e' }, { offset: 1.5, epoch: 'e' }, { offset: 1, epoch: 'x'.repeat(65) }, { offset: 1 },
    { offset: 1, epoch: 'e', extra: true }, { epoch: 'e', offset: 0 }, 10_000, 10_001, { name: 'n', nested: { a: [1] } }, Object.create(null) as object,
  ];
  const types = Object.keys(clientMessageSchemas) as ClientMessageType[];
  const valid: Record<ClientMessageType, Record<string, unknown>> = {
    echo: { type: 'echo', id: 1, data: 'x' },
    ping: { type: 'ping', id: 'p' },
    auth: { type: 'auth', data: { token: 't' } },
    subscribe: { type: 'subscribe', channel: 'c' },
    unsubscribe: { type: 'unsubscribe', channel: 'c' },
    publish: { type: 'publish', id: 2, channel: 'c', data: 1, event: 'e', key: 'k', ephemeral: false },
    broadcast: { type: 'broadcast', data: 1 },
    presence: { type: 'presence', channel: 'c' },
    history: { type: 'history', channel: 'c' },
    direct: { type: 'direct', to: 'u', data: 1 },
  };

  // A small deterministic generator, so a failure can be replayed.
  let seed = 7;
  const random = (below: number): number => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % below;
  };

  it('accepts only what zod accepts, and returns the same message', () => {
    let quick = 0;
    for (let round = 0; round < 20_000; round++) {
      const type = types[random(types.length)] as ClientMessageType;
      const fields = Object.keys(clientMessageSchemas[type].shape).filter((field) => field !== 'type');
      // Half the time every field is random; otherwise a valid message gets one field changed.
      const message: Record<string, unknown> = random(2) === 0 ? { type } : { ...valid[type] };
      if (Object.keys(message).length === 1) {
        for (const field of fields) if (random(2) === 0) message[field] = samples[random(samples.length)];
      } else {
        message[fields[random(fields.length)] as string] = samples[random(samples.length)];
      }
      if (random(20) === 0) message['extra'] = 1;
      if (!acceptsQuickly(message, type)) continue;
      quick++;
      const parsed = clientMessageSchemas[type].safeParse(message);
      expect(parsed.success, JSON.stringify(message)).toBe(true);
      expect(parsed.data).toEqual(message);
    }
    // The generator must reach the fast path often enough for this test to mean something.
    expect(quick).toBeGreaterThan(500);
  });

  it('takes the common messages', () => {
    expect(acceptsQuickly({ type: 'publish', id: 3, channel: 'chat:a', data: { text: 'hi' }, event: 'chat', key: 'k1' }, 'publish')).toBe(true);
    expect(acceptsQuickly({ type: 'echo', id: 'r1', data: 'x' }, 'echo')).toBe(true);
    expect(acceptsQuickly({ type: 'ping' }, 'ping')).toBe(true);
    expect(acceptsQuickly({ type: 'subscribe', id: 4, channel: 'c', since: { offset: 1, epoch: 'e' }, info: { name: 'n' } }, 'subscribe')).toBe(true);
    expect(acceptsQuickly({ type: 'history', channel: 'c', since: { offset: 0, epoch: 'e' }, limit: 10, reverse: true }, 'history')).toBe(true);
    // Rare shapes are zod's.
    expect(acceptsQuickly({ type: 'auth', data: { token: 't' } }, 'auth')).toBe(false);
    expect(acceptsQuickly(Object.assign(Object.create(null) as object, { type: 'ping' }), 'ping')).toBe(false);
  });
});

describe('exceedsDepth', () => {
  it('measures nesting of objects and arrays', () => {
    expect(exceedsDepth({ a: { b: { c: 1 } } }, 3)).toBe(false);
    expect(exceedsDepth({ a: { b: { c: {} } } }, 3)).toBe(true);
    expect(exceedsDepth([[[[]]]], 3)).toBe(true);
    expect(exceedsDepth('flat', 0)).toBe(false);
  });
});
