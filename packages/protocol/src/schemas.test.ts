import { describe, expect, it } from 'vitest';
import { exceedsDepth, validateClientMessage } from './schemas.js';

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

describe('exceedsDepth', () => {
  it('measures nesting of objects and arrays', () => {
    expect(exceedsDepth({ a: { b: { c: 1 } } }, 3)).toBe(false);
    expect(exceedsDepth({ a: { b: { c: {} } } }, 3)).toBe(true);
    expect(exceedsDepth([[[[]]]], 3)).toBe(true);
    expect(exceedsDepth('flat', 0)).toBe(false);
  });
});
