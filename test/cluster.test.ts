// Integration: three Switchyard servers sharing one real redis-server, with real WebSocket clients.

import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, startCli, type CliProcess } from './helpers/cli-process.js';
import { startRedis, type TestRedis } from './helpers/redis-server.js';
import { startServer, type TestServer } from './helpers/server.js';
import { TestClient, waitFor, type Frame } from './helpers/ws-client.js';

const PRESENCE_TTL_MS = 1500;

let redis: TestRedis;
let servers: TestServer[] = [];
const clients: TestClient[] = [];
const children: ChildProcess[] = [];

async function open(server: TestServer): Promise<TestClient> {
  const client = await TestClient.open(server.wsUrl);
  clients.push(client);
  return client;
}

async function subscribe(client: TestClient, channel: string, since?: { offset: number; epoch: string }): Promise<Frame> {
  const reply = await client.request(since === undefined ? { type: 'subscribe', channel } : { type: 'subscribe', channel, since });
  expect(reply.type).toBe('subscribed');
  return reply;
}

async function getJson(server: TestServer, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}${path}`);
  return { status: response.status, body: await response.json() as Record<string, unknown> };
}

function offsetsOf(frames: Frame[]): number[] {
  return frames.map((frame) => frame.offset as number);
}

/** Poll `check` until it holds, with a bounded number of attempts. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Start the built CLI as a cluster node (Redis URL from `SWITCHYARD_REDIS_URL`); resolves with its port once it listens. */
function startCliNode(): Promise<CliProcess> {
  return startCli(
    ['--port', '0', '--host', '127.0.0.1', '--no-demo', '--no-dashboard', '--presence-ttl-ms', String(PRESENCE_TTL_MS), '--log-level', 'info'],
    { SWITCHYARD_REDIS_URL: redis.url },
    children,
  );
}

beforeAll(async () => {
  redis = await startRedis();
  servers = await Promise.all([1, 2, 3].map((n) => startServer({ redis: redis.url, name: `node${n}`, presenceTtlMs: PRESENCE_TTL_MS })));
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  killAll(children);
  await Promise.all(servers.map((server) => server.close()));
  await redis?.stop();
});

describe('Cluster over Redis', () => {
  it('delivers a publication on one server to subscribers on every server, once and in order', async () => {
    const [a, b, c] = servers as [TestServer, TestServer, TestServer];
    const subscribers = [await open(a), await open(b), await open(c)];
    for (const client of subscribers) await subscribe(client, 'news');
    const publisher = await open(b);
    for (let n = 1; n <= 20; n++) {
      const ack = await publisher.request({ type: 'publish', channel: 'news', data: { n } });
      expect(ack.type).toBe('ack');
    }
    for (const client of subscribers) {
      await waitFor(() => client.messages('news').length >= 20, 10_000, '20 messages on every server');
      expect(offsetsOf(client.messages('news'))).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
    }
    const epochs = new Set(subscribers.flatMap((client) => client.messages('news').map((frame) => frame.epoch)));
    expect(epochs.size).toBe(1);
  });

  it('shows the same presence and history on every server, with joins delivered across servers', async () => {
    const [a, b, c] = servers as [TestServer, TestServer, TestServer];
    const onA = await open(a);
    await subscribe(onA, 'chat:lobby');
    const onB = await open(b);
    await subscribe(onB, 'chat:lobby');
    const bId = ((await onB.welcome).data as { clientId: string }).clientId;
    const aId = ((await onA.welcome).data as { clientId: string }).clientId;
    await waitFor(() => onA.frames.some((frame) => frame.type === 'join' && (frame.data as { clientId: string }).clientId === bId), 10_000, 'A saw B join');
    await onA.request({ type: 'publish', channel: 'chat:lobby', data: 'hello from A' });
    await onB.request({ type: 'publish', channel: 'chat:lobby', data: 'hello from B' });

    const answers: Array<{ members: string[]; history: unknown }> = [];
    for (const server of [a, b, c]) {
      const client = await open(server);
      const presence = await client.request({ type: 'presence', channel: 'chat:lobby' });
      const history = await client.request({ type: 'history', channel: 'chat:lobby' });
      expect(presence.type).toBe('presence');
      answers.push({
        members: (presence.data as { members: Array<{ clientId: string }> }).members.map((member) => member.clientId).filter((id) => id === aId || id === bId).sort(),
        history: (history.data as { publications: unknown[] }).publications,
      });
    }
    expect(answers[0]!.members).toEqual([aId, bId].sort());
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
    expect((answers[0]!.history as Array<{ data: unknown }>).map((publication) => publication.data)).toEqual(['hello from A', 'hello from B']);
  });

  it('lets a client that left server A resubscribe on server B with since and recover exactly what it missed', async () => {
    const [a, b, c] = servers as [TestServer, TestServer, TestServer];
    const first = await open(a);
    await subscribe(first, 'feed');
    for (let n = 1; n <= 3; n++) await c.server.publish('feed', { n });
    await waitFor(() => first.messages('feed').length === 3, 10_000, 'three messages on A');
    const last = first.messages('feed').at(-1)!;
    await first.close();

    for (let n = 4; n <= 10; n++) await c.server.publish('feed', { n });
    const second = await open(b);
    const subscribed = await subscribe(second, 'feed', { offset: last.offset as number, epoch: last.epoch as string });
    expect(subscribed.data).toMatchObject({ recovered: true, offset: 10, epoch: last.epoch });
    await c.server.publish('feed', { n: 11 });
    await waitFor(() => second.messages('feed').length >= 8, 10_000, 'the missed and the new messages');
    expect(second.messages('feed').map((frame) => (frame.data as { n: number }).n)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    expect(offsetsOf(second.messages('feed'))).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    // The replay comes after `subscribed` and before anything newer.
    const order = second.frames.filter((frame) => frame.type === 'subscribed' || frame.type === 'message').map((frame) => frame.type);
    expect(order[0]).toBe('subscribed');
  });

  it('fills from history what a server missed while its Redis subscription was cut', async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const reader = await open(b);
    await subscribe(reader, 'gapped');
    await a.server.publish('gapped', { n: 1 });
    await waitFor(() => reader.messages('gapped').length === 1, 10_000, 'the first message');

    const admin = new Redis(redis.url);
    try {
      const list = await admin.client('LIST') as string;
      const line = list.split('\n').find((entry) => entry.includes(`name=switchyard:${b.server.nodeId}:subscriber `));
      expect(line).toBeDefined();
      await admin.client('KILL', 'ID', /\bid=(\d+)/.exec(line!)![1]!);
    } finally {
      admin.disconnect();
    }
    for (let n = 2; n <= 6; n++) await a.server.publish('gapped', { n });
    await until(async () => (await getJson(b, '/ready')).status === 200, 'server B is ready again');
    await a.server.publish('gapped', { n: 7 });
    await waitFor(() => reader.messages('gapped').length >= 7, 10_000, 'all seven messages on B');
    expect(reader.messages('gapped').map((frame) => (frame.data as { n: number }).n)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(offsetsOf(reader.messages('gapped'))).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('delivers a new epoch from its start when Redis lost its data while a server was cut off', async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const reader = await open(b);
    await subscribe(reader, 'reborn');
    await a.server.publish('reborn', { n: 'old' });
    await waitFor(() => reader.messages('reborn').length === 1, 10_000, 'the message of the old epoch');
    const oldEpoch = reader.messages('reborn')[0]!.epoch;

    const admin = new Redis(redis.url);
    try {
      const list = await admin.client('LIST') as string;
      const line = list.split('\n').find((entry) => entry.includes(`name=switchyard:${b.server.nodeId}:subscriber `));
      await admin.client('KILL', 'ID', /\bid=(\d+)/.exec(line!)![1]!);
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
    for (let n = 1; n <= 5; n++) await a.server.publish('reborn', { n });
    await until(async () => (await getJson(b, '/ready')).status === 200, 'server B is ready again');
    await a.server.publish('reborn', { n: 6 });
    await waitFor(() => reader.messages('reborn').length >= 7, 10_000, 'the new epoch from offset 1 on B');
    const reborn = reader.messages('reborn').slice(1);
    expect(reborn.every((frame) => frame.epoch !== oldEpoch)).toBe(true);
    expect(offsetsOf(reborn)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('shows every live server and the total connections in /status', async () => {
    const ids = servers.map((server) => server.server.nodeId).sort();
    await until(async () => {
      const statuses = await Promise.all(servers.map(async (server) => (await getJson(server, '/status')).body));
      const total = statuses.reduce((sum, status) => sum + (status['connections'] as number), 0);
      return statuses.every((status) => {
        const cluster = status['cluster'] as { connections: number; nodes: Array<{ id: string }> } | undefined;
        return cluster !== undefined && cluster.connections === total && cluster.nodes.map((node) => node.id).sort().join() === ids.join();
      });
    }, '/status on every server lists the three servers with the connection total');
    const status = (await getJson(servers[0]!, '/status')).body;
    expect(status['engine']).toBe('redis');
    const cluster = status['cluster'] as { connections: number; nodes: Array<{ id: string; connections: number; lastSeenMs: number }> };
    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.connections).toBeGreaterThan(0);
    expect(cluster.nodes.every((node) => node.lastSeenMs >= 0)).toBe(true);
  });

  it('survives Redis stopping and restarting mid-traffic: ready goes false and back, and no gap passes silently', async () => {
    const [a, b, c] = servers as [TestServer, TestServer, TestServer];
    const live = await open(b);
    await subscribe(live, 'ticker');
    let publishing = true;
    let acked = 0;
    let refused = 0;
    const traffic = (async () => {
      for (let n = 0; publishing && n < 5000; n++) {
        try {
          await a.server.publish('ticker', { n });
          acked++;
        } catch {
          refused++;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    await waitFor(() => live.messages('ticker').length >= 10, 10_000, 'traffic flowing before the outage');
    const beforeOutage = live.messages('ticker').at(-1)!;

    await redis.stop();
    await until(async () => (await Promise.all(servers.map((server) => getJson(server, '/ready')))).every((answer) => answer.status === 503), 'every server answers /ready with 503');
    expect((await getJson(c, '/health')).status).toBe(200);
    await redis.start();
    await until(async () => (await Promise.all(servers.map((server) => getJson(server, '/ready')))).every((answer) => answer.status === 200), 'every server is ready again');

    const seenBeforeRestart = live.messages('ticker').length;
    await waitFor(() => live.messages('ticker').length > seenBeforeRestart + 5, 10_000, 'publications flow again after the restart');
    publishing = false;
    await traffic;
    expect(refused).toBeGreaterThan(0);
    expect(acked).toBeGreaterThan(15);

    // Within each epoch the live subscriber saw offsets in order without repeats or holes.
    const byEpoch = new Map<string, number[]>();
    for (const frame of live.messages('ticker')) {
      const list = byEpoch.get(frame.epoch as string) ?? [];
      list.push(frame.offset as number);
      byEpoch.set(frame.epoch as string, list);
    }
    const epochs = [...byEpoch.keys()];
    expect(epochs.length).toBeGreaterThan(1); // the restarted Redis kept nothing: a new epoch began
    for (const [epoch, list] of byEpoch) {
      // A later epoch is delivered from its start (missed ones are filled from history).
      if (epoch !== epochs[0]) expect(list[0]).toBe(1);
      for (let index = 1; index < list.length; index++) expect(list[index]).toBe(list[index - 1]! + 1);
    }

    // A client resubscribing from before the outage gets exactly what it missed or is told it cannot.
    const returning = await open(c);
    const reply = await subscribe(returning, 'ticker', { offset: beforeOutage.offset as number, epoch: beforeOutage.epoch as string });
    const data = reply.data as { recovered: boolean; reason?: string; offset: number; epoch: string };
    if (data.recovered) {
      await waitFor(() => returning.messages('ticker').length >= data.offset - (beforeOutage.offset as number), 10_000, 'the replay');
      const replayed = offsetsOf(returning.messages('ticker')).slice(0, data.offset - (beforeOutage.offset as number));
      expect(replayed).toEqual(Array.from({ length: replayed.length }, (_, index) => (beforeOutage.offset as number) + 1 + index));
    } else {
      expect(['epoch_changed', 'history_trimmed', 'history_expired']).toContain(data.reason);
    }
    for (const server of servers) expect((await getJson(server, '/status')).body['ready']).toBe(true);
  });

  it('removes the presence members of a server killed with SIGKILL within the expiry', async () => {
    const [a] = servers as [TestServer];
    const watcher = await open(a);
    await subscribe(watcher, 'chat:crash');
    const node = await startCliNode();
    const doomed = await TestClient.open(`ws://127.0.0.1:${node.port}/ws`);
    clients.push(doomed);
    const doomedId = ((await doomed.welcome).data as { clientId: string }).clientId;
    await subscribe(doomed, 'chat:crash');
    await waitFor(() => watcher.frames.some((frame) => frame.type === 'join' && (frame.data as { clientId: string }).clientId === doomedId), 10_000, 'the watcher saw the join');
    await until(async () => ((await getJson(a, '/status')).body['cluster'] as { nodes: unknown[] }).nodes.length === 4, '/status lists the fourth node');

    node.child.kill('SIGKILL');
    await waitFor(() => watcher.frames.some((frame) => frame.type === 'leave' && (frame.data as { clientId: string }).clientId === doomedId), 10_000, 'the watcher saw the crashed member leave');
    const presence = await watcher.request({ type: 'presence', channel: 'chat:crash' });
    expect((presence.data as { members: Array<{ clientId: string }> }).members.map((member) => member.clientId)).not.toContain(doomedId);
    const nodes = ((await getJson(a, '/status')).body['cluster'] as { nodes: Array<{ id: string }> }).nodes.map((entry) => entry.id);
    expect(nodes).not.toContain(node.nodeId);
    expect(nodes).toHaveLength(3);
  });
});
