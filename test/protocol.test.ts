// Integration: every client message type and every kind of bad input, over a real socket.

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type TestServer } from './helpers/server.js';
import { TestClient } from './helpers/ws-client.js';

let server: TestServer;

/** The length of an unmasked server frame, header included, whose payload length fits 16 bits. */
function frameLength(frame: Buffer): number {
  const length = (frame[1] ?? 0) & 0x7f;
  return length === 126 ? frame.readUInt16BE(2) + 4 : length + 2;
}

beforeAll(async () => {
  server = await startServer({ maxPayload: 64 * 1024, namespaces: { quiet: { publish: false } } });
});
afterAll(async () => {
  await server.close();
});

describe('Protocol › connection', () => {
  it('greets with clientId, protocol 1, heartbeatMs and server info', async () => {
    const client = await TestClient.open(server.wsUrl);
    const welcome = await client.welcome;
    expect(welcome.timestamp).toEqual(expect.any(Number));
    expect(welcome.data).toMatchObject({ protocol: 1, heartbeatMs: 30_000, server: { name: 'switchyard', version: expect.any(String) } });
    expect((welcome.data as { clientId: string }).clientId).toMatch(/^[0-9a-f-]{36}$/);
    await client.close();
  });

  it('refuses upgrades on other paths with 404', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/nope`);
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(404);
  });

  // The socket is corked while ws answers the upgrade, so that the 101 and the hello leave in one write: both ws's
  // refusal and its acceptance must still reach the client.
  it('answers a handshake ws refuses with 400, and a good one with 101 and the hello as the first frame', async () => {
    // What the server sends back to a raw upgrade request: until it closes, or until the first frame is complete.
    const handshake = (version: string): Promise<Buffer> => new Promise((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1');
      let received = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        received = Buffer.concat([received, chunk]);
        const frame = received.subarray(received.indexOf('\r\n\r\n') + 4);
        if (received.includes('\r\n\r\n') && frame.length >= 4 && frame.length >= frameLength(frame)) socket.destroy();
      });
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
      socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: ${version}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    });
    const refused = (await handshake('12')).toString();
    expect(refused.startsWith('HTTP/1.1 400')).toBe(true);
    const accepted = await handshake('13');
    const headEnd = accepted.indexOf('\r\n\r\n');
    expect(accepted.subarray(0, headEnd).toString()).toMatch(/^HTTP\/1\.1 101 /);
    const frame = accepted.subarray(headEnd + 4);
    expect(frame[0]).toBe(0x81);
    expect(frame.length).toBe(frameLength(frame));
    expect(JSON.parse(frame.subarray(frame[1] === 126 ? 4 : 2).toString())).toMatchObject({ type: 'connection', data: { protocol: 1 } });
    expect(server.server.stats.messagesOutByType.get('connection')).toBeGreaterThan(0);
  });
});

describe('Protocol › requests', () => {
  it('echo returns the same data with the request id', async () => {
    const client = await TestClient.open(server.wsUrl);
    const reply = await client.request({ type: 'echo', data: { nested: [1, 'two', null] } });
    expect(reply).toMatchObject({ type: 'echo', data: { nested: [1, 'two', null] } });
    await client.close();
  });

  it('ping answers pong with the data and a server timestamp', async () => {
    const client = await TestClient.open(server.wsUrl);
    const before = Date.now();
    const reply = await client.request({ type: 'ping', data: 'x' });
    expect(reply.type).toBe('pong');
    expect(reply.data).toBe('x');
    expect(reply.timestamp).toBeGreaterThanOrEqual(before - 1000);
    await client.close();
  });

  it('string ids are echoed as they were sent', async () => {
    const client = await TestClient.open(server.wsUrl);
    const reply = client.next((frame) => frame.id === 'abc');
    client.send({ type: 'echo', id: 'abc', data: 1 });
    expect((await reply).type).toBe('echo');
    await client.close();
  });

  it('subscribe, publish and unsubscribe: offsets start at 1 and every subscriber gets the message', async () => {
    const a = await TestClient.open(server.wsUrl);
    const b = await TestClient.open(server.wsUrl);
    const subA = await a.request({ type: 'subscribe', channel: 'proto:room' });
    await b.request({ type: 'subscribe', channel: 'proto:room' });
    expect(subA).toMatchObject({ type: 'subscribed', channel: 'proto:room', data: { offset: 0, epoch: expect.any(String) } });
    const ack = await a.request({ type: 'publish', channel: 'proto:room', data: { text: 'hi' }, event: 'chat' });
    expect(ack).toMatchObject({ type: 'ack', data: { offset: 1, epoch: (subA.data as { epoch: string }).epoch } });
    const clientId = ((await a.welcome).data as { clientId: string }).clientId;
    for (const client of [a, b]) {
      const message = await client.next((frame) => frame.type === 'message' && frame.channel === 'proto:room');
      expect(message).toMatchObject({ channel: 'proto:room', data: { text: 'hi' }, event: 'chat', offset: 1, from: clientId });
    }
    const second = await b.request({ type: 'publish', channel: 'proto:room', data: 2 });
    expect((second.data as { offset: number }).offset).toBe(2);
    expect(await a.request({ type: 'unsubscribe', channel: 'proto:room' })).toMatchObject({ type: 'unsubscribed', channel: 'proto:room' });
    await b.request({ type: 'publish', channel: 'proto:room', data: 3 });
    await b.next((frame) => frame.type === 'message' && frame.offset === 3);
    expect(a.messages('proto:room').map((frame) => frame.offset)).toEqual([1, 2]);
    await Promise.all([a.close(), b.close()]);
  });

  it('broadcast reaches every connected client and acks with the count', async () => {
    const a = await TestClient.open(server.wsUrl);
    const b = await TestClient.open(server.wsUrl);
    const ack = await a.request({ type: 'broadcast', data: { hello: 'all' } });
    expect(ack.type).toBe('ack');
    expect((ack.data as { delivered: number }).delivered).toBeGreaterThanOrEqual(2);
    for (const client of [a, b]) expect((await client.next((frame) => frame.type === 'broadcast')).data).toEqual({ hello: 'all' });
    await Promise.all([a.close(), b.close()]);
  });

  it('history returns the newest publications oldest first with the current offset', async () => {
    const client = await TestClient.open(server.wsUrl);
    for (let i = 1; i <= 5; i++) await client.request({ type: 'publish', channel: 'proto:hist', data: i });
    const reply = await client.request({ type: 'history', channel: 'proto:hist', limit: 3 });
    expect(reply.type).toBe('history');
    const data = reply.data as { publications: Array<{ data: number; offset: number }>; offset: number };
    expect(data.offset).toBe(5);
    expect(data.publications.map((p) => p.data)).toEqual([3, 4, 5]);
    const reversed = await client.request({ type: 'history', channel: 'proto:hist', limit: 2, reverse: true });
    expect((reversed.data as { publications: Array<{ offset: number }> }).publications.map((p) => p.offset)).toEqual([5, 4]);
    await client.close();
  });
});

describe('Protocol › bad input', () => {
  const cases: Array<[string, string | Record<string, unknown>, string]> = [
    ['malformed JSON', '{"type": "echo",', 'bad_json'],
    ['a JSON array', '[1,2,3]', 'invalid_message'],
    ['a JSON string', '"echo"', 'invalid_message'],
    ['no type', { id: 7, data: 1 }, 'invalid_message'],
    ['a non-string type', { type: 42 }, 'invalid_message'],
    ['an unknown type', { type: 'teleport', id: 1 }, 'unknown_type'],
    ['an unknown field', { type: 'echo', id: 1, data: 1, extra: true }, 'invalid_message'],
    ['publish without data', { type: 'publish', id: 1, channel: 'a' }, 'invalid_message'],
    ['a non-string channel', { type: 'subscribe', id: 1, channel: 5 }, 'invalid_channel'],
    ['an empty channel', { type: 'subscribe', id: 1, channel: '' }, 'invalid_channel'],
    ['a channel with spaces', { type: 'subscribe', id: 1, channel: 'a b' }, 'invalid_channel'],
    ['a 256-character channel', { type: 'subscribe', id: 1, channel: 'x'.repeat(256) }, 'invalid_channel'],
    ['a $ inside a channel name', { type: 'subscribe', id: 1, channel: 'a$b' }, 'invalid_channel'],
    ['a negative since offset', { type: 'subscribe', id: 1, channel: 'a', since: { offset: -1, epoch: 'e' } }, 'invalid_message'],
    ['an object id', { type: 'echo', id: { x: 1 } }, 'invalid_message'],
    ['a history limit of 0', { type: 'history', id: 1, channel: 'a', limit: 0 }, 'invalid_message'],
    ['deep nesting', { type: 'echo', id: 1, data: JSON.parse('['.repeat(40) + ']'.repeat(40)) as unknown }, 'invalid_message'],
  ];

  it.each(cases)('%s gets %s and the connection stays usable', async (_name, message, code) => {
    const client = await TestClient.open(server.wsUrl);
    const error = client.next((frame) => frame.type === 'error');
    client.send(message);
    const frame = await error;
    expect((frame.data as { code: string }).code).toBe(code);
    expect((frame.data as { message: string }).message.length).toBeGreaterThan(0);
    expect(await client.request({ type: 'echo', data: 'still here' })).toMatchObject({ type: 'echo', data: 'still here' });
    await client.close();
  });

  it('errors carry the request id when the message had one', async () => {
    const client = await TestClient.open(server.wsUrl);
    const reply = await client.request({ type: 'subscribe', channel: 'bad channel' });
    expect(reply).toMatchObject({ type: 'error', data: { code: 'invalid_channel' } });
    await client.close();
  });

  it('clients may not publish to server channels ($…) but may subscribe', async () => {
    const client = await TestClient.open(server.wsUrl);
    expect(await client.request({ type: 'publish', channel: '$stats', data: 1 })).toMatchObject({ type: 'error', data: { code: 'forbidden' } });
    expect(await client.request({ type: 'subscribe', channel: '$stats' })).toMatchObject({ type: 'subscribed' });
    await client.close();
  });

  it('publishing where the namespace forbids it gets forbidden', async () => {
    const client = await TestClient.open(server.wsUrl);
    expect(await client.request({ type: 'publish', channel: 'quiet:x', data: 1 })).toMatchObject({ type: 'error', data: { code: 'forbidden' } });
    await client.close();
  });

  it('unsubscribing from a channel not subscribed gets not_subscribed', async () => {
    const client = await TestClient.open(server.wsUrl);
    expect(await client.request({ type: 'unsubscribe', channel: 'never' })).toMatchObject({ type: 'error', data: { code: 'not_subscribed' } });
    await client.close();
  });

  it('subscribing twice gets conflict', async () => {
    const client = await TestClient.open(server.wsUrl);
    await client.request({ type: 'subscribe', channel: 'twice' });
    expect(await client.request({ type: 'subscribe', channel: 'twice' })).toMatchObject({ type: 'error', data: { code: 'conflict' } });
    await client.close();
  });

  it('prototype-pollution keys change nothing on the server', async () => {
    const client = await TestClient.open(server.wsUrl);
    client.send('{"type":"echo","id":1,"data":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}');
    const reply = await client.next((frame) => frame.id === 1);
    expect(reply.type).toBe('echo');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    client.send('{"type":"publish","id":2,"channel":"pp","data":1,"__proto__":{"ephemeral":true}}');
    expect((await client.next((frame) => frame.id === 2)).type).toBe('error');
    expect(await client.request({ type: 'echo', data: 'ok' })).toMatchObject({ data: 'ok' });
    await client.close();
  });

  it('a message over maxPayload closes the connection with 1009 and others are undisturbed', async () => {
    const bystander = await TestClient.open(server.wsUrl);
    const client = await TestClient.open(server.wsUrl);
    client.send({ type: 'echo', data: 'x'.repeat(70 * 1024) });
    expect((await client.closed).code).toBe(1009);
    expect(await bystander.request({ type: 'echo', data: 1 })).toMatchObject({ data: 1 });
    await bystander.close();
  });

  it('a binary frame that is not valid JSON gets bad_json', async () => {
    const client = await TestClient.open(server.wsUrl);
    const error = client.next((frame) => frame.type === 'error');
    client.ws.send(Buffer.from([0xff, 0xfe, 0x00]));
    expect(((await error).data as { code: string }).code).toBe('bad_json');
    await client.close();
  });
});
