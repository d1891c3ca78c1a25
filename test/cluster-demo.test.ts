// Cluster: the demo feed runs on one server and every server tells the same story (channel `events`, GET /events).

import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedis, type TestRedis } from './helpers/redis-server.js';
import { startServer, type TestServer } from './helpers/server.js';
import { TestClient, waitFor } from './helpers/ws-client.js';

let redis: TestRedis;
let servers: TestServer[] = [];

beforeAll(async () => {
  redis = await startRedis();
  servers = [await startServer({ redis: redis.url, demo: true }), await startServer({ redis: redis.url, demo: true })];
});
afterAll(async () => {
  for (const server of servers) await server.close();
  await redis.stop();
});

it('Cluster demo › one server runs the feed: subscribers everywhere see one sequence, and GET /events agrees', async () => {
  const clients = await Promise.all(servers.map((server) => TestClient.open(server.wsUrl)));
  for (const client of clients) await client.request({ type: 'subscribe', channel: 'events' });
  await waitFor(() => clients.every((client) => client.messages('events').length >= 6), 40_000, 'six updates on every server');
  const [first, second] = clients.map((client) => client.messages('events').map((frame) => `${frame.offset}:${JSON.stringify(frame.data)}`));
  const common = first!.filter((entry) => second!.includes(entry));
  expect(common.length).toBeGreaterThanOrEqual(5);
  const offsets = clients[0]!.messages('events').map((frame) => frame.offset as number);
  expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  expect(new Set(offsets).size).toBe(offsets.length);
  const boards = async () => Promise.all(servers.map(async (server) => JSON.stringify(await (await fetch(`${server.url}/events`)).json())));
  let agreed = false;
  for (let attempt = 0; attempt < 40 && !agreed; attempt++) {
    const [a, b] = await boards();
    agreed = a === b;
    if (!agreed) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  expect(agreed).toBe(true);
  await Promise.all(clients.map((client) => client.close()));
}, 60_000);
