import { describe, expect, it } from 'vitest';
import type { ServerMessage } from '@switchyard/protocol';
import { MemoryEngine } from '../engine/memory-engine.js';
import { Hub } from './hub.js';
import { Namespaces } from './namespaces.js';
import type { Outbound } from './outbound.js';
import { eachPeer, type Outbox, type Peer } from './peer.js';

/** A peer that records what the hub hands it. */
class RecordingPeer implements Peer {
  readonly received: ServerMessage[] = [];
  constructor(readonly clientId: string, readonly userId: string | undefined = undefined) {}
  deliver(outbound: Outbound): boolean {
    this.received.push(outbound.message);
    return true;
  }
  offsets(channel: string): number[] {
    return this.received.flatMap((message) => (message.type === 'message' && message.channel === channel ? [message.offset] : []));
  }
}

async function makeHub(namespaces: ConstructorParameters<typeof Namespaces>[0] = {}): Promise<Hub> {
  const hub = new Hub(new MemoryEngine(), new Namespaces(namespaces, 120_000), { maxChannels: 1000, historyMaxLimit: 100, engineTimeoutMs: 1000 });
  await hub.start();
  return hub;
}

describe('Hub › subscribe', () => {
  it('sends subscribed with the request id before any publication', async () => {
    const hub = await makeHub();
    const peer = new RecordingPeer('a');
    hub.addPeer(peer);
    const subscribing = hub.subscribe(peer, 'c', { id: 7 });
    void hub.publish({ channel: 'c', data: 'during' });
    await subscribing;
    await hub.publish({ channel: 'c', data: 'after' });
    expect(peer.received[0]).toMatchObject({ type: 'subscribed', id: 7, channel: 'c' });
    const position = (peer.received[0] as { data: { offset: number } }).data.offset;
    expect(peer.offsets('c')).toEqual([1, 2].filter((offset) => offset > position));
  });

  it('replays what was missed, then buffered live publications, none twice', async () => {
    const hub = await makeHub();
    const publisher = await hub.publish({ channel: 'c', data: 1 });
    for (let i = 2; i <= 5; i++) await hub.publish({ channel: 'c', data: i });
    const peer = new RecordingPeer('a');
    hub.addPeer(peer);
    const subscribing = hub.subscribe(peer, 'c', { since: { offset: publisher.offset, epoch: publisher.epoch } });
    const concurrent = [hub.publish({ channel: 'c', data: 6 }), hub.publish({ channel: 'c', data: 7 })];
    await subscribing;
    await Promise.all(concurrent);
    expect(peer.received[0]).toMatchObject({ type: 'subscribed', data: { recovered: true } });
    expect(peer.offsets('c')).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('refuses a second subscription to the same channel with conflict', async () => {
    const hub = await makeHub();
    const peer = new RecordingPeer('a');
    hub.addPeer(peer);
    await hub.subscribe(peer, 'c');
    await expect(hub.subscribe(peer, 'c')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('forgets the channel when its last subscriber leaves', async () => {
    const hub = await makeHub();
    const peer = new RecordingPeer('a');
    hub.addPeer(peer);
    await hub.subscribe(peer, 'c');
    expect(hub.channelCount).toBe(1);
    hub.unsubscribe(peer, 'c');
    expect(hub.channelCount).toBe(0);
    expect(() => hub.unsubscribe(peer, 'c')).toThrow(expect.objectContaining({ code: 'not_subscribed' }));
  });

  it("keeps a peer's channels through subscribe, unsubscribe and removal, and each subscriber's place and info", async () => {
    const hub = await makeHub();
    const watcher = new RecordingPeer('w');
    const peer = new RecordingPeer('p');
    const later = new RecordingPeer('l');
    for (const each of [watcher, peer, later]) hub.addPeer(each);
    await hub.subscribe(watcher, 'chat:a');
    expect(hub.subscriptionCount(peer)).toBe(0);
    await hub.subscribe(peer, 'chat:a', { info: { name: 'P' } });
    await hub.subscribe(later, 'chat:a');
    await hub.subscribe(peer, 'b');
    await hub.subscribe(peer, 'c');
    expect(hub.subscriptionCount(peer)).toBe(3);
    expect(hub.subscriptionsOf(peer)).toEqual(new Set(['chat:a', 'b', 'c']));
    hub.unsubscribe(peer, 'b');
    expect(hub.subscriptionsOf(peer)).toEqual(new Set(['chat:a', 'c']));
    // Subscription order, set-up subscriptions with and without info alike.
    await hub.publish({ channel: 'chat:a', data: 'x' });
    const order: string[] = [];
    hub.useOutbox({
      deliverAll: (outbound, peers) => {
        if (outbound.message.type === 'message') order.push(...peers.map((each) => each.clientId));
        eachPeer.deliverAll(outbound, peers);
      },
    });
    await hub.publish({ channel: 'chat:a', data: 'y' });
    expect(order).toEqual(['w', 'p', 'l']);
    expect(await hub.presence('chat:a')).toEqual([{ clientId: 'w' }, { clientId: 'p', info: { name: 'P' } }, { clientId: 'l' }]);
    hub.removePeer(peer);
    await new Promise((resolve) => setImmediate(resolve));
    expect(hub.subscriptionCount(peer)).toBe(0);
    expect(hub.channelCount).toBe(1);
    const leaves = watcher.received.filter((message) => message.type === 'leave').map((message) => message.data);
    expect(leaves).toEqual([{ clientId: 'p', info: { name: 'P' } }]);
    // A single subscription is kept the same way, and forgotten on unsubscribe.
    await hub.subscribe(later, 'b');
    hub.unsubscribe(later, 'chat:a');
    expect(hub.subscriptionsOf(later)).toEqual(new Set(['b']));
    hub.unsubscribe(later, 'b');
    expect(hub.subscriptionCount(later)).toBe(0);
  });
});

describe('Hub › presence', () => {
  it('sends join and leave to subscribers in a presence namespace, and removes members of a removed peer', async () => {
    const hub = await makeHub();
    const watcher = new RecordingPeer('w');
    const visitor = new RecordingPeer('v', 'user-v');
    hub.addPeer(watcher);
    hub.addPeer(visitor);
    await hub.subscribe(watcher, 'chat:x');
    await hub.subscribe(visitor, 'chat:x', { info: { name: 'V' } });
    expect(await hub.presence('chat:x')).toEqual([{ clientId: 'w' }, { clientId: 'v', userId: 'user-v', info: { name: 'V' } }]);
    hub.removePeer(visitor);
    await new Promise((resolve) => setImmediate(resolve));
    const events = watcher.received.filter((message) => message.type === 'join' || message.type === 'leave').map((message) => `${message.type}:${(message as { data: { clientId: string } }).data.clientId}`);
    expect(events).toEqual(['join:w', 'join:v', 'leave:v']);
    expect(await hub.presence('chat:x')).toEqual([{ clientId: 'w' }]);
  });

  it('refuses presence where the namespace has it off', async () => {
    const hub = await makeHub();
    await expect(hub.presence('plain')).rejects.toMatchObject({ code: 'forbidden' });
  });
});

describe('Hub › routing', () => {
  it('direct reaches every connection of a user and counts them; not_found when nobody matches', async () => {
    const hub = await makeHub();
    const tabs = [new RecordingPeer('t1', 'u'), new RecordingPeer('t2', 'u')];
    for (const tab of tabs) hub.addPeer(tab);
    expect(await hub.direct('u', 'sender', 'hi')).toBe(2);
    expect(await hub.direct('t1', 'sender', 'only t1')).toBe(1);
    await expect(hub.direct('nobody', 'sender', 'x')).rejects.toMatchObject({ code: 'not_found' });
    expect(tabs[0]!.received.filter((message) => message.type === 'direct')).toHaveLength(2);
    expect(tabs[1]!.received.filter((message) => message.type === 'direct')).toHaveLength(1);
  });

  it('broadcast to a channel reaches only its subscribers', async () => {
    const hub = await makeHub();
    const inside = new RecordingPeer('in');
    const outside = new RecordingPeer('out');
    hub.addPeer(inside);
    hub.addPeer(outside);
    await hub.subscribe(inside, 'room');
    expect(await hub.broadcast('x', 'room')).toBe(1);
    expect(await hub.broadcast('y')).toBe(2);
    expect(outside.received.filter((message) => message.type === 'broadcast')).toHaveLength(1);
  });

  it('one publication is one shared outbound for every subscriber', async () => {
    const hub = await makeHub();
    const seen = new Set<Outbound>();
    const peers: Peer[] = ['a', 'b', 'c'].map((clientId) => ({ clientId, userId: undefined, deliver: (outbound: Outbound) => { if (outbound.message.type === 'message') seen.add(outbound); return true; } }));
    for (const peer of peers) {
      hub.addPeer(peer);
      await hub.subscribe(peer, 'shared');
    }
    await hub.publish({ channel: 'shared', data: 1 });
    expect(seen.size).toBe(1);
  });
});

describe('Hub › gap fill', () => {
  it('drops repeated offsets and fills a jump from history before delivering', async () => {
    const engine = new MemoryEngine();
    const hub = new Hub(engine, new Namespaces({}, 120_000), { maxChannels: 10, historyMaxLimit: 100, engineTimeoutMs: 1000 });
    await hub.start();
    const peer = new RecordingPeer('a');
    hub.addPeer(peer);
    await hub.subscribe(peer, 'g');
    const first = await hub.publish({ channel: 'g', data: 1 });
    // Simulate a lost pub/sub message: publications 2 and 3 reach history but not this node.
    await engine.unsubscribe('g');
    await hub.publish({ channel: 'g', data: 2 });
    await hub.publish({ channel: 'g', data: 3 });
    await engine.subscribe('g');
    await hub.publish({ channel: 'g', data: 4 });
    hub.onPublication('g', { data: 1, offset: first.offset, epoch: first.epoch, timestamp: Date.now() }, false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(peer.offsets('g')).toEqual([1, 2, 3, 4]);
  });
});

describe('Hub › outbox', () => {
  /** An outbox that only records what it is handed. */
  class RecordingOutbox implements Outbox {
    readonly calls: Array<{ data: unknown; peers: readonly Peer[] }> = [];
    deliverAll(outbound: Outbound, peers: readonly Peer[]): void {
      this.calls.push({ data: (outbound.message as { data?: unknown }).data, peers });
    }
  }

  it('hands each fan-out to the outbox once, with the peers subscribed at that moment, and never changes an array it handed over', async () => {
    const hub = await makeHub();
    const outbox = new RecordingOutbox();
    hub.useOutbox(outbox);
    const [a, b, c] = [new RecordingPeer('a'), new RecordingPeer('b'), new RecordingPeer('c')];
    for (const peer of [a, b, c]) hub.addPeer(peer);
    await hub.subscribe(a, 'o');
    await hub.subscribe(b, 'o');
    await hub.publish({ channel: 'o', data: 1 });
    await hub.publish({ channel: 'o', data: 2 });
    hub.unsubscribe(a, 'o');
    await hub.publish({ channel: 'o', data: 3 });
    // c is still being set up when 4 is published: 4 is held for it by the hub, not handed to the outbox.
    const subscribing = hub.subscribe(c, 'o');
    await hub.publish({ channel: 'o', data: 4 });
    await subscribing;
    await hub.publish({ channel: 'o', data: 5 });
    expect(outbox.calls.map((call) => [call.data, call.peers.map((peer) => peer.clientId)])).toEqual([
      [1, ['a', 'b']], [2, ['a', 'b']], [3, ['b']], [4, ['b']], [5, ['b', 'c']],
    ]);
    // An unchanged channel hands the same array again; a change makes a new one and leaves the old alone.
    expect(outbox.calls[1]?.peers).toBe(outbox.calls[0]?.peers);
    expect(outbox.calls[0]?.peers.map((peer) => peer.clientId)).toEqual(['a', 'b']);
    // c's `subscribed` comes first and its position covers 4 or 4 follows it, once; then 5 arrives through the outbox.
    expect(c.received[0]?.type).toBe('subscribed');
    const position = (c.received[0] as { data: { offset: number } }).data.offset;
    expect(c.offsets('o')).toEqual([4].filter((offset) => offset > position));
    expect(a.offsets('o')).toEqual([]);
  });
});
