// Integration: Switchyard as a library — hosted on an app's own HTTP server, typed events, server-side API;
// and the negotiated encodings (MessagePack) and permessage-deflate.

import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { Packr, Unpackr } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createSwitchyard, type Switchyard } from 'switchyard';
import { startServer, type TestServer } from './helpers/server.js';
import { TestClient } from './helpers/ws-client.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('Embedding', () => {
  it('hosts the WebSocket endpoint on the app\'s own HTTP server next to its routes', async () => {
    const http: Server = createServer((request, response) => {
      if (request.url === '/app') response.end('app route');
    });
    const switchyard: Switchyard = createSwitchyard({ logLevel: 'silent', demo: false, path: '/realtime' }, { server: http });
    await switchyard.listen();
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const port = (http.address() as { port: number }).port;
    try {
      expect(await (await fetch(`http://127.0.0.1:${port}/app`)).text()).toBe('app route');
      const client = await TestClient.open(`ws://127.0.0.1:${port}/realtime`);
      expect(await client.request({ type: 'echo', data: 'embedded' })).toMatchObject({ data: 'embedded' });
      await client.close();
    } finally {
      await switchyard.close();
      await new Promise((resolve) => http.close(resolve));
    }
  });

  it('emits typed events and publishes, broadcasts and sends direct messages from the app', async () => {
    server = await startServer();
    const events: string[] = [];
    server.server.on('connection', ({ clientId }) => events.push(`connection:${clientId.length}`));
    server.server.on('subscribe', (_client, channel) => events.push(`subscribe:${channel}`));
    server.server.on('publish', (channel, offset) => events.push(`publish:${channel}:${offset}`));
    server.server.on('disconnect', (_client, code) => events.push(`disconnect:${code}`));
    const client = await TestClient.open(server.wsUrl);
    await client.request({ type: 'subscribe', channel: 'app:feed' });
    await client.request({ type: 'publish', channel: 'app:feed', data: 'from client' });
    const result = await server.server.publish('app:feed', { from: 'app' }, { event: 'notice' });
    expect(result).toMatchObject({ offset: 2, duplicate: false });
    expect(await client.next((frame) => frame.type === 'message' && frame.offset === 2)).toMatchObject({ data: { from: 'app' }, event: 'notice' });
    expect(await server.server.broadcast('hello everyone')).toBe(1);
    expect(await client.next((frame) => frame.type === 'broadcast')).toMatchObject({ data: 'hello everyone' });
    await client.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toEqual(['connection:36', 'subscribe:app:feed', 'publish:app:feed:1', 'disconnect:1005']);
  });

  it('refuses app data that a subscriber could not be sent, and goes on serving', async () => {
    server = await startServer();
    const client = await TestClient.open(server.wsUrl);
    await client.request({ type: 'subscribe', channel: 'app:odd' });
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    // JSON cannot hold the first two, MessagePack the next two, and neither the last.
    for (const data of [{ big: 1n }, cycle, { tag: Symbol('x') }, { huge: 2n ** 70n }, undefined]) {
      await expect(server.server.publish('app:odd', data)).rejects.toMatchObject({ code: 'invalid_message' });
      await expect(server.server.broadcast(data)).rejects.toMatchObject({ code: 'invalid_message' });
      await expect(server.server.direct('anyone', data)).rejects.toMatchObject({ code: 'invalid_message' });
    }
    // Nothing was taken: the next publication is the channel's first, and it arrives.
    expect(await server.server.publish('app:odd', { fine: true })).toMatchObject({ offset: 1 });
    expect(await client.next((frame) => frame.type === 'message')).toMatchObject({ offset: 1, data: { fine: true } });
    await client.close();
  });

  it('refuses bad options with a TypeError naming them', () => {
    expect(() => createSwitchyard({ maxPayload: -1 })).toThrow(/maxPayload/);
    expect(() => createSwitchyard({ jwtSecret: 'a', jwksUrl: 'http://127.0.0.1/jwks' })).toThrow(/mutually exclusive/);
    expect(() => createSwitchyard({ nope: true } as never)).toThrow(/nope/);
  });
});

describe('Encodings', () => {
  it('speaks MessagePack in binary frames when switchyard.v1.msgpack is negotiated', async () => {
    server = await startServer();
    const packr = new Packr({ useRecords: false });
    const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
    const ws = new WebSocket(server.wsUrl, ['switchyard.v1.msgpack']);
    const frames: Array<Record<string, unknown>> = [];
    const binaries: boolean[] = [];
    ws.on('message', (data: Buffer, isBinary) => {
      binaries.push(isBinary);
      frames.push(unpackr.unpack(data) as Record<string, unknown>);
    });
    await new Promise<void>((resolve) => ws.on('open', () => resolve()));
    expect(ws.protocol).toBe('switchyard.v1.msgpack');
    const got = (count: number) => new Promise<void>((resolve) => {
      const check = () => (frames.length >= count ? resolve() : setTimeout(check, 5));
      check();
    });
    await got(1);
    expect(frames[0]).toMatchObject({ type: 'connection', data: { protocol: 1 } });
    ws.send(packr.pack({ type: 'subscribe', id: 1, channel: 'mp' }));
    ws.send(packr.pack({ type: 'publish', id: 2, channel: 'mp', data: { bytes: 'ok', n: 42 } }));
    await got(4);
    expect(frames.map((frame) => frame.type)).toEqual(['connection', 'subscribed', 'message', 'ack']);
    expect(frames[2]).toMatchObject({ channel: 'mp', data: { bytes: 'ok', n: 42 }, offset: 1 });
    expect(binaries.every(Boolean)).toBe(true);
    ws.send('{"type":"echo"}');
    await got(5);
    expect(frames[4]).toMatchObject({ type: 'error', data: { code: 'bad_json' } });
    ws.close();
  });

  it('JSON and MessagePack subscribers receive the same publication', async () => {
    server = await startServer();
    const json = await TestClient.open(server.wsUrl);
    await json.request({ type: 'subscribe', channel: 'mixed' });
    const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
    const ws = new WebSocket(server.wsUrl, ['switchyard.v1.msgpack']);
    const received = new Promise<Record<string, unknown>>((resolve) => {
      ws.on('message', (data: Buffer) => {
        const frame = unpackr.unpack(data) as Record<string, unknown>;
        if (frame['type'] === 'connection') ws.send(new Packr({ useRecords: false }).pack({ type: 'subscribe', id: 1, channel: 'mixed' }));
        if (frame['type'] === 'subscribed') void fetch(`${server!.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'mixed', data: [1, 2, 3] }) });
        if (frame['type'] === 'message') resolve(frame);
      });
    });
    expect(await received).toMatchObject({ data: [1, 2, 3], offset: 1 });
    expect(await json.next((frame) => frame.type === 'message')).toMatchObject({ data: [1, 2, 3], offset: 1 });
    ws.close();
    await json.close();
  });

  it('negotiates permessage-deflate when compression is on', async () => {
    server = await startServer({ compression: true, compressionThreshold: 16 });
    const client = new TestClient(server.wsUrl, { perMessageDeflate: true });
    const socket = await new Promise<Socket>((resolve) => client.ws.on('upgrade', (response) => resolve(response.socket as Socket)));
    await client.welcome;
    expect(client.ws.extensions).toContain('permessage-deflate');
    await client.request({ type: 'subscribe', channel: 'z' });
    const before = socket.bytesRead;
    await fetch(`${server.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'z', data: 'a'.repeat(5000) }) });
    expect(await client.next((frame) => frame.type === 'message')).toMatchObject({ data: 'a'.repeat(5000) });
    // 5,000 repeated characters arrive in far fewer bytes on the wire.
    expect(socket.bytesRead - before).toBeLessThan(1000);
    await client.close();
  });

  it('serves a client uncompressed when no deflate offer fits the server\'s parameters', async () => {
    server = await startServer({ compression: true });
    // No bound on the client's window; a server window under 2^13; neither.
    for (const offer of ['permessage-deflate', 'permessage-deflate; client_max_window_bits; server_max_window_bits=10', 'x-unknown; client_max_window_bits']) {
      const client = await TestClient.open(server.wsUrl, { perMessageDeflate: false, headers: { 'Sec-WebSocket-Extensions': offer } });
      expect(client.ws.extensions).toBe('');
      expect(await client.request({ type: 'echo', data: 'x'.repeat(3000) })).toMatchObject({ data: 'x'.repeat(3000) });
      await client.close();
    }
    // A later offer that fits is taken (a raw upgrade: the ws client would refuse an extension it did not configure).
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = httpRequest(server!.wsUrl.replace('ws:', 'http:'), {
        headers: {
          Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
          'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=9, permessage-deflate; client_max_window_bits',
        },
      });
      request.on('upgrade', (upgraded: IncomingMessage, socket: Socket) => {
        socket.destroy();
        resolve(upgraded);
      });
      request.on('error', reject);
      request.end();
    });
    expect(response.headers['sec-websocket-extensions']).toContain('permessage-deflate');
  });

  it('does not negotiate permessage-deflate by default', async () => {
    server = await startServer();
    const client = await TestClient.open(server.wsUrl, { perMessageDeflate: true });
    expect(client.ws.extensions).toBe('');
    await client.close();
  });
});

describe('Compression threshold', () => {
  it('gives compressing, plain and MessagePack subscribers every publication intact and in order', async () => {
    server = await startServer({ compression: true, compressionThreshold: 64 });
    const compressing = await Promise.all([1, 2, 3].map(() => TestClient.open(server!.wsUrl, { perMessageDeflate: true })));
    const plain = await TestClient.open(server.wsUrl, { perMessageDeflate: false });
    expect(compressing.map((client) => client.ws.extensions)).toEqual(['permessage-deflate', 'permessage-deflate', 'permessage-deflate']);
    expect(plain.ws.extensions).toBe('');
    const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
    const packed = new WebSocket(server.wsUrl, ['switchyard.v1.msgpack'], { perMessageDeflate: true });
    const packedData: unknown[] = [];
    const packedReady = new Promise<void>((resolve) => {
      packed.on('message', (data: Buffer) => {
        const frame = unpackr.unpack(data) as Record<string, unknown>;
        if (frame['type'] === 'connection') packed.send(new Packr({ useRecords: false }).pack({ type: 'subscribe', id: 1, channel: 'mix' }));
        if (frame['type'] === 'subscribed') resolve();
        if (frame['type'] === 'message') packedData.push(frame['data']);
      });
    });
    for (const client of [...compressing, plain]) await client.request({ type: 'subscribe', channel: 'mix' });
    await packedReady;
    // Short (left uncompressed), repetitive (compresses well) and random (does not) payloads, interleaved.
    const payloads = Array.from({ length: 60 }, (_, index) =>
      index % 3 === 0 ? `s${index}` : index % 3 === 1 ? `${index}:${'abc'.repeat(200 + index)}` : randomBytes(300 + index).toString('base64'));
    const publisher = await TestClient.open(server.wsUrl);
    for (const data of payloads) publisher.ws.send(JSON.stringify({ type: 'publish', channel: 'mix', data }));
    for (const client of [...compressing, plain]) {
      await client.next((frame) => frame.type === 'message' && frame['offset'] === payloads.length);
      expect(client.frames.filter((frame) => frame.type === 'message').map((frame) => frame['data'])).toEqual(payloads);
    }
    for (let waited = 0; packedData.length < payloads.length && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(packedData).toEqual(payloads);
    packed.close();
    await Promise.all([...compressing, plain, publisher].map((client) => client.close()));
  });


  it('leaves messages under compressionThreshold uncompressed and compresses larger ones', async () => {
    server = await startServer({ compression: true, compressionThreshold: 2000 });
    const client = new TestClient(server.wsUrl, { perMessageDeflate: true });
    const socket = await new Promise<Socket>((resolve) => client.ws.on('upgrade', (response) => resolve(response.socket as Socket)));
    await client.welcome;
    await client.request({ type: 'subscribe', channel: 't' });
    const publish = (data: string) => fetch(`${server!.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 't', data }) });
    let before = socket.bytesRead;
    await publish('b'.repeat(1000));
    await client.next((frame) => frame.type === 'message' && frame.offset === 1);
    expect(socket.bytesRead - before).toBeGreaterThan(1000);
    before = socket.bytesRead;
    await publish('c'.repeat(5000));
    await client.next((frame) => frame.type === 'message' && frame.offset === 2);
    expect(socket.bytesRead - before).toBeLessThan(1000);
    await client.close();
  });
});
