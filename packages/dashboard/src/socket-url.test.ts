// Unit tests of the dashboard's WebSocket URL.

import { describe, expect, it } from 'vitest';
import { socketUrl } from './socket-url';

describe('socketUrl', () => {
  it('uses ws on http and wss on https, on the page host', () => {
    expect(socketUrl({ protocol: 'http:', host: 'localhost:3003' })).toBe('ws://localhost:3003/ws');
    expect(socketUrl({ protocol: 'https:', host: 'example.org' })).toBe('wss://example.org/ws');
  });
});
