// The Redis engine against the shared engine contract, then what only a cluster has: several nodes, restarts, outages.

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../../../../test/helpers/redis-server.js';
import type { StreamPolicy } from './engine.js';
import { eventually, RecordingHandler, runEngineContract } from './engine-contract.js';
import { RedisEngine, type RedisEngineOptions } from './redis-engine.js';

let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
});

runEngineContract('RedisEngine', () => new RedisEngine({ url: redis.url, prefix: `contract-${randomBytes(4).toString('hex')}` }));

const policy: StreamPolicy = Object.freeze({ historySize: 100, historyTtlMs: 60_000, idempotencyWindowMs: 60_000 });

describe('RedisEngine in a cluster', () => {
  const started: RedisEngine[] = [];
  let prefix = '';

  /** A started node of the current test's cluster (all share one key prefix). */
  async function node(options: Partial<RedisEngineOptions> = {}): Promise<{ engine: RedisEngine; handler: RecordingHandler }> {
    const engine = new RedisEngine({ url: redis.url, prefix, maxReconnectDelayMs: 100, ...options });
    const handler = new RecordingHandler();
    await engine.start(handler);
    started.push(engine);
    return { engine, handler };
  }

  afterEach(async () => {
    await Promise.all(started.splice(0).map((engine) => engine.close()));
  });

  it('shares offsets, epochs and publications between nodes', async () => {
    prefix = `cluster-${randomBytes(4).toString('hex')}`;
    const a = await node();
    const b = await node();
    await a.engine.subscribe('room');
    await b.engine.subscribe('room');
    const all = Array.from({ length: 300 }, (_, index) => index + 1);
    const results = await Promise.all(all.map((n) => (n % 2 === 0 ? a : b).engine.publish({ channel: 'room', data: n }, policy)));
    expect(results.map((result) => result.offset).sort((x, y) => x - y)).toEqual(all);
    await eventually(() => a.handler.on('room').length === 300 && b.handler.on('room').length === 300, 'both nodes received all 300');
    expect(a.handler.on('room').map((publication) => publication.offset)).toEqual(all);
    expect(b.handler.on('room')).toEqual(a.handler.on('room'));
    const history = await b.engine.history('room', { limit: 10 }, policy);
    expect(history.publications.map((publication) => publication.offset)).toEqual(all.slice(-10));
    expect(await a.engine.history('room', { limit: 10 }, policy)).toEqual(history);
  });

  it('shares idempotency keys between nodes', async () => {
    prefix = `cluster-${randomBytes(4).toString('hex')}`;
    const a = await node();
    const b = await node();
    const first = await a.engine.publish({ channel: 'orders', data: 'x', key: 'order-1' }, policy);
    const repeat = await b.engine.publish({ channel: 'orders', data: 'x', key: 'order-1' }, policy);
    expect(repeat).toEqual({ offset: first.offset, epoch: first.epoch, duplicate: true });
  });

  it('keeps offsets and epochs across a node restart, so recovery still works', async () => {
    prefix = `cluster-${randomBytes(4).toString('hex')}`;
    const a = await node();
    await a.engine.publish({ channel: 'feed', data: 1 }, policy);
    const position = await a.engine.publish({ channel: 'feed', data: 2 }, policy);
    await a.engine.close();
    const again = await node();
    const next = await again.engine.publish({ channel: 'feed', data: 3 }, policy);
    expect(next).toEqual({ offset: 3, epoch: position.epoch, duplicate: false });
    const result = await again.engine.recover('feed', { offset: 1, epoch: position.epoch }, policy);
    expect(result.recovered && result.publications.map((publication) => publication.data)).toEqual([2, 3]);
  });

  it('shares presence and announces joins and leaves on every node', async () => {
    prefix = `cluster-${randomBytes(4).toString('hex')}`;
    const a = await node();
    const b = await node();
    await a.engine.subscribe('chat:lobby');
    await b.engine.subscribe('chat:lobby');
    await a.engine.addPresence('chat:lobby', { clientId: 'ca', userId: 'ann' });
    await b.engine.addPresence('chat:lobby', { clientId: 'cb' });
    const ids = async (engine: RedisEngine): Promise<string[]> => (await engine.presence('chat:lobby')).map((member) => member.clientId).sort();
    expect(await ids(a.engine)).toEqual(['ca', 'cb']);
    expect(await ids(b.engine)).toEqual(['ca', 'cb']);
    await a.engine.removePresence('chat:lobby', { clientId: 'ca', userId: 'ann' });
    await eventually(() => b.handler.leaves.length === 1, 'node B saw the leave');
    expect(b.handler.joins.map((join) => join.member.clientId)).toEqual(['ca', 'cb']);
    expect(b.handler.leaves).toEqual([{ channel: 'chat:lobby', member: { clientId: 'ca', userId: 'ann' } }]);
  });

  it('announces leave for every member of a node that shuts down, whatever its id holds', async () => {
    prefix = `cluster-${randomBytes(4).toString('hex')}`;
    const watcher = await node();
    await watcher.engine.subscribe('chat:room');
    const leaving = await node({ nodeId: 'my node\nwith odd characters' });
    await leaving.engine.addPresence('chat:room', { clientId: 'c 1', info: { text: 'a\nb' } });
    await leaving.engine.addPresence('chat:other', { clientId: 'c 2' });
    await eventually(() => watcher.handler.joins.length === 1, 'the watcher saw the join');
    await leaving.engine.close();
    await eventually(() => watcher.handler.leaves.length === 1, 'the watcher saw the leave');
    expect(watcher.handler.leaves).toEqual([{ channel: 'chat:room', member: { clientId: 'c 1', info: { text: 'a\nb' } } }]);
    expect(await watcher.engine.presence('chat:room')).toEqual([]);
    expect(await watcher.engine.presence('chat:other')).toEqual([]);
    expect((await watcher.engine.nodes(0)).map((info) => info.id)).toEqual([watcher.engine.nodeId]);
  });

  it('routes direct messages and broadcasts to other nodes and counts whether anyone matched', async () => {
    prefix = `cluster-${randomBytes(4).toString('hex')}`;
    const a = await node();
    const b = await node();
    b.handler.connections.set('cb', 'bea');
    b.engine.connectionOpened('cb', 'bea');
    await eventuallyAsync(async () => (await a.engine.direct('bea', 'ann', 'hi')) > 0, 'a direct to bea reached node B');
    await eventually(() => b.handler.directs.length >= 1, 'node B delivered the direct');
    expect(b.handler.directs[0]).toEqual({ to: 'bea', from: 'ann', data: 'hi' });
    expect(await a.engine.direct('nobody', 'ann', 'hi')).toBe(0);
    b.engine.connectionClosed('cb', 'bea');
    b.handler.connections.delete('cb');
    await eventuallyAsync(async () => (await a.engine.direct('bea', 'ann', 'gone?')) === 0, 'bea is no longer routed');
    await a.engine.broadcast('everyone', undefined);
    await eventually(() => b.handler.broadcasts.length === 1, 'node B received the broadcast');
    expect(b.handler.broadcasts).toEqual([{ data: 'everyone', channel: undefined }]);
    expect(a.handler.broadcasts).toEqual([{ data: 'everyone', channel: undefined }]);
  });

  it('ignores malformed messages on its pub/sub channels and keeps delivering', async () => {
    prefix = `cluster-${randomBytes(4).toString('hex')}`;
    const a = await node();
    await a.engine.subscribe('room');
    const stranger = new Redis(redis.url);
    try {
      await stranger.publish(`${prefix}:pub:room`, 'p{not json');
      await stranger.publish(`${prefix}:broadcast`, 'garbage');
      await stranger.publish(`${prefix}:pub:room`, 'zsomething else');
    } finally {
      stranger.disconnect();
    }
    await a.engine.publish({ channel: 'room', data: 'still here' }, policy);
    await eventually(() => a.handler.on('room').length === 1, 'the valid publication arrived');
    expect(a.handler.on('room')[0]!.data).toBe('still here');
    expect(a.engine.ready).toBe(true);
  });

  it('reports every live node with its connections', async () => {
    prefix = `cluster-${randomBytes(4).toString('hex')}`;
    const a = await node();
    const b = await node();
    b.engine.connectionOpened('c1', undefined);
    b.engine.connectionOpened('c2', undefined);
    await eventuallyAsync(async () => {
      const nodes = await a.engine.nodes(5);
      return nodes.length === 2 && nodes.find((info) => info.id === b.engine.nodeId)?.connections === 2;
    }, 'node A sees node B with two connections');
    const nodes = await a.engine.nodes(5);
    expect(nodes.find((info) => info.id === a.engine.nodeId)?.connections).toBe(5);
  });
});

describe('RedisEngine when Redis goes away', () => {
  let own: TestRedis;
  const engines: RedisEngine[] = [];

  beforeAll(async () => {
    own = await startRedis();
  });

  afterAll(async () => {
    await Promise.all(engines.map((engine) => engine.close()));
    await own?.stop();
  });

  it('stays up, fails requests fast, reports availability, and resubscribes after Redis restarts', async () => {
    const handler = new RecordingHandler();
    const engine = new RedisEngine({ url: own.url, maxReconnectDelayMs: 100, presenceTtlMs: 1000 });
    engines.push(engine);
    await engine.start(handler);
    await engine.subscribe('news');
    await engine.addPresence('news', { clientId: 'c1' });
    await engine.addPresence('news', { clientId: 'c2' });
    const before = await engine.publish({ channel: 'news', data: 'before' }, policy);

    await own.stop();
    await eventually(() => !engine.ready, 'the engine reported not ready');
    expect(handler.availability).toEqual([false]);
    await expect(engine.publish({ channel: 'news', data: 'lost' }, policy)).rejects.toThrow(/not available|Stream isn't writeable|Connection is closed/);
    await expect(engine.position('news')).rejects.toThrow();
    await expect(engine.removePresence('news', { clientId: 'c2' })).rejects.toThrow();

    await own.start();
    await eventually(() => engine.ready, 'the engine reported ready again', 15_000);
    expect(handler.availability).toEqual([false, true]);
    // The restarted Redis kept nothing: a new epoch starts and old positions cannot be recovered.
    const after = await engine.publish({ channel: 'news', data: 'after' }, policy);
    expect(after.epoch).not.toBe(before.epoch);
    expect(await engine.recover('news', before, policy)).toMatchObject({ recovered: false, reason: 'epoch_changed' });
    await eventually(() => handler.on('news').some((publication) => publication.data === 'after'), 'the resubscribed channel delivered');
    expect(await engine.presence('news')).toEqual([{ clientId: 'c1' }]);
  });
});

async function eventuallyAsync(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
