// Unit tests of a subscription's stream position: duplicates dropped, ephemeral messages passed through, recovery.

import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { PublicationMessage } from '@switchyard/protocol';
import { SwitchyardClient } from './client.js';
import { Subscription } from './subscription.js';

function frame(offset: number, epoch = 'e1', extra: Partial<PublicationMessage> = {}): PublicationMessage {
  return { type: 'message', timestamp: 1, channel: 'c', data: offset, offset, epoch, ...extra };
}

function subscription(options: ConstructorParameters<typeof Subscription>[2] = {}): { sub: Subscription; seen: number[] } {
  const client = new SwitchyardClient('ws://127.0.0.1:1', { WebSocket, autoConnect: false });
  const sub = new Subscription(client, 'c', options);
  const seen: number[] = [];
  sub.onMessage((message) => seen.push(message.offset));
  return { sub, seen };
}

describe('Subscription', () => {
  it('drops a message whose offset is not above the last one in the same epoch', () => {
    const { sub, seen } = subscription();
    sub.handleSubscribed({ offset: 0, epoch: 'e1' });
    expect([1, 2, 2, 1, 3].map((offset) => sub.handleMessage(frame(offset)))).toEqual([true, true, false, false, true]);
    expect(seen).toEqual([1, 2, 3]);
    expect(sub.position).toEqual({ offset: 3, epoch: 'e1' });
  });

  it('passes ephemeral messages through without moving the position', () => {
    const { sub, seen } = subscription();
    sub.handleSubscribed({ offset: 4, epoch: 'e1' });
    expect(sub.handleMessage(frame(4, 'e1', { ephemeral: true }))).toBe(true);
    expect(sub.handleMessage(frame(4, 'e1', { ephemeral: true }))).toBe(true);
    expect(sub.handleMessage(frame(5))).toBe(true);
    expect(seen).toEqual([4, 4, 5]);
    expect(sub.position).toEqual({ offset: 5, epoch: 'e1' });
  });

  it('accepts a lower offset from a new epoch', () => {
    const { sub, seen } = subscription();
    sub.handleSubscribed({ offset: 9, epoch: 'e1' });
    sub.handleMessage(frame(10));
    sub.handleMessage(frame(1, 'e2'));
    expect(seen).toEqual([10, 1]);
    expect(sub.position).toEqual({ offset: 1, epoch: 'e2' });
  });

  it('resubscribes with since = its position and keeps it while the replay comes', () => {
    const { sub, seen } = subscription({ since: { offset: 7, epoch: 'e1' }, info: { name: 'A' } });
    expect(sub.subscribeFields()).toEqual({ since: { offset: 7, epoch: 'e1' }, info: { name: 'A' } });
    sub.handleSubscribed({ offset: 9, epoch: 'e1', recovered: true });
    expect(sub.position).toEqual({ offset: 7, epoch: 'e1' });
    sub.handleMessage(frame(8));
    sub.handleMessage(frame(9));
    expect(seen).toEqual([8, 9]);
  });

  it('reports an unrecoverable gap and continues from the server position', async () => {
    const { sub } = subscription({ since: { offset: 7, epoch: 'old' } });
    const unrecovered: string[] = [];
    sub.on('unrecovered', ({ reason }) => unrecovered.push(reason));
    sub.handleSubscribed({ offset: 2, epoch: 'new', recovered: false, reason: 'epoch_changed' });
    expect(unrecovered).toEqual(['epoch_changed']);
    expect(sub.position).toEqual({ offset: 2, epoch: 'new' });
    expect((await sub.ready).recovered).toBe(false);
  });

  it('goes back to subscribing when the connection is lost, and ends for good on unsubscribe', async () => {
    const { sub } = subscription();
    const states: string[] = [];
    sub.on('state', ({ newState }) => states.push(newState));
    sub.handleSubscribed({ offset: 0, epoch: 'e1' });
    sub.handleConnectionLost();
    sub.handleEnded();
    expect(states).toEqual(['subscribed', 'subscribing', 'unsubscribed']);
    expect(sub.handleMessage(frame(1))).toBe(false);
  });

  it('rejects ready when it ends before the first subscribed', async () => {
    const { sub } = subscription();
    sub.handleEnded();
    await expect(sub.ready).rejects.toMatchObject({ code: 'closed' });
  });
});
