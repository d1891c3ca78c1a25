// Integration tests of the client SDK against a real Switchyard server (and tiny raw `ws` servers for misbehaviour).

import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { SignJWT } from 'jose';
import { build } from 'esbuild';
import { CloseCodes } from '@switchyard/protocol';
import { ClientError, SwitchyardClient, type ClientEvents, type ClientOptions, type SubscriptionMessage } from '@switchyard/client';
import { launchChromium } from './e2e/dashboard-page.js';
import { startServer, type TestServer } from './helpers/server.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Fast reconnects for tests; the jitter source is fixed so no test depends on luck. */
const FAST: ClientOptions = { WebSocket, reconnect: { minDelayMs: 20, maxDelayMs: 100 }, random: () => 0.5 };

function client(url: string | (() => string | Promise<string>), options: ClientOptions = {}): SwitchyardClient {
  const instance = new SwitchyardClient(url, { ...FAST, ...options });
  cleanups.push(() => instance.disconnect());
  return instance;
}

async function server(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const started = await startServer(options);
  cleanups.push(() => started.close());
  return started;
}

/** The next `event` (matching `test`) within `timeoutMs`. */
function next<K extends keyof ClientEvents>(
  target: SwitchyardClient, event: K, test: (payload: ClientEvents[K]) => boolean = () => true, timeoutMs = 5000,
): Promise<ClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no '${String(event)}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = target.on(event, (payload) => {
      if (!test(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

/** Poll `condition` every 10 ms until it holds, for at most `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function connected(target: SwitchyardClient): Promise<void> {
  if (target.state !== 'connected') await next(target, 'connected');
}

/** A raw `ws` server on a free loopback port, for behaviours a real Switchyard would not show. */
async function rawServer(onConnection: (socket: WebSocket) => void): Promise<{ url: string; connections: () => number }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  let count = 0;
  wss.on('connection', (socket) => {
    count++;
    onConnection(socket);
  });
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const socket of wss.clients) socket.terminate();
    wss.close(() => resolve());
  }));
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, connections: () => count };
}

function greeting(heartbeatMs: number): string {
  return JSON.stringify({
    type: 'connection', timestamp: Date.now(),
    data: { clientId: 'raw-1', protocol: 1, heartbeatMs, server: { name: 'raw', version: '0.0.0' } },
  });
}

describe('SwitchyardClient', () => {
  describe('connecting', () => {
    it('goes connecting → connected and exposes what the server said', async () => {
      const { wsUrl } = await server();
      const states: string[] = [];
      const sdk = new SwitchyardClient(wsUrl, { ...FAST, autoConnect: false });
      cleanups.push(() => sdk.disconnect());
      sdk.on('state', ({ oldState, newState }) => states.push(`${oldState}>${newState}`));
      expect(sdk.state).toBe('closed');
      sdk.connect();
      const event = await next(sdk, 'connected');
      expect(states).toEqual(['closed>connecting', 'connecting>connected']);
      expect(event.clientId).toBe(sdk.clientId);
      expect(sdk.clientId).toMatch(/^[0-9a-f-]{36}$/);
      expect(sdk.serverInfo?.name).toBe('switchyard');
      expect(sdk.heartbeatMs).toBe(30_000);
      expect(sdk.stats.connectedAt).toBeTypeOf('number');
      expect(sdk.stats.messagesIn).toBe(1);
      sdk.disconnect();
      expect(sdk.state).toBe('closed');
      expect(states.at(-1)).toBe('connected>closed');
    });

    it('speaks MessagePack when asked', async () => {
      const { wsUrl } = await server();
      const sdk = client(wsUrl, { encoding: 'msgpack' });
      await connected(sdk);
      expect(await sdk.echo({ bytes: [1, 2, 3], text: 'ü' })).toEqual({ bytes: [1, 2, 3], text: 'ü' });
    });

    it('reports every frame in and out', async () => {
      const { wsUrl } = await server();
      const sdk = client(wsUrl);
      const frames: Array<{ direction: string; type: unknown }> = [];
      sdk.on('frame', ({ direction, message }) => frames.push({ direction, type: (message as { type?: unknown }).type }));
      await connected(sdk);
      await sdk.echo('hi');
      expect(frames).toEqual([
        { direction: 'in', type: 'connection' },
        { direction: 'out', type: 'echo' },
        { direction: 'in', type: 'echo' },
      ]);
      expect(sdk.stats.messagesOut).toBe(1);
      expect(sdk.stats.messagesIn).toBe(2);
    });
  });

  describe('requests', () => {
    it('resolves echo, ping, publish, subscribe, unsubscribe, broadcast, history and direct', async () => {
      const { wsUrl } = await server();
      const alice = client(wsUrl);
      const bob = client(wsUrl);
      await Promise.all([connected(alice), connected(bob)]);

      expect(await alice.echo({ n: 1 })).toEqual({ n: 1 });
      const rtt = await alice.ping();
      expect(rtt).toBeTypeOf('number');
      expect(rtt).toBeGreaterThanOrEqual(0);

      const subscription = bob.subscribe('news');
      expect(bob.subscribe('news')).toBe(subscription);
      expect(bob.getSubscription('news')).toBe(subscription);
      const received: SubscriptionMessage[] = [];
      subscription.onMessage((message) => received.push(message));
      const info = await subscription.ready;
      expect(info.offset).toBe(0);
      expect(subscription.state).toBe('subscribed');

      const first = await alice.publish('news', { headline: 'one' }, { event: 'story' });
      expect(first.offset).toBe(1);
      expect(first.epoch).toBe(info.epoch);
      await alice.publish('news', { headline: 'two' });
      await until(() => received.length === 2, 'two messages');
      expect(received.map((m) => [m.offset, m.data, m.event, m.from])).toEqual([
        [1, { headline: 'one' }, 'story', alice.clientId],
        [2, { headline: 'two' }, undefined, alice.clientId],
      ]);
      expect(subscription.position).toEqual({ offset: 2, epoch: info.epoch });

      const history = await alice.history('news', { limit: 10 });
      expect(history.offset).toBe(2);
      expect(history.publications.map((p) => p.data)).toEqual([{ headline: 'one' }, { headline: 'two' }]);
      const newestFirst = await subscription.history({ limit: 1, reverse: true });
      expect(newestFirst.publications.map((p) => p.offset)).toEqual([2]);

      const broadcasts: unknown[] = [];
      bob.on('broadcast', ({ data }) => broadcasts.push(data));
      const broadcast = await alice.broadcast({ notice: 'all' });
      expect(broadcast.delivered).toBe(2);
      await until(() => broadcasts.length === 1, 'the broadcast');
      expect(broadcasts).toEqual([{ notice: 'all' }]);

      const direct = next(bob, 'direct');
      expect(await alice.direct(bob.clientId ?? '', { psst: true })).toEqual({ delivered: 1 });
      expect(await direct).toEqual({ from: alice.clientId, data: { psst: true } });

      await bob.unsubscribe('news');
      expect(subscription.state).toBe('unsubscribed');
      expect(bob.getSubscription('news')).toBeUndefined();
      await alice.publish('news', { headline: 'three' });
      expect(await bob.echo('barrier')).toBe('barrier');
      expect(received).toHaveLength(2);
    });

    it('carries a burst of publishes from one client to another in order, none lost', async () => {
      const { wsUrl } = await server({ rateLimitPerSecond: 100_000, rateLimitBurst: 100_000 });
      const publisher = client(wsUrl);
      const subscriber = client(wsUrl);
      const sub = subscriber.subscribe('burst');
      const seen: unknown[] = [];
      sub.onMessage((message) => seen.push(message.data));
      await sub.ready;
      const count = 2000;
      const acks = await Promise.all(Array.from({ length: count }, (_, i) => publisher.publish('burst', i)));
      expect(acks.map((ack) => ack.offset)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      await until(() => seen.length === count, `${count} messages`, 10_000);
      expect(seen).toEqual(Array.from({ length: count }, (_, i) => i));
    });

    it('reports presence, join and leave on a chat channel', async () => {
      const { wsUrl } = await server();
      const alice = client(wsUrl);
      const bob = client(wsUrl);
      await Promise.all([connected(alice), connected(bob)]);
      const room = alice.subscribe('chat:lobby', { info: { name: 'Alice' } });
      await room.ready;
      const joins: unknown[] = [];
      const leaves: unknown[] = [];
      room.onJoin((member) => joins.push(member));
      room.onLeave((member) => leaves.push(member));
      await bob.subscribe('chat:lobby', { info: { name: 'Bob' } }).ready;
      await until(() => joins.length === 1, 'a join');
      expect(joins).toEqual([{ clientId: bob.clientId, info: { name: 'Bob' } }]);

      const presence = await room.presence();
      expect(presence.members.map((m) => m.clientId).sort()).toEqual([alice.clientId, bob.clientId].sort());
      expect(presence.users).toEqual([]);

      await bob.unsubscribe('chat:lobby');
      await until(() => leaves.length === 1, 'a leave');
      expect(leaves).toEqual([{ clientId: bob.clientId, info: { name: 'Bob' } }]);
    });

    it('delivers ephemeral publications without treating them as gaps or duplicates', async () => {
      const { wsUrl } = await server();
      const sdk = client(wsUrl);
      const sub = sdk.subscribe('chat:typing');
      const received: SubscriptionMessage[] = [];
      sub.onMessage((message) => received.push(message));
      await sub.ready;
      await sdk.publish('chat:typing', 'one');
      await sdk.publish('chat:typing', 'typing…', { ephemeral: true });
      await sdk.publish('chat:typing', 'typing…', { ephemeral: true });
      await sdk.publish('chat:typing', 'two');
      await until(() => received.length === 4, 'four messages');
      expect(received.map((m) => [m.data, m.offset, m.ephemeral ?? false])).toEqual([
        ['one', 1, false], ['typing…', 1, true], ['typing…', 1, true], ['two', 2, false],
      ]);
      expect(sub.position?.offset).toBe(2);
    });

    it('authenticates with a token function and keeps the userId across requests', async () => {
      const secret = 'a-test-secret-that-is-long-enough-for-hs256';
      const { wsUrl } = await server({ jwtSecret: secret, auth: 'required' });
      let calls = 0;
      const token = async (): Promise<string> => {
        calls++;
        return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime('1h').sign(new TextEncoder().encode(secret));
      };
      const sdk = client(wsUrl, { token });
      // Made before the connection is up: must wait until `auth` succeeded, or `required` would refuse it.
      const sub = sdk.subscribe('room');
      const published = sdk.publish('room', 'hello');
      const event = await next(sdk, 'connected');
      expect(event.userId).toBe('alice');
      expect(sdk.userId).toBe('alice');
      expect((await published).offset).toBe(1);
      expect((await sub.ready).offset).toBeGreaterThanOrEqual(0);
      expect(calls).toBe(1);
      expect(await sdk.direct('alice', 'to myself')).toEqual({ delivered: 1 });
    });
  });

  describe('errors', () => {
    it('rejects with the protocol error code', async () => {
      const { wsUrl } = await server();
      const sdk = client(wsUrl);
      await connected(sdk);
      const invalid = await sdk.publish('bad channel!', 1).catch((error: unknown) => error);
      expect(invalid).toBeInstanceOf(ClientError);
      expect((invalid as ClientError).code).toBe('invalid_channel');
      await expect(sdk.publish('$stats', 1)).rejects.toMatchObject({ code: 'forbidden' });
      await expect(sdk.direct('nobody-at-all', 1)).rejects.toMatchObject({ code: 'not_found' });
      await expect(sdk.presence('no-presence-here')).rejects.toMatchObject({ code: 'forbidden' });
      expect(await sdk.echo('still usable')).toBe('still usable');
    });

    it('ends a subscription the server refuses', async () => {
      const { wsUrl } = await server();
      const sdk = client(wsUrl);
      const sub = sdk.subscribe('not a channel');
      const errors: ClientError[] = [];
      sub.on('error', (error) => errors.push(error));
      await expect(sub.ready).rejects.toMatchObject({ code: 'invalid_channel' });
      expect(errors.map((e) => e.code)).toEqual(['invalid_channel']);
      expect(sub.state).toBe('unsubscribed');
      expect(sdk.getSubscription('not a channel')).toBeUndefined();
    });

    it('retries a subscribe refused for a transient reason until it succeeds', async () => {
      const { wsUrl } = await server({ namespaces: { tiny: { maxSubscribers: 1 } } });
      const first = client(wsUrl);
      await first.subscribe('tiny:seat').ready;
      const second = client(wsUrl);
      const sub = second.subscribe('tiny:seat');
      const errors: string[] = [];
      sub.on('error', (error) => errors.push(error.code));
      await until(() => errors.length >= 2, 'two refusals');
      expect(sub.state).toBe('subscribing');
      expect(new Set(errors)).toEqual(new Set(['unavailable']));
      await first.unsubscribe('tiny:seat');
      expect((await sub.ready).offset).toBe(0);
      expect(sub.state).toBe('subscribed');
    });

    it('rejects with timeout when no reply comes', async () => {
      const raw = await rawServer((socket) => socket.send(greeting(30_000)));
      const sdk = client(raw.url, { requestTimeoutMs: 100 });
      await connected(sdk);
      await expect(sdk.echo('anyone?')).rejects.toMatchObject({ code: 'timeout' });
    });

    it('rejects requests with closed once disconnected', async () => {
      const { wsUrl } = await server();
      const sdk = client(wsUrl);
      await connected(sdk);
      sdk.disconnect();
      await expect(sdk.echo(1)).rejects.toMatchObject({ code: 'closed' });
    });
  });

  describe('reconnecting', () => {
    it('reconnects after a server restart on the same port, re-subscribes and reports the lost history', async () => {
      const first = await server();
      let urlCalls = 0;
      const sdk = client(() => {
        urlCalls++;
        return first.wsUrl;
      });
      let attempts = 0;
      sdk.on('reconnecting', () => attempts++);
      const sub = sdk.subscribe('feed');
      const received: SubscriptionMessage[] = [];
      sub.onMessage((message) => received.push(message));
      const before = await sub.ready;
      await first.server.publish('feed', 'before');
      await until(() => received.length === 1, 'the first publication');

      const disconnected = next(sdk, 'disconnected');
      const unrecovered = new Promise<{ reason: string }>((resolve) => sub.on('unrecovered', resolve));
      await first.close();
      expect(await disconnected).toEqual({ code: CloseCodes.GOING_AWAY, reason: 'server going away', willReconnect: true });
      expect(sdk.state).toBe('reconnecting');
      expect(sub.state).toBe('subscribing');
      // Attempts fail while nothing listens, then succeed once it is back.
      await next(sdk, 'reconnecting', ({ attempt }) => attempt >= 2);
      expect(sdk.nextReconnectAt).toBeTypeOf('number');

      const second = await server({ port: first.port });
      await next(sdk, 'connected');
      expect((await unrecovered).reason).toBe('epoch_changed');
      await until(() => sub.state === 'subscribed', 'the re-subscribe');
      expect(sub.position?.epoch).not.toBe(before.epoch);
      await second.server.publish('feed', 'after');
      await until(() => received.length === 2, 'the publication after the restart');
      expect(received.map((m) => [m.data, m.offset])).toEqual([['before', 1], ['after', 1]]);
      expect(sdk.stats.reconnects).toBe(1);
      expect(sdk.reconnectAttempts).toBe(0);
      // Once for the first connection, then once before every reconnect attempt.
      expect(attempts).toBeGreaterThanOrEqual(2);
      expect(urlCalls).toBe(1 + attempts);
    });

    it('recovers every publication missed while its connection was down, each once and in order', async () => {
      const { server: srv, wsUrl } = await server();
      const sockets: WebSocket[] = [];
      class TrackedWebSocket extends WebSocket {
        constructor(url: string, protocols?: string | string[]) {
          super(url, protocols);
          sockets.push(this);
        }
      }
      // The URL function gates the reconnect, so the publications below surely happen while it is down.
      let gate: Promise<void> = Promise.resolve();
      let open = (): void => undefined;
      const sdk = client(async () => {
        await gate;
        return wsUrl;
      }, { WebSocket: TrackedWebSocket });
      const sub = sdk.subscribe('numbers');
      const offsets: number[] = [];
      const values: unknown[] = [];
      sub.onMessage((message) => {
        offsets.push(message.offset);
        values.push(message.data);
      });
      const infos: Array<{ recovered?: boolean }> = [];
      sub.on('subscribed', (info) => infos.push(info));
      await sub.ready;
      for (let i = 1; i <= 5; i++) await srv.publish('numbers', i);
      await until(() => offsets.length === 5, 'five live messages');

      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const reconnecting = next(sdk, 'reconnecting');
      sockets.at(-1)?.terminate();
      await reconnecting;
      for (let i = 6; i <= 15; i++) await srv.publish('numbers', i);
      open();
      await next(sdk, 'connected');
      for (let i = 16; i <= 20; i++) await srv.publish('numbers', i);
      await until(() => offsets.length >= 20, 'twenty messages');
      expect(await sdk.echo('barrier')).toBe('barrier');

      expect(offsets).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(values).toEqual(offsets);
      expect(infos.map((info) => info.recovered)).toEqual([undefined, true]);
      expect(sockets).toHaveLength(2);
    });

    it('gives every subscriber each offset exactly once and in order while its connections are cut at random', async () => {
      // History deep enough that no cut outlasts it: this test is about recovery, not about trimming.
      const { server: srv, wsUrl } = await server({ namespaces: { '': { historySize: 2000 } } });
      // A seeded generator (mulberry32), so a failure can be replayed.
      let seed = 0x5eed;
      const random = (): number => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
      const subscribers = Array.from({ length: 4 }, () => {
        const sockets: WebSocket[] = [];
        class TrackedWebSocket extends WebSocket {
          constructor(url: string, protocols?: string | string[]) {
            super(url, protocols);
            sockets.push(this);
          }
        }
        const sdk = client(wsUrl, { WebSocket: TrackedWebSocket, reconnect: { minDelayMs: 5, maxDelayMs: 40 }, random });
        const offsets: number[] = [];
        const sub = sdk.subscribe('chaos');
        sub.onMessage((message) => offsets.push(message.offset));
        let unrecovered = 0;
        sub.on('unrecovered', () => unrecovered++);
        return { sdk, sub, sockets, offsets, unrecovered: () => unrecovered };
      });
      await Promise.all(subscribers.map(({ sub }) => sub.ready));

      const total = 1500;
      let cuts = 0;
      for (let n = 1; n <= total; n++) {
        await srv.publish('chaos', n);
        if (n % 25 === 0) {
          const victim = subscribers[Math.floor(random() * subscribers.length)];
          const socket = victim?.sockets.at(-1);
          if (socket !== undefined && socket.readyState === WebSocket.OPEN) {
            if (random() < 0.5) socket.terminate();
            else socket.close();
            cuts++;
          }
          // Let sockets close and reconnect while publishing goes on.
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
      await until(() => subscribers.every(({ offsets }) => offsets.length >= total), 'every subscriber to catch up', 20_000);
      const expected = Array.from({ length: total }, (_, i) => i + 1);
      let lost = 0;
      let duplicated = 0;
      let outOfOrder = 0;
      for (const { offsets } of subscribers) {
        const seen = new Set(offsets);
        lost += expected.filter((offset) => !seen.has(offset)).length;
        duplicated += offsets.length - seen.size;
        outOfOrder += offsets.filter((offset, i) => i > 0 && offset <= (offsets[i - 1] ?? 0)).length;
      }
      const reconnects = subscribers.reduce((sum, { sdk }) => sum + sdk.stats.reconnects, 0);
      console.log(`sdk chaos: ${subscribers.length} subscribers, ${total} publications, ${cuts} cuts, ${reconnects} reconnects — lost=${lost} duplicated=${duplicated} outOfOrder=${outOfOrder}`);
      expect({ lost, duplicated, outOfOrder }).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0 });
      for (const { offsets, unrecovered } of subscribers) {
        expect(offsets).toEqual(expected);
        expect(unrecovered()).toBe(0);
      }
      expect(cuts).toBeGreaterThan(10);
      expect(reconnects).toBeGreaterThan(10);
    });

    it('resumes from a position given to subscribe', async () => {
      const { server: srv, wsUrl } = await server();
      for (let i = 1; i <= 4; i++) await srv.publish('resume', i);
      const epoch = (await srv.hub.engine.position('resume')).epoch;
      const sdk = client(wsUrl);
      const sub = sdk.subscribe('resume', { since: { offset: 2, epoch } });
      const received: unknown[] = [];
      sub.onMessage((message) => received.push(message.data));
      expect((await sub.ready).recovered).toBe(true);
      await until(() => received.length === 2, 'the replay');
      expect(received).toEqual([3, 4]);
    });

    it('tries at once when connect() is called while waiting to reconnect', async () => {
      const first = await server();
      // A backoff far longer than the test: only connect() can bring it back in time.
      const sdk = client(first.wsUrl, { reconnect: { minDelayMs: 600_000, maxDelayMs: 600_000 } });
      await connected(sdk);
      const reconnecting = next(sdk, 'reconnecting');
      await first.close();
      expect(await reconnecting).toEqual({ attempt: 1, delayMs: 300_000 });
      await server({ port: first.port });
      sdk.connect();
      await next(sdk, 'connected');
      expect(sdk.stats.reconnects).toBe(1);
    });

    it('tries at once when the network comes back', async () => {
      const first = await server();
      const network = new EventTarget();
      const sdk = client(first.wsUrl, { network, reconnect: { minDelayMs: 600_000, maxDelayMs: 600_000 } });
      await connected(sdk);
      const reconnecting = next(sdk, 'reconnecting');
      await first.close();
      await reconnecting;
      await server({ port: first.port });
      const back = next(sdk, 'connected');
      network.dispatchEvent(new Event('online'));
      await back;
      expect(sdk.state).toBe('connected');
    });

    it('refreshes a token from its function before it expires', async () => {
      const secret = 'a-test-secret-that-is-long-enough-for-hs256';
      const { wsUrl } = await server({ jwtSecret: secret, auth: 'required' });
      const expiries: number[] = [];
      const asked: number[] = [];
      const token = async (): Promise<string> => {
        asked.push(Date.now());
        const exp = Math.floor(Date.now() / 1000) + 2;
        expiries.push(exp * 1000);
        return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('bob').setExpirationTime(exp).sign(new TextEncoder().encode(secret));
      };
      const sdk = client(wsUrl, { token });
      const disconnects: unknown[] = [];
      sdk.on('disconnected', (event) => disconnects.push(event));
      await connected(sdk);
      await until(() => expiries.length >= 2, 'a token refresh');
      // A token living 1–2 s is refreshed halfway through its life: well ahead of expiry, not at its last moment.
      const firstExpiry = expiries[0] ?? 0;
      expect(firstExpiry - (asked[1] ?? Infinity)).toBeGreaterThanOrEqual(250);
      // Past the first token's expiry, the server would have closed with 1008 without the refresh.
      await until(() => Date.now() > firstExpiry + 300, 'the first token to expire');
      expect(await sdk.echo('still here')).toBe('still here');
      expect(disconnects).toEqual([]);
      expect(sdk.userId).toBe('bob');
    });

    it('closes for good when the server refuses the token', async () => {
      const { wsUrl } = await server({ jwtSecret: 'a-test-secret-that-is-long-enough-for-hs256', auth: 'required' });
      const sdk = client(wsUrl, { token: 'not-a-jwt' });
      const errors: string[] = [];
      sdk.on('error', (error) => errors.push(error.code));
      const disconnected = await next(sdk, 'disconnected');
      expect(disconnected.code).toBe(CloseCodes.POLICY_VIOLATION);
      expect(disconnected.willReconnect).toBe(false);
      expect(sdk.state).toBe('closed');
      expect(errors).toEqual(['unauthorized']);
    });

    it('does not reconnect after a 45xx close', async () => {
      const raw = await rawServer((socket) => socket.close(CloseCodes.KICKED, 'kicked'));
      const sdk = client(raw.url);
      const reconnects: unknown[] = [];
      sdk.on('reconnecting', (event) => reconnects.push(event));
      const disconnected = await next(sdk, 'disconnected');
      expect(disconnected).toEqual({ code: 4500, reason: 'kicked', willReconnect: false });
      expect(sdk.state).toBe('closed');
      // Give a wrongly scheduled reconnect (20–100 ms here) ample time to show itself.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(reconnects).toEqual([]);
      expect(raw.connections()).toBe(1);
    });

    it('closes for good when the server speaks another protocol version', async () => {
      const raw = await rawServer((socket) => socket.send(greeting(30_000).replace('"protocol":1', '"protocol":2')));
      const sdk = client(raw.url);
      const errors: string[] = [];
      sdk.on('error', (error) => errors.push(error.code));
      const disconnected = await next(sdk, 'disconnected');
      expect(disconnected.code).toBe(CloseCodes.UNSUPPORTED_PROTOCOL);
      expect(disconnected.willReconnect).toBe(false);
      expect(errors).toEqual(['invalid_message']);
      expect(raw.connections()).toBe(1);
    });

    it('keeps a quiet connection to a live server open with app-level pings', async () => {
      // A period of 600 ms, not less: on a busy machine a pong may take longer than a shorter period allows.
      const { wsUrl } = await server({ heartbeatMs: 600 });
      const sdk = client(wsUrl);
      const frames: string[] = [];
      sdk.on('frame', ({ direction, message }) => frames.push(`${direction}:${String((message as { type?: unknown }).type)}`));
      const disconnects: unknown[] = [];
      sdk.on('disconnected', (event) => disconnects.push(event));
      await connected(sdk);
      // Several heartbeat periods with no traffic of our own: only the liveness pings and their pongs.
      await until(() => frames.filter((frame) => frame === 'in:pong').length >= 3, 'three pongs', 20_000);
      expect(disconnects).toEqual([]);
      expect(sdk.state).toBe('connected');
      expect(new Set(frames)).toEqual(new Set(['in:connection', 'out:ping', 'in:pong']));
    });

    it('treats a silent server as dead and reconnects', async () => {
      const pings: unknown[] = [];
      const raw = await rawServer((socket) => {
        socket.send(greeting(200));
        socket.on('message', (data) => pings.push(JSON.parse(String(data))));
      });
      const sdk = client(raw.url);
      await connected(sdk);
      expect(sdk.heartbeatMs).toBe(200);
      const disconnected = await next(sdk, 'disconnected');
      expect(disconnected.code).toBe(CloseCodes.HEARTBEAT_TIMEOUT);
      expect(disconnected.willReconnect).toBe(true);
      await until(() => raw.connections() >= 2, 'a second connection');
      // Before giving up it asked with an app-level ping (browsers cannot see protocol pings).
      expect(pings[0]).toEqual({ type: 'ping' });
    });

    it('gives up after maxAttempts', async () => {
      const raw = await rawServer((socket) => socket.close(CloseCodes.TRY_AGAIN_LATER, 'busy'));
      const sdk = client(raw.url, { reconnect: { minDelayMs: 10, maxDelayMs: 20, maxAttempts: 2 } });
      const delays: number[] = [];
      sdk.on('reconnecting', ({ delayMs }) => delays.push(delayMs));
      const final = await next(sdk, 'disconnected', ({ willReconnect }) => !willReconnect);
      expect(final.code).toBe(CloseCodes.TRY_AGAIN_LATER);
      expect(sdk.state).toBe('closed');
      expect(raw.connections()).toBe(3);
      // random() = 0.5 of a ceiling of 10 × 2^attempt, capped at 20.
      expect(delays).toEqual([5, 10]);
    });
  });

  describe('the offline queue', () => {
    /** A connected client whose server then went away: it is reconnecting, and queues what it is given. */
    async function offlineWithQueue(maxQueue: number, queuePolicy: 'drop-oldest' | 'drop-newest') {
      const first = await server();
      const sdk = client(first.wsUrl, { maxQueue, queuePolicy });
      await connected(sdk);
      await first.close();
      await until(() => sdk.state === 'reconnecting', 'reconnecting');
      const dropped: Array<{ data: unknown; reason: string }> = [];
      sdk.on('dropped', ({ message, reason }) => dropped.push({ data: (message as { data?: unknown }).data, reason }));
      return { first, sdk, dropped };
    }

    it('sends an in-flight publish again after a reconnect, and the server keeps it once', async () => {
      const sockets: WebSocket[] = [];
      class TrackedWebSocket extends WebSocket {
        constructor(url: string, protocols?: string | string[]) {
          super(url, protocols);
          sockets.push(this);
        }
      }
      let publishes = 0;
      // The first publish is accepted only after its connection died, so its ack can never arrive.
      const started = await startServer({}, {
        hooks: {
          authorize: async ({ action }) => {
            if (action !== 'publish' || ++publishes > 1) return true;
            sockets.at(-1)?.terminate();
            await new Promise((resolve) => setTimeout(resolve, 50));
            return true;
          },
        },
      });
      cleanups.push(() => started.close());
      const sdk = client(started.wsUrl, { WebSocket: TrackedWebSocket });
      await connected(sdk);
      const ack = await sdk.publish('once', 'payload');
      expect(ack.offset).toBe(1);
      expect(publishes).toBe(2);
      expect(sockets).toHaveLength(2);
      expect((await sdk.history('once')).publications.map((p) => [p.offset, p.data])).toEqual([[1, 'payload']]);
    });

    it('delivers a publish made while disconnected exactly once after the reconnect', async () => {
      const first = await server();
      const sdk = client(first.wsUrl);
      await connected(sdk);
      await first.close();
      await until(() => sdk.state === 'reconnecting', 'reconnecting');
      const queued = sdk.publish('outbox', { n: 1 });
      expect(sdk.queued).toBe(1);
      const second = await server({ port: first.port });
      const ack = await queued;
      expect(ack.offset).toBe(1);
      const history = await sdk.history('outbox');
      expect(history.publications.map((p) => p.data)).toEqual([{ n: 1 }]);
      expect(second.port).toBe(first.port);
    });

    it('refuses a volatile publish while disconnected instead of queueing it', async () => {
      const first = await server();
      const sdk = client(first.wsUrl);
      await connected(sdk);
      await first.close();
      await until(() => sdk.state === 'reconnecting', 'reconnecting');
      await expect(sdk.publish('chat:typing', 'typing…', { ephemeral: true, volatile: true })).rejects.toMatchObject({ code: 'closed' });
      expect(sdk.queued).toBe(0);
    });

    it('drops the oldest message when full, with a dropped event for each', async () => {
      const { first, sdk, dropped } = await offlineWithQueue(2, 'drop-oldest');
      const a = sdk.publish('q', 'a');
      const b = sdk.publish('q', 'b');
      const c = sdk.publish('q', 'c');
      await expect(a).rejects.toMatchObject({ code: 'queue_full' });
      expect(dropped).toEqual([{ data: 'a', reason: 'queue_full' }]);
      await server({ port: first.port });
      expect([(await b).offset, (await c).offset]).toEqual([1, 2]);
      expect((await sdk.history('q')).publications.map((p) => p.data)).toEqual(['b', 'c']);
    });

    it('refuses the newest message when full with drop-newest, and drops the rest on disconnect()', async () => {
      const { sdk, dropped } = await offlineWithQueue(1, 'drop-newest');
      const a = sdk.publish('q', 'a');
      const b = sdk.publish('q', 'b');
      await expect(b).rejects.toMatchObject({ code: 'queue_full' });
      sdk.disconnect();
      await expect(a).rejects.toMatchObject({ code: 'closed' });
      expect(dropped).toEqual([{ data: 'b', reason: 'queue_full' }, { data: 'a', reason: 'closed' }]);
    });
  });

  describe('in a browser', () => {
    it('connects, subscribes, publishes, pings and recovers after a restart in headless Chromium', async () => {
      // Bundled for the browser platform: a Node-only import in the SDK would fail this build.
      const bundle = await build({
        entryPoints: [new URL('../packages/client/src/index.ts', import.meta.url).pathname],
        bundle: true, write: false, format: 'iife', globalName: 'Switchyard', platform: 'browser',
        conditions: ['source'], logLevel: 'silent',
      });
      const first = await server({ dashboard: false });
      const browser = await launchChromium();
      cleanups.push(() => browser.close());
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(error.message));
      await page.goto(`${first.url}/health`);
      await page.addScriptTag({ content: bundle.outputFiles[0]?.text ?? '' });

      const live = await page.evaluate(async (wsUrl) => {
        const sdk = (globalThis as unknown as { Switchyard: typeof import('@switchyard/client') }).Switchyard;
        const client = new sdk.SwitchyardClient(wsUrl, { encoding: 'msgpack', reconnect: { minDelayMs: 20, maxDelayMs: 100 } });
        const events: string[] = [];
        const w = globalThis as unknown as { client: typeof client; events: string[]; received: unknown[] };
        w.client = client;
        w.events = events;
        w.received = [];
        client.on('state', ({ newState }) => events.push(newState));
        const sub = client.subscribe('browser');
        sub.onMessage((m) => w.received.push([m.offset, m.data]));
        sub.on('unrecovered', ({ reason }) => events.push(`unrecovered:${reason}`));
        await sub.ready;
        const ack = await client.publish('browser', { from: 'chromium' });
        const rtt = await client.ping();
        const echo = await client.echo(new Uint8Array([1, 2, 3]));
        return { ack: ack.offset, rtt: typeof rtt, echo: Array.from(echo as Uint8Array), state: client.state };
      }, first.wsUrl);
      expect(live).toEqual({ ack: 1, rtt: 'number', echo: [1, 2, 3], state: 'connected' });

      await first.close();
      await page.waitForFunction(() => (globalThis as unknown as { events: string[] }).events.includes('reconnecting'), undefined, { timeout: 5000 });
      const second = await server({ port: first.port, dashboard: false });
      await page.waitForFunction(() => (globalThis as unknown as { events: string[] }).events.includes('unrecovered:epoch_changed'), undefined, { timeout: 5000 });
      await page.waitForFunction(() => (globalThis as unknown as { client: { getSubscription(c: string): { state: string } | undefined } }).client.getSubscription('browser')?.state === 'subscribed', undefined, { timeout: 5000 });
      await second.server.publish('browser', 'after restart');
      await page.waitForFunction(() => (globalThis as unknown as { received: unknown[] }).received.length === 2, undefined, { timeout: 5000 });
      const after = await page.evaluate(() => {
        const w = globalThis as unknown as { client: { state: string; disconnect(): void }; events: string[]; received: unknown[] };
        w.client.disconnect();
        return { received: w.received, events: w.events, state: w.client.state };
      });
      expect(after.received).toEqual([[1, { from: 'chromium' }], [1, 'after restart']]);
      // 'connecting' happened in the constructor, before the handler was attached.
      expect(after.events).toEqual(['connected', 'reconnecting', 'connected', 'unrecovered:epoch_changed', 'closed']);
      expect(problems).toEqual([]);
    });
  });
});
