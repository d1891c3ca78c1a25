import { describe, expect, it } from 'vitest';
import { channelNamespace, isServerChannel, isValidChannel } from './channel.js';

describe('Channel names', () => {
  it('accept 1–255 characters from the allowed set', () => {
    for (const name of ['a', 'chat:lobby', 'prices:AAPL', 'user@example.com/inbox#1', 'a.b_c-d=e', 'x'.repeat(255), '$stats']) {
      expect(isValidChannel(name)).toBe(true);
    }
  });

  it('refuse empty, too long, non-string and out-of-set names', () => {
    for (const name of ['', 'x'.repeat(256), 'a b', 'é', 'a$b', 'a\nb', '$a$', 42, null, undefined, {}]) expect(isValidChannel(name)).toBe(false);
  });

  it('honour a smaller maximum length', () => {
    expect(isValidChannel('abcdef', 5)).toBe(false);
    expect(isValidChannel('abcde', 5)).toBe(true);
  });

  it('split the namespace at the first colon', () => {
    expect(channelNamespace('chat:lobby:1')).toBe('chat');
    expect(channelNamespace('plain')).toBe('');
    expect(channelNamespace(':odd')).toBe('');
  });

  it('mark $-names as server channels', () => {
    expect(isServerChannel('$stats')).toBe(true);
    expect(isServerChannel('stats')).toBe(false);
  });
});
