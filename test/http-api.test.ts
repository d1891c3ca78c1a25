// Integration: the HTTP API over a real port.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './helpers/server.js';
import { TestClient } from './helpers/ws-client.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ demo: true, maxBodyBytes: 4096 });
});
afterAll(async () => {
  await server.close();
});

async function post(path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}${path}`, { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('HTTP API › reading routes', () => {
  it('GET /status reports ok, version, uptime and live connection and channel counts', async () => {
    const client = await TestClient.open(server.wsUrl);
    await client.request({ type: 'subscribe', channel: 'status:check' });
    const response = await fetch(`${server.url}/status`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'ok', version: expect.any(String), uptimeMs: expect.any(Number), engine: 'memory', ready: true });
    expect(body['connections']).toBe(1);
    expect(body['channels']).toBeGreaterThanOrEqual(1);
    expect(body['cluster']).toBeUndefined();
    await client.close();
  });

  it('GET /health and GET /ready answer 200', async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
  });

  it('GET /metrics answers Prometheus text with connections, messages, bytes, errors and close codes', async () => {
    const client = await TestClient.open(server.wsUrl);
    await client.request({ type: 'echo', data: 1 });
    client.send('not json');
    await client.next((frame) => frame.type === 'error');
    await client.close();
    const response = await fetch(`${server.url}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toMatch(/^switchyard_connections \d+$/m);
    expect(text).toMatch(/^switchyard_messages_in_total\{type="echo"\} [1-9]\d*$/m);
    expect(text).toMatch(/^switchyard_messages_out_total\{type="echo"\} [1-9]\d*$/m);
    expect(text).toMatch(/^switchyard_bytes_in_total [1-9]\d*$/m);
    expect(text).toMatch(/^switchyard_bytes_out_total [1-9]\d*$/m);
    expect(text).toMatch(/^switchyard_errors_total\{code="bad_json"\} [1-9]\d*$/m);
    expect(text).toMatch(/^switchyard_closes_total\{code="1005"\} [1-9]\d*$/m);
    // prom-client's process metrics, event-loop lag among them (sampled every 100 ms: see metrics.ts).
    expect(text).toMatch(/^switchyard_nodejs_eventloop_lag_max_seconds \d/m);
    expect(text).toMatch(/^switchyard_process_resident_memory_bytes [1-9]\d*$/m);
  });

  it('GET /events lists the 5 demo events and GET /events/:id answers one', async () => {
    const list = (await (await fetch(`${server.url}/events`)).json()) as { events: Array<{ id: string; homeScore: number }> };
    expect(list.events).toHaveLength(5);
    const first = list.events[0]!;
    const one = await fetch(`${server.url}/events/${encodeURIComponent(first.id)}`);
    expect(one.status).toBe(200);
    expect(((await one.json()) as { id: string }).id).toBe(first.id);
  });

  it('an unknown event id gets 404 not_found', async () => {
    const response = await fetch(`${server.url}/events/nope`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'not_found', message: expect.any(String) } });
  });

  it('an unknown route gets a 404 JSON body', async () => {
    const response = await fetch(`${server.url}/no/such/route`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('the `events` channel carries the list in subscribed and each change as an update message', async () => {
    const client = await TestClient.open(server.wsUrl);
    const subscribed = await client.request({ type: 'subscribe', channel: 'events' });
    expect(((subscribed.data as { state: { events: unknown[] } }).state.events)).toHaveLength(5);
    const update = await client.next((frame) => frame.type === 'message' && frame.channel === 'events', 15_000);
    expect(update).toMatchObject({ event: 'update', offset: expect.any(Number), epoch: expect.any(String), data: { id: expect.stringMatching(/^EVENT#0\d$/) } });
    await client.close();
  });

  it('the `$stats` channel sends one update a second with live figures', async () => {
    const client = await TestClient.open(server.wsUrl);
    await client.request({ type: 'subscribe', channel: '$stats' });
    const update = await client.next((frame) => frame.type === 'message' && frame.channel === '$stats', 5000);
    expect(update.event).toBe('update');
    expect(update.data).toMatchObject({ connections: 1, channels: expect.any(Number), messagesInPerSecond: expect.any(Number), messagesOutPerSecond: expect.any(Number) });
    await client.close();
  });
});

describe('HTTP API › writing routes', () => {
  it('POST /publish delivers a message to subscribers and answers offset and epoch', async () => {
    const client = await TestClient.open(server.wsUrl);
    const subscribed = await client.request({ type: 'subscribe', channel: 'http:pub' });
    const { status, body } = await post('/publish', JSON.stringify({ channel: 'http:pub', data: { n: 1 }, event: 'note' }));
    expect(status).toBe(200);
    expect(body).toEqual({ offset: 1, epoch: (subscribed.data as { epoch: string }).epoch });
    const message = await client.next((frame) => frame.type === 'message' && frame.channel === 'http:pub');
    expect(message).toMatchObject({ data: { n: 1 }, event: 'note', offset: 1 });
    expect(message.from).toBeUndefined();
    await client.close();
  });

  it('POST /broadcast reaches every client and answers the delivered count', async () => {
    const a = await TestClient.open(server.wsUrl);
    const b = await TestClient.open(server.wsUrl);
    const { status, body } = await post('/broadcast', JSON.stringify({ data: 'to all' }));
    expect(status).toBe(200);
    expect(body['delivered']).toBe(2);
    for (const client of [a, b]) expect((await client.next((frame) => frame.type === 'broadcast')).data).toBe('to all');
    await Promise.all([a.close(), b.close()]);
  });

  it('POST /broadcast with a channel reaches only that channel', async () => {
    const inside = await TestClient.open(server.wsUrl);
    const outside = await TestClient.open(server.wsUrl);
    await inside.request({ type: 'subscribe', channel: 'http:room' });
    const { body } = await post('/broadcast', JSON.stringify({ data: 'room only', channel: 'http:room' }));
    expect(body['delivered']).toBe(1);
    expect(await inside.next((frame) => frame.type === 'broadcast')).toMatchObject({ data: 'room only', channel: 'http:room' });
    await inside.request({ type: 'echo', data: 0 });
    await outside.request({ type: 'echo', data: 0 });
    expect(outside.frames.some((frame) => frame.type === 'broadcast')).toBe(false);
    await Promise.all([inside.close(), outside.close()]);
  });

  const bad: Array<[string, string, string, number, string]> = [
    ['malformed JSON', '/publish', '{"channel": ', 400, 'bad_json'],
    ['an empty body', '/publish', '', 400, 'bad_json'],
    ['a JSON array', '/publish', '[1]', 400, 'invalid_message'],
    ['a missing channel', '/publish', '{"data":1}', 400, 'invalid_channel'],
    ['a bad channel', '/publish', '{"channel":"a b","data":1}', 400, 'invalid_channel'],
    ['missing data', '/publish', '{"channel":"a"}', 400, 'invalid_message'],
    ['an unknown field', '/publish', '{"channel":"a","data":1,"x":2}', 400, 'invalid_message'],
    ['broadcast without data', '/broadcast', '{}', 400, 'invalid_message'],
    ['a body over the limit', '/publish', JSON.stringify({ channel: 'a', data: 'x'.repeat(5000) }), 413, 'payload_too_large'],
  ];
  it.each(bad)('%s gets %s … %i %s', async (_name, path, body, status, code) => {
    const response = await post(path, body);
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({ error: { code, message: expect.any(String) } });
  });

  it('a body that is not JSON content gets 4xx with a JSON error', async () => {
    const response = await post('/publish', 'channel=a', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.body).toMatchObject({ error: { code: 'invalid_message' } });
  });

  it('the server still serves after bad bodies', async () => {
    expect((await post('/publish', JSON.stringify({ channel: 'after', data: 1 }))).status).toBe(200);
  });
});
