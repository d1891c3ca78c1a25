// Hostile clients vs limits: floods, connection caps, origins, slowloris, oversized and deep messages, TLS.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type TestServer } from '../helpers/server.js';
import { TestClient, waitFor } from '../helpers/ws-client.js';

let server: TestServer | undefined;

afterEach(async () => {
  if (server !== undefined) {
    // After every hostile test the server still serves a normal client correctly.
    const normal = await TestClient.open(server.wsUrl, { localAddress: '127.0.0.9' });
    expect(await normal.request({ type: 'echo', data: 'normal' })).toMatchObject({ type: 'echo', data: 'normal' });
    await normal.close();
    await server.close();
    server = undefined;
  }
});

function handshakeStatus(url: string, options: WebSocket.ClientOptions = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, options);
    ws.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', () => resolve(0));
  });
}

describe('Security › rate limiting', () => {
  it('a flood from one connection is rate limited while a well-behaved client keeps being served', async () => {
    server = await startServer({ rateLimitPerSecond: 50, rateLimitBurst: 20, rateLimitMaxViolations: 100_000 });
    const flooder = await TestClient.open(server.wsUrl);
    const polite = await TestClient.open(server.wsUrl);
    const flood = 2000;
    for (let i = 0; i < flood; i++) flooder.send({ type: 'echo', id: `f${i}`, data: i });
    const limited = await flooder.next((frame) => frame.type === 'error');
    expect(limited.data).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      expect(await polite.request({ type: 'ping', data: i })).toMatchObject({ type: 'pong', data: i });
      latencies.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await waitFor(() => flooder.frames.filter((frame) => String(frame.id).startsWith('f')).length === flood, 10_000, 'every flood message answered');
    const refused = flooder.frames.filter((frame) => frame.type === 'error' && (frame.data as { code: string }).code === 'rate_limited').length;
    console.log(`flood: ${flood} sent, ${flood - refused} served, ${refused} rate_limited; polite ping p50 ${latencies.sort((a, b) => a - b)[5]!.toFixed(2)} ms`);
    expect(refused).toBeGreaterThan(flood / 2);
    expect(polite.frames.some((frame) => frame.type === 'error')).toBe(false);
    await Promise.all([flooder.close(), polite.close()]);
  });

  it('lets a burst through whole, then refuses with the wait for the next token, and refills at the rate', async () => {
    // One token a second, so that the whole burst arrives well within one interval even on a busy machine.
    server = await startServer({ rateLimitPerSecond: 1, rateLimitBurst: 3, rateLimitMaxViolations: 100 });
    const client = await TestClient.open(server.wsUrl);
    for (let i = 0; i < 5; i++) client.send({ type: 'echo', id: `b${i}`, data: i });
    await waitFor(() => client.frames.filter((frame) => String(frame.id).startsWith('b')).length === 5, 5000, 'the burst answered');
    const answers = client.frames.filter((frame) => String(frame.id).startsWith('b'));
    expect(answers.map((frame) => frame.type)).toEqual(['echo', 'echo', 'echo', 'error', 'error']);
    for (const refused of answers.slice(3)) {
      const wait = (refused.data as { retryAfterMs: number }).retryAfterMs;
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(1000);
    }
    // After the wait it names, exactly one token has come back.
    await new Promise((resolve) => setTimeout(resolve, (answers[4]!.data as { retryAfterMs: number }).retryAfterMs + 20));
    client.send({ type: 'echo', id: 'after1', data: 1 });
    client.send({ type: 'echo', id: 'after2', data: 2 });
    expect(await client.next((frame) => frame.id === 'after1')).toMatchObject({ type: 'echo' });
    expect(await client.next((frame) => frame.id === 'after2')).toMatchObject({ type: 'error', data: { code: 'rate_limited' } });
    await client.close();
  });

  it('sustained abuse closes the connection with 1008', async () => {
    server = await startServer({ rateLimitPerSecond: 10, rateLimitBurst: 5, rateLimitMaxViolations: 50 });
    const flooder = await TestClient.open(server.wsUrl);
    for (let i = 0; i < 500 && flooder.ws.readyState === WebSocket.OPEN; i++) flooder.send({ type: 'echo', data: i });
    expect(await flooder.closed).toEqual({ code: 1008, reason: 'rate limit exceeded' });
  });

  it('subscriptions per connection are capped', async () => {
    server = await startServer({ maxSubscriptionsPerConnection: 3 });
    const client = await TestClient.open(server.wsUrl);
    for (const channel of ['a', 'b', 'c']) expect(await client.request({ type: 'subscribe', channel })).toMatchObject({ type: 'subscribed' });
    expect(await client.request({ type: 'subscribe', channel: 'd' })).toMatchObject({ type: 'error', data: { code: 'forbidden' } });
    await client.close();
  });

  it('channel names over maxChannelLength get invalid_channel', async () => {
    server = await startServer({ maxChannelLength: 16 });
    const client = await TestClient.open(server.wsUrl);
    expect(await client.request({ type: 'subscribe', channel: 'x'.repeat(17) })).toMatchObject({ type: 'error', data: { code: 'invalid_channel' } });
    expect(await client.request({ type: 'subscribe', channel: 'x'.repeat(16) })).toMatchObject({ type: 'subscribed' });
    await client.close();
  });

  it('oversized presence info is refused', async () => {
    server = await startServer({ maxPresenceInfoBytes: 64 });
    const client = await TestClient.open(server.wsUrl);
    expect(await client.request({ type: 'subscribe', channel: 'chat:x', info: { name: 'n'.repeat(100) } })).toMatchObject({ type: 'error', data: { code: 'invalid_message' } });
    await client.close();
  });

  it('deeply nested and oversized messages are refused without harm', async () => {
    server = await startServer({ maxPayload: 16 * 1024, maxJsonDepth: 8 });
    const client = await TestClient.open(server.wsUrl);
    client.send(`{"type":"echo","id":"deep","data":${'['.repeat(5000)}${']'.repeat(5000)}}`);
    expect(await client.next((frame) => frame.id === 'deep')).toMatchObject({ type: 'error', data: { code: 'invalid_message' } });
    client.send({ type: 'echo', data: 'x'.repeat(20_000) });
    expect((await client.closed).code).toBe(1009);
  });
});

describe('Security › connection limits', () => {
  it('connections from one IP over the limit get HTTP 429; other addresses are still served', async () => {
    server = await startServer({ maxConnectionsPerIp: 3 });
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.open(server!.wsUrl, { localAddress: '127.0.0.2' })));
    expect(await handshakeStatus(server.wsUrl, { localAddress: '127.0.0.2' })).toBe(429);
    const other = await TestClient.open(server.wsUrl, { localAddress: '127.0.0.3' });
    await clients[0]!.close();
    await waitFor(() => server!.server.stats.connections === 3, 5000, 'the close to be seen');
    expect(await handshakeStatus(server.wsUrl, { localAddress: '127.0.0.2' })).toBe(101);
    await Promise.all([...clients.slice(1), other].map((client) => client.close()));
  });

  it('behind a trusted proxy, the limit counts the forwarded client address; a forged header from elsewhere is ignored', async () => {
    // 127.0.0.2 plays the proxy; 127.0.0.3 is a client that forges X-Forwarded-For.
    server = await startServer({ maxConnectionsPerIp: 2, trustedProxies: ['127.0.0.2'] });
    const addresses: string[] = [];
    server.server.on('connection', (client) => addresses.push(client.remoteAddress));
    const viaProxy = (forwardedFor: string) => ({ localAddress: '127.0.0.2', headers: { 'X-Forwarded-For': forwardedFor } });
    const first = await Promise.all([1, 2].map(() => TestClient.open(server!.wsUrl, viaProxy('203.0.113.7'))));
    expect(await handshakeStatus(server.wsUrl, viaProxy('203.0.113.7'))).toBe(429);
    const second = await TestClient.open(server.wsUrl, viaProxy('198.51.100.1, 203.0.113.8'));
    expect(addresses).toEqual(['203.0.113.7', '203.0.113.7', '203.0.113.8']);
    const forged = (n: number) => ({ localAddress: '127.0.0.3', headers: { 'X-Forwarded-For': `203.0.113.${100 + n}` } });
    const forgers = await Promise.all([1, 2].map((n) => TestClient.open(server!.wsUrl, forged(n))));
    expect(await handshakeStatus(server.wsUrl, forged(3))).toBe(429);
    expect(addresses.slice(3)).toEqual(['127.0.0.3', '127.0.0.3']);
    await Promise.all([...first, second, ...forgers].map((client) => client.close()));
  });

  it('connections over the total limit get HTTP 503', async () => {
    server = await startServer({ maxConnections: 2 });
    const clients = await Promise.all([2, 3].map((n) => TestClient.open(server!.wsUrl, { localAddress: `127.0.0.${n}` })));
    expect(await handshakeStatus(server.wsUrl, { localAddress: '127.0.0.4' })).toBe(503);
    await Promise.all(clients.map((client) => client.close()));
    await waitFor(() => server!.server.stats.connections === 0, 5000, 'closes');
  });
});

describe('Security › origins and CORS', () => {
  it('upgrades from origins not allowed get HTTP 403; allowed and absent origins pass', async () => {
    server = await startServer({ allowedOrigins: ['https://app.example'] });
    expect(await handshakeStatus(server.wsUrl, { origin: 'https://evil.example' })).toBe(403);
    expect(await handshakeStatus(server.wsUrl, { origin: 'https://app.example' })).toBe(101);
    expect(await handshakeStatus(server.wsUrl)).toBe(101);
  });

  it('the HTTP API sends CORS headers only for allowed origins', async () => {
    server = await startServer({ allowedOrigins: ['https://app.example'] });
    const allowed = await fetch(`${server.url}/status`, { headers: { origin: 'https://app.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const refused = await fetch(`${server.url}/status`, { headers: { origin: 'https://evil.example' } });
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('Security › slowloris', () => {
  it('a client sending its upgrade headers one byte at a time is dropped', async () => {
    server = await startServer({ handshakeTimeoutMs: 500 });
    const request = `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Padding: ${'p'.repeat(200)}\r\n\r\n`;
    const socket: Socket = connect(server.port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    let sent = 0;
    // Each byte 50 ms apart: the whole request would take ~15 s; the server must cut it off long before.
    while (sent < request.length && !socket.destroyed) {
      socket.write(request[sent]!);
      sent++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await closed;
    expect(sent).toBeLessThan(request.length);
  }, 30_000);
});

describe('Security › TLS', () => {
  it('serves https and wss on the same port with a self-signed certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const ca = readFileSync(cert);
    const tls = await startServer({ tlsCert: cert, tlsKey: key });
    try {
      expect(tls.url.startsWith('https://')).toBe(true);
      const status = await new Promise<number>((resolve, reject) => {
        httpsRequest(`${tls.url}/status`, { ca }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        }).on('error', reject).end();
      });
      expect(status).toBe(200);
      expect(tls.wsUrl.startsWith('wss://')).toBe(true);
      const client = await TestClient.open(tls.wsUrl, { ca });
      expect(await client.request({ type: 'echo', data: 'secure' })).toMatchObject({ data: 'secure' });
      await client.close();
      expect(await handshakeStatus(tls.wsUrl.replace('wss://', 'ws://'))).not.toBe(101);
    } finally {
      await tls.close();
    }
  });
});
