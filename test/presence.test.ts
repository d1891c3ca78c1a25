// Integration: namespaces, presence with join/leave, direct messages.

import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './helpers/server.js';
import { TestClient, waitFor, type Frame } from './helpers/ws-client.js';

let server: TestServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

const SECRET = 'presence-test-secret-presence-test-secret';
const token = (sub: string): Promise<string> => new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
const clientIdOf = async (client: TestClient): Promise<string> => ((await client.welcome).data as { clientId: string }).clientId;
const members = (frame: Frame) => (frame.data as { members: Array<{ clientId: string; userId?: string; info?: unknown }> }).members;

describe('Presence', () => {
  it('chat:* tracks members out of the box: presence lists them with userId and info', async () => {
    server = await startServer({ jwtSecret: SECRET, namespaces: { chat: { anonymous: true } } });
    const alice = await TestClient.open(`${server.wsUrl}?token=${await token('alice')}`);
    const aliceTab2 = await TestClient.open(`${server.wsUrl}?token=${await token('alice')}`);
    const guest = await TestClient.open(server.wsUrl);
    await alice.request({ type: 'subscribe', channel: 'chat:lobby', info: { name: 'Alice' } });
    await aliceTab2.request({ type: 'subscribe', channel: 'chat:lobby', info: { name: 'Alice' } });
    await guest.request({ type: 'subscribe', channel: 'chat:lobby' });
    const reply = await guest.request({ type: 'presence', channel: 'chat:lobby' });
    expect(reply.type).toBe('presence');
    const list = members(reply);
    expect(list).toHaveLength(3);
    expect(list).toContainEqual({ clientId: await clientIdOf(alice), userId: 'alice', info: { name: 'Alice' } });
    expect(list).toContainEqual({ clientId: await clientIdOf(guest) });
    expect((reply.data as { users: string[] }).users).toEqual(['alice']);
    await Promise.all([alice.close(), aliceTab2.close(), guest.close()]);
  });

  it('subscribers get join and leave, in order, as members come and go', async () => {
    server = await startServer();
    const watcher = await TestClient.open(server.wsUrl);
    await watcher.request({ type: 'subscribe', channel: 'chat:room' });
    const visitor = await TestClient.open(server.wsUrl);
    const visitorId = await clientIdOf(visitor);
    await visitor.request({ type: 'subscribe', channel: 'chat:room', info: { name: 'V' } });
    const join = await watcher.next((frame) => frame.type === 'join' && (frame.data as { clientId: string }).clientId === visitorId);
    expect(join).toMatchObject({ channel: 'chat:room', data: { clientId: visitorId, info: { name: 'V' } } });
    await visitor.request({ type: 'unsubscribe', channel: 'chat:room' });
    const leave = await watcher.next((frame) => frame.type === 'leave' && (frame.data as { clientId: string }).clientId === visitorId);
    expect(leave.channel).toBe('chat:room');
    await visitor.request({ type: 'subscribe', channel: 'chat:room' });
    await visitor.close();
    await waitFor(() => watcher.frames.filter((frame) => (frame.type === 'join' || frame.type === 'leave') && (frame.data as { clientId: string }).clientId === visitorId).length === 4, 5000, 'join/leave/join/leave');
    const sequence = watcher.frames.filter((frame) => (frame.type === 'join' || frame.type === 'leave') && (frame.data as { clientId: string }).clientId === visitorId).map((frame) => frame.type);
    expect(sequence).toEqual(['join', 'leave', 'join', 'leave']);
    const after = await watcher.request({ type: 'presence', channel: 'chat:room' });
    expect(members(after).map((member) => member.clientId)).toEqual([await clientIdOf(watcher)]);
    await watcher.close();
  });

  it('the joiner sees subscribed before any join', async () => {
    server = await startServer();
    const client = await TestClient.open(server.wsUrl);
    await client.request({ type: 'subscribe', channel: 'chat:order' });
    await client.next((frame) => frame.type === 'join');
    const types = client.frames.map((frame) => frame.type);
    expect(types.indexOf('subscribed')).toBeLessThan(types.indexOf('join'));
    await client.close();
  });

  it('namespaces without presence refuse presence requests and send no join/leave', async () => {
    server = await startServer();
    const a = await TestClient.open(server.wsUrl);
    await a.request({ type: 'subscribe', channel: 'prices:AAPL' });
    const b = await TestClient.open(server.wsUrl);
    await b.request({ type: 'subscribe', channel: 'prices:AAPL' });
    expect(await a.request({ type: 'presence', channel: 'prices:AAPL' })).toMatchObject({ type: 'error', data: { code: 'forbidden' } });
    await a.request({ type: 'echo', data: 0 });
    expect(a.frames.some((frame) => frame.type === 'join')).toBe(false);
    await Promise.all([a.close(), b.close()]);
  });

  it('joinLeave can be off while presence stays on', async () => {
    server = await startServer({ namespaces: { quiet: { presence: true, joinLeave: false } } });
    const a = await TestClient.open(server.wsUrl);
    await a.request({ type: 'subscribe', channel: 'quiet:x' });
    const b = await TestClient.open(server.wsUrl);
    await b.request({ type: 'subscribe', channel: 'quiet:x' });
    expect(members(await a.request({ type: 'presence', channel: 'quiet:x' }))).toHaveLength(2);
    expect(a.frames.some((frame) => frame.type === 'join')).toBe(false);
    await Promise.all([a.close(), b.close()]);
  });

  it('maxSubscribers of a namespace caps a channel', async () => {
    server = await startServer({ namespaces: { tiny: { maxSubscribers: 2 } } });
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.open(server!.wsUrl)));
    expect(await clients[0]!.request({ type: 'subscribe', channel: 'tiny:x' })).toMatchObject({ type: 'subscribed' });
    expect(await clients[1]!.request({ type: 'subscribe', channel: 'tiny:x' })).toMatchObject({ type: 'subscribed' });
    expect(await clients[2]!.request({ type: 'subscribe', channel: 'tiny:x' })).toMatchObject({ type: 'error', data: { code: 'unavailable' } });
    await Promise.all(clients.map((client) => client.close()));
  });

  it('a namespace can refuse client subscriptions', async () => {
    server = await startServer({ namespaces: { internal: { subscribe: false } } });
    const client = await TestClient.open(server.wsUrl);
    expect(await client.request({ type: 'subscribe', channel: 'internal:x' })).toMatchObject({ type: 'error', data: { code: 'forbidden' } });
    await client.close();
  });
});

describe('Direct messages', () => {
  it('reach every connection of a userId, with from', async () => {
    server = await startServer({ jwtSecret: SECRET });
    const tab1 = await TestClient.open(`${server.wsUrl}?token=${await token('bob')}`);
    const tab2 = await TestClient.open(`${server.wsUrl}?token=${await token('bob')}`);
    const sender = await TestClient.open(`${server.wsUrl}?token=${await token('carol')}`);
    const ack = await sender.request({ type: 'direct', to: 'bob', data: { hi: 'bob' } });
    expect(ack).toMatchObject({ type: 'ack', data: { delivered: 2 } });
    for (const tab of [tab1, tab2]) expect(await tab.next((frame) => frame.type === 'direct')).toMatchObject({ from: 'carol', data: { hi: 'bob' } });
    expect(sender.frames.some((frame) => frame.type === 'direct')).toBe(false);
    await Promise.all([tab1.close(), tab2.close(), sender.close()]);
  });

  it('reach one connection by clientId', async () => {
    server = await startServer();
    const target = await TestClient.open(server.wsUrl);
    const sender = await TestClient.open(server.wsUrl);
    const ack = await sender.request({ type: 'direct', to: await clientIdOf(target), data: 'psst' });
    expect(ack).toMatchObject({ type: 'ack', data: { delivered: 1 } });
    expect(await target.next((frame) => frame.type === 'direct')).toMatchObject({ from: await clientIdOf(sender), data: 'psst' });
    await Promise.all([target.close(), sender.close()]);
  });

  it('get not_found when nobody matches', async () => {
    server = await startServer();
    const sender = await TestClient.open(server.wsUrl);
    expect(await sender.request({ type: 'direct', to: 'ghost', data: 1 })).toMatchObject({ type: 'error', data: { code: 'not_found' } });
    await sender.close();
  });

  it('the server can send direct messages from the embedding app', async () => {
    server = await startServer();
    const target = await TestClient.open(server.wsUrl);
    expect(await server.server.direct(await clientIdOf(target), { notice: 1 })).toBe(1);
    expect(await target.next((frame) => frame.type === 'direct')).toMatchObject({ from: 'switchyard', data: { notice: 1 } });
    await target.close();
  });
});
