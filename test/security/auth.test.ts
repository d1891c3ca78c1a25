// Hostile clients vs authentication and permissions: forged, expired, alg:none and wrong-key tokens,
// auth timeout, refresh, anonymous access, channel permissions, API keys.

import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type TestServer } from '../helpers/server.js';
import { TestClient } from '../helpers/ws-client.js';

const SECRET = 'test-secret-that-is-long-enough-for-hs256';
let server: TestServer | undefined;

afterEach(async () => {
  if (server !== undefined) {
    // After every hostile test the server still serves a normal client correctly.
    const { jwtSecret, jwtAudience, jwtIssuer } = server.server.options;
    const claims: JWTPayload = { sub: 'normal-user', ...(jwtAudience ? { aud: jwtAudience } : {}), ...(jwtIssuer ? { iss: jwtIssuer } : {}) };
    const token = jwtSecret === SECRET ? `?token=${await hs256(claims)}` : '';
    const normal = await TestClient.open(`${server.wsUrl}${token}`);
    expect(await normal.request({ type: 'echo', data: 'normal' })).toMatchObject({ type: 'echo', data: 'normal' });
    await normal.close();
    await server.close();
    server = undefined;
  }
});

function hs256(claims: JWTPayload, options: { expiresIn?: string | number; secret?: string } = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (options.expiresIn !== undefined) jwt.setExpirationTime(options.expiresIn);
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
}

function unsignedToken(claims: JWTPayload): string {
  const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`;
}

function handshakeStatus(url: string, options: WebSocket.ClientOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', (error) => {
      if (!String(error).includes('Unexpected server response')) reject(error);
    });
  });
}

describe('Security › tokens at the handshake', () => {
  it('a valid token in ?token= puts userId in the welcome', async () => {
    server = await startServer({ jwtSecret: SECRET });
    const token = await hs256({ sub: 'alice' }, { expiresIn: '1h' });
    const client = await TestClient.open(`${server.wsUrl}?token=${token}`);
    expect((await client.welcome).data).toMatchObject({ userId: 'alice', expiresAt: expect.any(Number) });
    await client.close();
  });

  it('a valid token in Authorization: Bearer is accepted too', async () => {
    server = await startServer({ jwtSecret: SECRET });
    const token = await hs256({ sub: 'bob' });
    const client = await TestClient.open(server.wsUrl, { headers: { authorization: `Bearer ${token}` } });
    expect(((await client.welcome).data as { userId: string }).userId).toBe('bob');
    await client.close();
  });

  it.each([
    ['forged (wrong secret)', () => hs256({ sub: 'mallory' }, { secret: 'another-secret-another-secret-another' })],
    ['expired', () => hs256({ sub: 'alice' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 })],
    ['alg: none', async () => unsignedToken({ sub: 'alice' })],
    ['garbage', async () => 'not.a.token'],
    ['without sub', () => hs256({ name: 'nobody' })],
  ])('a %s token is refused at the handshake with HTTP 401', async (_name, makeToken) => {
    server = await startServer({ jwtSecret: SECRET });
    expect(await handshakeStatus(`${server.wsUrl}?token=${encodeURIComponent(await makeToken())}`)).toBe(401);
  });

  it('wrong audience or issuer is refused when configured', async () => {
    server = await startServer({ jwtSecret: SECRET, jwtAudience: 'switchyard', jwtIssuer: 'https://issuer.test' });
    const wrongAudience = await new SignJWT({ sub: 'a' }).setProtectedHeader({ alg: 'HS256' }).setAudience('other').setIssuer('https://issuer.test').sign(new TextEncoder().encode(SECRET));
    const wrongIssuer = await new SignJWT({ sub: 'a' }).setProtectedHeader({ alg: 'HS256' }).setAudience('switchyard').setIssuer('https://evil.test').sign(new TextEncoder().encode(SECRET));
    const right = await new SignJWT({ sub: 'a' }).setProtectedHeader({ alg: 'HS256' }).setAudience('switchyard').setIssuer('https://issuer.test').sign(new TextEncoder().encode(SECRET));
    expect(await handshakeStatus(`${server.wsUrl}?token=${wrongAudience}`)).toBe(401);
    expect(await handshakeStatus(`${server.wsUrl}?token=${wrongIssuer}`)).toBe(401);
    expect(await handshakeStatus(`${server.wsUrl}?token=${right}`)).toBe(101);
  });

  it('RS256 and ES256 tokens verify against a public key file; a token signed by another key is refused', async () => {
    for (const alg of ['RS256', 'ES256'] as const) {
      const { publicKey, privateKey } = await generateKeyPair(alg);
      const other = await generateKeyPair(alg);
      const dir = mkdtempSync(join(tmpdir(), 'switchyard-keys-'));
      const file = join(dir, 'public.pem');
      writeFileSync(file, await exportSPKI(publicKey));
      server = await startServer({ jwtPublicKeyFile: file });
      const good = await new SignJWT({ sub: `user-${alg}` }).setProtectedHeader({ alg }).sign(privateKey);
      const bad = await new SignJWT({ sub: `user-${alg}` }).setProtectedHeader({ alg }).sign(other.privateKey);
      const hsForgery = await hs256({ sub: 'x' }, { secret: await exportSPKI(publicKey) });
      const client = await TestClient.open(`${server.wsUrl}?token=${good}`);
      expect(((await client.welcome).data as { userId: string }).userId).toBe(`user-${alg}`);
      await client.close();
      expect(await handshakeStatus(`${server.wsUrl}?token=${bad}`)).toBe(401);
      expect(await handshakeStatus(`${server.wsUrl}?token=${hsForgery}`)).toBe(401);
      await server.close();
      server = undefined;
    }
  });

  it('tokens verify against a JWKS URL', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const jwks: Server = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const address = jwks.address() as { port: number };
    try {
      server = await startServer({ jwksUrl: `http://127.0.0.1:${address.port}/jwks.json` });
      const token = await new SignJWT({ sub: 'jwks-user' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
      const client = await TestClient.open(`${server.wsUrl}?token=${token}`);
      expect(((await client.welcome).data as { userId: string }).userId).toBe('jwks-user');
      await client.close();
    } finally {
      jwks.close();
    }
  });
});

describe('Security › the auth message', () => {
  it('authenticates after connecting and answers userId and expiresAt', async () => {
    server = await startServer({ jwtSecret: SECRET, auth: 'required' });
    const client = await TestClient.open(server.wsUrl);
    expect(((await client.welcome).data as { userId?: string }).userId).toBeUndefined();
    expect(await client.request({ type: 'subscribe', channel: 'news' })).toMatchObject({ type: 'error', data: { code: 'unauthorized' } });
    const token = await hs256({ sub: 'carol' }, { expiresIn: '1h' });
    const reply = await client.request({ type: 'auth', data: { token } });
    expect(reply).toMatchObject({ type: 'authenticated', data: { userId: 'carol', expiresAt: expect.any(Number) } });
    expect(await client.request({ type: 'subscribe', channel: 'news' })).toMatchObject({ type: 'subscribed' });
    await client.close();
  });

  it('a failed auth gets unauthorized and a close with 1008', async () => {
    server = await startServer({ jwtSecret: SECRET, auth: 'required' });
    const client = await TestClient.open(server.wsUrl);
    const reply = await client.request({ type: 'auth', data: { token: unsignedToken({ sub: 'x' }) } });
    expect(reply).toMatchObject({ type: 'error', data: { code: 'unauthorized' } });
    const closed = await client.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason.length).toBeGreaterThan(0);
  });

  it('a connection that never authenticates is closed with 1008 after authTimeoutMs', async () => {
    server = await startServer({ jwtSecret: SECRET, auth: 'required', authTimeoutMs: 300 });
    const client = await TestClient.open(server.wsUrl);
    expect(await client.closed).toEqual({ code: 1008, reason: 'authentication timeout' });
  });

  it('an expired token closes the connection with 1008; a fresh auth before expiry keeps it open', async () => {
    server = await startServer({ jwtSecret: SECRET });
    const soon = Math.floor(Date.now() / 1000) + 2;
    const expiring = await TestClient.open(`${server.wsUrl}?token=${await hs256({ sub: 'dave' }, { expiresIn: soon })}`);
    const refreshed = await TestClient.open(`${server.wsUrl}?token=${await hs256({ sub: 'erin' }, { expiresIn: soon })}`);
    expect(await refreshed.request({ type: 'auth', data: { token: await hs256({ sub: 'erin' }, { expiresIn: '1h' }) } })).toMatchObject({ type: 'authenticated' });
    expect(await expiring.closed).toEqual({ code: 1008, reason: 'token expired' });
    expect(await refreshed.request({ type: 'echo', data: 'still' })).toMatchObject({ data: 'still' });
    expect(await refreshed.request({ type: 'auth', data: { token: await hs256({ sub: 'someone-else' }, { expiresIn: '1h' }) } })).toMatchObject({ type: 'error', data: { code: 'conflict' } });
    await refreshed.close();
  });
});

describe('Security › permissions', () => {
  it('anonymous clients are refused where a secret is configured, unless the namespace allows them', async () => {
    server = await startServer({ jwtSecret: SECRET, namespaces: { public: { anonymous: true } } });
    const client = await TestClient.open(server.wsUrl);
    expect(await client.request({ type: 'subscribe', channel: 'private:x' })).toMatchObject({ type: 'error', data: { code: 'unauthorized' } });
    expect(await client.request({ type: 'publish', channel: 'private:x', data: 1 })).toMatchObject({ type: 'error', data: { code: 'unauthorized' } });
    expect(await client.request({ type: 'subscribe', channel: 'public:x' })).toMatchObject({ type: 'subscribed' });
    expect(await client.request({ type: 'direct', to: 'anyone', data: 1 })).toMatchObject({ type: 'error', data: { code: 'unauthorized' } });
    await client.close();
  });

  it('the channels claim limits subscribe and publish; refusals are forbidden and the connection stays open', async () => {
    server = await startServer({ jwtSecret: SECRET });
    const token = await hs256({ sub: 'frank', channels: { subscribe: ['chat:*', 'news'], publish: ['chat:lobby'] } });
    const client = await TestClient.open(`${server.wsUrl}?token=${token}`);
    expect(await client.request({ type: 'subscribe', channel: 'chat:general' })).toMatchObject({ type: 'subscribed' });
    expect(await client.request({ type: 'subscribe', channel: 'news' })).toMatchObject({ type: 'subscribed' });
    expect(await client.request({ type: 'subscribe', channel: 'admin:ops' })).toMatchObject({ type: 'error', data: { code: 'forbidden' } });
    expect(await client.request({ type: 'history', channel: 'admin:ops' })).toMatchObject({ type: 'error', data: { code: 'forbidden' } });
    expect(await client.request({ type: 'publish', channel: 'chat:general', data: 1 })).toMatchObject({ type: 'error', data: { code: 'forbidden' } });
    expect(await client.request({ type: 'publish', channel: 'chat:lobby', data: 1 })).toMatchObject({ type: 'ack' });
    expect(await client.request({ type: 'broadcast', data: 1 })).toMatchObject({ type: 'error', data: { code: 'forbidden' } });
    await client.close();
    const admin = await TestClient.open(`${server.wsUrl}?token=${await hs256({ sub: 'root', broadcast: true })}`);
    expect(await admin.request({ type: 'broadcast', data: 1 })).toMatchObject({ type: 'ack' });
    await admin.close();
  });

  it('--auth required refuses anonymous use even in anonymous namespaces', async () => {
    server = await startServer({ jwtSecret: SECRET, auth: 'required', namespaces: { public: { anonymous: true } } });
    const client = await TestClient.open(server.wsUrl);
    expect(await client.request({ type: 'subscribe', channel: 'public:x' })).toMatchObject({ type: 'error', data: { code: 'unauthorized' } });
    await client.close();
  });

  it('an authorize hook can refuse requests', async () => {
    server = await startServer({}, { hooks: { authorize: ({ action, channel }) => !(action === 'subscribe' && channel === 'vault') } });
    const client = await TestClient.open(server.wsUrl);
    expect(await client.request({ type: 'subscribe', channel: 'vault' })).toMatchObject({ type: 'error', data: { code: 'forbidden' } });
    expect(await client.request({ type: 'subscribe', channel: 'lobby' })).toMatchObject({ type: 'subscribed' });
    await client.close();
  });
});

describe('Security › HTTP API keys', () => {
  it('writing routes need the API key; a wrong or missing key gets 401', async () => {
    server = await startServer({ apiKey: 'k3y-for-tests' });
    const body = JSON.stringify({ channel: 'a', data: 1 });
    const headers = { 'content-type': 'application/json' };
    expect((await fetch(`${server.url}/publish`, { method: 'POST', headers, body })).status).toBe(401);
    const wrong = await fetch(`${server.url}/publish`, { method: 'POST', headers: { ...headers, authorization: 'Bearer nope' }, body });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { code: 'unauthorized' } });
    expect((await fetch(`${server.url}/broadcast`, { method: 'POST', headers: { ...headers, authorization: 'Bearer k3y-for-tests-and-more' }, body: '{"data":1}' })).status).toBe(401);
    expect((await fetch(`${server.url}/publish`, { method: 'POST', headers: { ...headers, authorization: 'Bearer k3y-for-tests' }, body })).status).toBe(200);
    expect((await fetch(`${server.url}/status`)).status).toBe(200);
  });

  it('protectReadRoutes puts /status and /metrics behind the key too', async () => {
    server = await startServer({ apiKey: 'k3y', protectReadRoutes: true });
    expect((await fetch(`${server.url}/status`)).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}/status`, { headers: { authorization: 'Bearer k3y' } })).status).toBe(200);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});
