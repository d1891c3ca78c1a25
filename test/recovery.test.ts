// Integration: history, recovery with `since`, idempotent publish (delivery guarantees).

import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './helpers/server.js';
import { TestClient } from './helpers/ws-client.js';

let server: TestServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

type Position = { offset: number; epoch: string };

async function publishNumbered(client: TestClient, channel: string, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) await client.request({ type: 'publish', channel, data: n });
}

describe('Recovery', () => {
  it('a subscriber that comes back with `since` gets exactly what it missed, in order, then live ones', async () => {
    server = await startServer();
    const publisher = await TestClient.open(server.wsUrl);
    const first = await TestClient.open(server.wsUrl);
    const subscribed = await first.request({ type: 'subscribe', channel: 'rec:a' });
    await publishNumbered(publisher, 'rec:a', 1, 3);
    await first.next((frame) => frame.type === 'message' && frame.offset === 3);
    const position: Position = { offset: 3, epoch: (subscribed.data as Position).epoch };
    await first.close();
    await publishNumbered(publisher, 'rec:a', 4, 9);
    const back = await TestClient.open(server.wsUrl);
    const reply = await back.request({ type: 'subscribe', channel: 'rec:a', since: position });
    expect(reply.data).toEqual({ offset: 9, epoch: position.epoch, recovered: true });
    await publisher.request({ type: 'publish', channel: 'rec:a', data: 10 });
    await back.next((frame) => frame.type === 'message' && frame.offset === 10);
    expect(back.messages('rec:a').map((frame) => frame.data)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    const order = back.frames.map((frame) => frame.type);
    expect(order.indexOf('subscribed')).toBeLessThan(order.indexOf('message'));
    await Promise.all([publisher.close(), back.close()]);
  });

  it('recovers with nothing to replay when nothing was missed', async () => {
    server = await startServer();
    const client = await TestClient.open(server.wsUrl);
    const ack = await client.request({ type: 'publish', channel: 'rec:none', data: 1 });
    const reply = await client.request({ type: 'subscribe', channel: 'rec:none', since: ack.data as Position });
    expect(reply.data).toMatchObject({ offset: 1, recovered: true });
    await client.close();
  });

  it('gives recovered: false, reason history_trimmed, when history no longer reaches back', async () => {
    server = await startServer({ namespaces: { small: { historySize: 3 } } });
    const client = await TestClient.open(server.wsUrl);
    const ack = await client.request({ type: 'publish', channel: 'small:x', data: 1 });
    await publishNumbered(client, 'small:x', 2, 10);
    const reply = await client.request({ type: 'subscribe', channel: 'small:x', since: ack.data as Position });
    expect(reply.data).toEqual({ offset: 10, epoch: (ack.data as Position).epoch, recovered: false, reason: 'history_trimmed' });
    await client.request({ type: 'echo', data: 0 });
    expect(client.messages('small:x')).toHaveLength(0);
    await client.close();
  });

  it('gives recovered: false, reason history_expired, when the missed publications aged out', async () => {
    server = await startServer({ namespaces: { brief: { historyTtlMs: 150 } } });
    const client = await TestClient.open(server.wsUrl);
    const ack = await client.request({ type: 'publish', channel: 'brief:x', data: 1 });
    await client.request({ type: 'publish', channel: 'brief:x', data: 2 });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const reply = await client.request({ type: 'subscribe', channel: 'brief:x', since: ack.data as Position });
    expect(reply.data).toMatchObject({ offset: 2, recovered: false, reason: 'history_expired' });
    await client.close();
  });

  it('gives recovered: false, reason epoch_changed, after a memory-only server restarts', async () => {
    server = await startServer();
    const port = server.port;
    const client = await TestClient.open(server.wsUrl);
    const ack = await client.request({ type: 'publish', channel: 'rec:restart', data: 1 });
    await client.close();
    await server.close();
    server = await startServer({ port });
    const again = await TestClient.open(server.wsUrl);
    const reply = await again.request({ type: 'subscribe', channel: 'rec:restart', since: ack.data as Position });
    expect(reply.data).toMatchObject({ offset: 0, recovered: false, reason: 'epoch_changed' });
    expect((reply.data as Position).epoch).not.toBe((ack.data as Position).epoch);
    await again.close();
  });

  it('gives recovered: false, reason history_disabled, where history is off', async () => {
    server = await startServer({ namespaces: { live: { historySize: 0 } } });
    const client = await TestClient.open(server.wsUrl);
    const ack = await client.request({ type: 'publish', channel: 'live:x', data: 1 });
    await client.request({ type: 'publish', channel: 'live:x', data: 2 });
    const reply = await client.request({ type: 'subscribe', channel: 'live:x', since: ack.data as Position });
    expect(reply.data).toMatchObject({ offset: 2, recovered: false, reason: 'history_disabled' });
    await client.close();
  });

  it('replays in order with no duplicate and no gap while publications arrive concurrently', async () => {
    server = await startServer({ rateLimitPerSecond: 100_000, rateLimitBurst: 100_000, namespaces: { rec: { historySize: 1000 } } });
    const publisher = await TestClient.open(server.wsUrl);
    const first = await publisher.request({ type: 'publish', channel: 'rec:race', data: 1 });
    const total = 300;
    const publishing = Promise.all(Array.from({ length: total - 1 }, (_, i) => publisher.request({ type: 'publish', channel: 'rec:race', data: i + 2 })));
    const late = await TestClient.open(server.wsUrl);
    const reply = await late.request({ type: 'subscribe', channel: 'rec:race', since: first.data as Position });
    expect(reply.data).toMatchObject({ recovered: true });
    await publishing;
    await late.next((frame) => frame.type === 'message' && frame.offset === total, 10_000);
    expect(late.messages('rec:race').map((frame) => frame.offset)).toEqual(Array.from({ length: total - 1 }, (_, i) => i + 2));
    await Promise.all([publisher.close(), late.close()]);
  });
});

describe('History', () => {
  it('answers publications after `since`, oldest first, bounded by limit', async () => {
    server = await startServer();
    const client = await TestClient.open(server.wsUrl);
    const first = await client.request({ type: 'publish', channel: 'hist:a', data: 1, event: 'e' });
    await publishNumbered(client, 'hist:a', 2, 6);
    const reply = await client.request({ type: 'history', channel: 'hist:a', since: first.data as Position, limit: 3 });
    const data = reply.data as { publications: Array<Record<string, unknown>>; offset: number };
    expect(data.offset).toBe(6);
    expect(data.publications.map((p) => p['data'])).toEqual([2, 3, 4]);
    expect(data.publications[0]).toMatchObject({ offset: 2, epoch: (first.data as Position).epoch, timestamp: expect.any(Number), from: expect.any(String) });
    await client.close();
  });

  it('caps limit at historyMaxLimit', async () => {
    server = await startServer({ historyMaxLimit: 5 });
    const client = await TestClient.open(server.wsUrl);
    await publishNumbered(client, 'hist:cap', 1, 8);
    const reply = await client.request({ type: 'history', channel: 'hist:cap', limit: 100 });
    expect((reply.data as { publications: unknown[] }).publications).toHaveLength(5);
    await client.close();
  });

  it('keeps ephemeral publications out of history and does not advance the offset', async () => {
    server = await startServer();
    const client = await TestClient.open(server.wsUrl);
    await client.request({ type: 'subscribe', channel: 'chat:eph' });
    await client.request({ type: 'publish', channel: 'chat:eph', data: 'kept' });
    const ack = await client.request({ type: 'publish', channel: 'chat:eph', data: { typing: true }, event: 'typing', ephemeral: true });
    expect((ack.data as Position).offset).toBe(1);
    const live = await client.next((frame) => frame.type === 'message' && frame.event === 'typing');
    expect(live).toMatchObject({ ephemeral: true, offset: 1 });
    const history = await client.request({ type: 'history', channel: 'chat:eph' });
    expect((history.data as { publications: Array<{ data: unknown }> }).publications.map((p) => p.data)).toEqual(['kept']);
    await client.close();
  });
});

describe('Idempotent publish', () => {
  it('the same key twice is delivered once and acked with the same offset', async () => {
    server = await startServer();
    const subscriber = await TestClient.open(server.wsUrl);
    await subscriber.request({ type: 'subscribe', channel: 'idem:a' });
    const publisher = await TestClient.open(server.wsUrl);
    const one = await publisher.request({ type: 'publish', channel: 'idem:a', data: 'x', key: 'k-1' });
    const two = await publisher.request({ type: 'publish', channel: 'idem:a', data: 'x', key: 'k-1' });
    expect(two.data).toEqual({ ...(one.data as object), duplicate: true });
    await publisher.request({ type: 'publish', channel: 'idem:a', data: 'y', key: 'k-2' });
    await subscriber.next((frame) => frame.type === 'message' && frame.data === 'y');
    expect(subscriber.messages('idem:a').map((frame) => frame.data)).toEqual(['x', 'y']);
    await Promise.all([subscriber.close(), publisher.close()]);
  });

  it('HTTP and WebSocket publishes share the key space of a channel', async () => {
    server = await startServer();
    const client = await TestClient.open(server.wsUrl);
    const ws = await client.request({ type: 'publish', channel: 'idem:b', data: 1, key: 'shared' });
    const response = await fetch(`${server.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'idem:b', data: 1, key: 'shared' }) });
    expect(await response.json()).toEqual({ ...(ws.data as object), duplicate: true });
    await client.close();
  });

  it('a key is forgotten after the window', async () => {
    server = await startServer({ idempotencyWindowMs: 100 });
    const client = await TestClient.open(server.wsUrl);
    const one = await client.request({ type: 'publish', channel: 'idem:c', data: 1, key: 'k' });
    await new Promise((resolve) => setTimeout(resolve, 250));
    const two = await client.request({ type: 'publish', channel: 'idem:c', data: 1, key: 'k' });
    expect((two.data as Position).offset).toBe((one.data as Position).offset + 1);
    await client.close();
  });
});
