// Integration: fan-out to many subscribers, slow consumers, heartbeat and graceful shutdown.

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Unpackr, pack } from 'msgpackr';
import { FANOUT_PASS_CHANNEL, type FanOutPass } from 'switchyard';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type TestServer } from './helpers/server.js';
import { TestClient, waitFor } from './helpers/ws-client.js';

/** Two clients, both subscribed to `channel`. */
async function subscribedPair(url: string, channel: string): Promise<[TestClient, TestClient]> {
  const pair: [TestClient, TestClient] = [await TestClient.open(url), await TestClient.open(url)];
  for (const client of pair) await client.request({ type: 'subscribe', channel });
  return pair;
}

const OPCODE_CLOSE = 0x8;

/** The opcodes of the unmasked frames a server wrote, in order. */
function opcodesOf(bytes: Buffer): number[] {
  const opcodes: number[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    opcodes.push(bytes[at]! & 0x0f);
    const length = bytes[at + 1]! & 0x7f;
    if (length === 126) at += 4 + bytes.readUInt16BE(at + 2);
    else if (length === 127) at += 10 + Number(bytes.readBigUInt64BE(at + 2));
    else at += 2 + length;
  }
  return opcodes;
}

let server: TestServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A bare subscriber that only records offsets: cheap enough to run a thousand in one process. */
async function openSubscriber(url: string, channel: string, offsets: number[]): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; offset?: number };
      if (frame.type === 'connection') ws.send(JSON.stringify({ type: 'subscribe', id: 1, channel }));
      else if (frame.type === 'subscribed') resolve();
      else if (frame.type === 'message') offsets.push(frame.offset!);
    });
    ws.on('error', reject);
  });
  return ws;
}

// Frames go straight to each socket's descriptor by default (directWrites), a large pass's writes shared with a helper
// thread (parallelWritesMin; 2 here, so that every pass of these tests is shared), and through socket.write with
// direct writes off.
describe.each([
  { writes: 'written to the descriptor by one thread', directWrites: true, parallelWritesMin: 0 },
  { writes: 'written to the descriptor by two threads', directWrites: true, parallelWritesMin: 2 },
  { writes: 'written through socket.write', directWrites: false, parallelWritesMin: 0 },
])('Fan-out, $writes', ({ directWrites, parallelWritesMin }) => {
  it('delivers every publication to 1,000 subscribers, none lost, none reordered', async () => {
    server = await startServer({ maxConnectionsPerIp: 2000, directWrites, parallelWritesMin });
    const subscribers = 1000;
    const publications = 200;
    const received: number[][] = [];
    const sockets: WebSocket[] = [];
    for (let batch = 0; batch < subscribers; batch += 100) {
      const opened = await Promise.all(Array.from({ length: 100 }, () => {
        const offsets: number[] = [];
        received.push(offsets);
        return openSubscriber(server!.wsUrl, 'fan:out', offsets);
      }));
      sockets.push(...opened);
    }
    const publisher = await TestClient.open(server.wsUrl);
    // Many at once, which share ticks and leave in per-connection queues, then one at a time, each a held pass.
    const together = 150;
    const acks = await Promise.all(Array.from({ length: together }, (_, i) => publisher.request({ type: 'publish', channel: 'fan:out', data: { i, pad: 'x'.repeat(64) } })));
    for (let i = together; i < publications; i++) acks.push(await publisher.request({ type: 'publish', channel: 'fan:out', data: { i, pad: 'x'.repeat(64) } }));
    expect(acks.map((ack) => (ack.data as { offset: number }).offset)).toEqual(Array.from({ length: publications }, (_, i) => i + 1));
    // The helper thread took part in some passes, or was off.
    if (parallelWritesMin > 0) expect(server.server.stats.helperWrites).toBeGreaterThan(0);
    else expect(server.server.stats.helperWrites).toBe(0);
    await waitFor(() => received.every((offsets) => offsets.length >= publications), 30_000, 'every subscriber to receive everything');
    const expected = Array.from({ length: publications }, (_, i) => i + 1);
    const perfect = received.filter((offsets) => offsets.length === publications && offsets.every((offset, i) => offset === expected[i])).length;
    expect(perfect).toBe(subscribers);
    for (const ws of sockets) ws.terminate();
    await publisher.close();
  });

  it('closes a subscriber that stops reading with 4000 while the others keep receiving', async () => {
    server = await startServer({ sendHighWaterMark: 256 * 1024, rateLimitPerSecond: 100_000, rateLimitBurst: 100_000, directWrites, parallelWritesMin });
    const healthy: number[] = [];
    const healthySocket = await openSubscriber(server.wsUrl, 'fan:slow', healthy);
    const slow = await TestClient.open(server.wsUrl);
    await slow.request({ type: 'subscribe', channel: 'fan:slow' });
    // Stop reading: the kernel buffers fill, then the server's send buffer passes the high-water mark.
    slow.ws.pause();
    const publisher = await TestClient.open(server.wsUrl);
    const payload = 'y'.repeat(16 * 1024);
    let sent = 0;
    const slowGone = () => server!.server.stats.slowConsumers > 0;
    while (!slowGone() && sent < 2000) {
      await publisher.request({ type: 'publish', channel: 'fan:slow', data: payload });
      sent++;
    }
    expect(slowGone()).toBe(true);
    await waitFor(() => healthy.length === sent, 20_000, 'the healthy subscriber to get everything');
    expect(healthy).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
    slow.ws.resume();
    const { code } = await slow.closed;
    // The close frame may be stuck behind the unread data; then the socket is destroyed (1006).
    expect([4000, 1006]).toContain(code);
    await publisher.request({ type: 'publish', channel: 'fan:slow', data: 'after' });
    await waitFor(() => healthy.length === sent + 1, 5000, 'delivery after the cut');
    expect(server.server.stats.connections).toBe(2);
    healthySocket.terminate();
    await publisher.close();
  });
});

describe('Fan-out held to the end of the tick', () => {
  it('keeps a subscriber\'s frames in order when other frames join a fan-out in the same tick', async () => {
    server = await startServer();
    const client = await TestClient.open(server.wsUrl);
    const clientId = (await client.welcome).data as { clientId: string };
    await client.request({ type: 'subscribe', channel: 'tick:a' });
    await client.request({ type: 'subscribe', channel: 'tick:b' });
    // One synchronous block: a fan-out (held whole), a direct message to one of its subscribers, then two more fan-outs.
    const sy = server.server;
    const sent = [sy.publish('tick:a', 'first'), sy.direct(clientId.clientId, 'between'), sy.publish('tick:b', 'second'), sy.publish('tick:a', 'third')];
    await Promise.all(sent);
    await waitFor(() => client.frames.filter((frame) => frame.type === 'message' || frame.type === 'direct').length === 4, 5000, 'all four frames');
    const order = client.frames.filter((frame) => frame.type === 'message' || frame.type === 'direct').map((frame) => frame.data);
    expect(order).toEqual(['first', 'between', 'second', 'third']);
    await client.close();
  });

  it('sends a publisher subscribed to its channel each message before its ack, also for two publishes in one read', async () => {
    server = await startServer();
    const [publisher, other] = await subscribedPair(server.wsUrl, 'tick:self');
    // Both publishes leave in one TCP write, so the server reads them in one tick: the first fan-out is held, its ack
    // is queued behind it, and the second fan-out then queues the held one per connection, ahead of that ack.
    publisher.sendInOneWrite(
      { type: 'publish', channel: 'tick:self', data: 'one', id: 'p1' },
      { type: 'publish', channel: 'tick:self', data: 'two', id: 'p2' },
    );
    await publisher.next((frame) => frame.id === 'p2');
    await waitFor(() => other.messages('tick:self').length === 2, 5000, 'both messages at the other subscriber');
    const seen = publisher.frames.filter((frame) => frame.type === 'message' || frame.type === 'ack').map((frame) => `${frame.type}:${String(frame.data === 'one' || frame.data === 'two' ? frame.data : frame.id)}`);
    expect(seen).toEqual(['message:one', 'ack:p1', 'message:two', 'ack:p2']);
    expect(other.messages('tick:self').map((frame) => frame.data)).toEqual(['one', 'two']);
    await publisher.close();
    await other.close();
  });

  it('answers requests read in one tick in their order, the ack that is framed after the fan-out included', async () => {
    server = await startServer();
    const [publisher, other] = await subscribedPair(server.wsUrl, 'tick:order');
    // The ack waits unframed for the end of the tick; the echo queued after it must not overtake it.
    publisher.sendInOneWrite(
      { type: 'publish', channel: 'tick:order', data: 'one', id: 'p1' },
      { type: 'echo', data: 'after', id: 'e1' },
      { type: 'publish', channel: 'tick:order', data: 'two', id: 'p2' },
      { type: 'echo', data: 'last', id: 'e2' },
    );
    await publisher.next((frame) => frame.id === 'e2');
    const seen = publisher.frames.filter((frame) => ['message', 'ack', 'echo'].includes(frame.type)).map((frame) => (frame.type === 'message' ? `message:${String(frame.data)}` : String(frame.id)));
    expect(seen).toEqual(['message:one', 'p1', 'e1', 'message:two', 'p2', 'e2']);
    const acks = publisher.frames.filter((frame) => frame.type === 'ack').map((frame) => (frame.data as { offset: number }).offset);
    expect(acks).toEqual([1, 2]);
    await waitFor(() => other.messages('tick:order').length === 2, 5000, 'both messages at the other subscriber');
    await publisher.close();
    await other.close();
  });

  it('publishes each held pass on the diagnostics channel, and fan-outs that share a tick on none', async () => {
    server = await startServer();
    const passes: FanOutPass[] = [];
    const listener = (pass: unknown): void => {
      const seen = pass as FanOutPass;
      if (seen.message.type === 'message' && seen.message.channel === 'diag:pass') passes.push(seen);
    };
    subscribe(FANOUT_PASS_CHANNEL, listener);
    try {
      const [publisher, other] = await subscribedPair(server.wsUrl, 'diag:pass');
      await publisher.request({ type: 'publish', channel: 'diag:pass', data: 'lone' });
      await waitFor(() => other.messages('diag:pass').length === 1, 5000, 'the lone publication');
      expect(passes).toHaveLength(1);
      const [pass] = passes;
      expect(pass).toMatchObject({ subscribers: 2, deliveries: 2, message: { type: 'message', data: 'lone', offset: 1 } });
      expect(pass!.endedAt).toBeGreaterThanOrEqual(pass!.startedAt);
      expect(pass!.startedAt).toBeGreaterThan(0);
      // Two publications read in one tick are queued per connection: no pass over a held fan-out, nothing published.
      publisher.sendInOneWrite(
        { type: 'publish', channel: 'diag:pass', data: 'one', id: 'p1' },
        { type: 'publish', channel: 'diag:pass', data: 'two', id: 'p2' },
      );
      await publisher.next((frame) => frame.id === 'p2');
      await waitFor(() => other.messages('diag:pass').length === 3, 5000, 'both same-tick publications');
      expect(passes).toHaveLength(1);
      await publisher.close();
      await other.close();
    } finally {
      unsubscribe(FANOUT_PASS_CHANNEL, listener);
    }
  });

  it('delivers each of many same-tick fan-outs to every subscriber, in order, and counts each write once', async () => {
    server = await startServer({ maxConnectionsPerIp: 500 });
    const received: number[][] = [];
    const sockets: WebSocket[] = [];
    for (let index = 0; index < 200; index++) {
      const offsets: number[] = [];
      received.push(offsets);
      sockets.push(await openSubscriber(server.wsUrl, 'tick:many', offsets));
    }
    const messagesOut = async (): Promise<number> => {
      const text = await (await fetch(`${server!.url}/metrics`)).text();
      return Number(/^switchyard_messages_out_total\{type="message"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    };
    const countedBefore = await messagesOut();
    // Alternate single publications (each alone in its tick, so held and written in one pass) with bursts of five in one tick.
    let published = 0;
    for (let turn = 0; turn < 20; turn++) {
      const burst = turn % 2 === 0 ? 1 : 5;
      await Promise.all(Array.from({ length: burst }, () => server!.server.publish('tick:many', ++published)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const expected = Array.from({ length: published }, (_, i) => i + 1);
    await waitFor(() => received.every((offsets) => offsets.length === published), 10_000, 'every subscriber to get every publication');
    for (const offsets of received) expect(offsets).toEqual(expected);
    // Each write counted once, whether the fan-out was held whole or queued per connection.
    expect(await messagesOut() - countedBefore).toBe(received.length * published);
    for (const ws of sockets) ws.terminate();
  });

  it('writes a held pass to JSON, MessagePack and compressing subscribers of one channel, each in its own encoding', async () => {
    server = await startServer({ compression: true, compressionThreshold: 0 });
    const unpackr = new Unpackr({ mapsAsObjects: true });
    type Kind = 'json' | 'msgpack' | 'deflate';
    // Interleaved, so that the pass's runs by encoding and framing do not follow the order of subscription.
    const kinds: Kind[] = ['json', 'msgpack', 'deflate', 'json', 'msgpack', 'deflate', 'msgpack', 'json'];
    const received: unknown[][] = kinds.map(() => []);
    const wrongFrames: string[] = [];
    const sockets = await Promise.all(kinds.map((kind, index) => new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(server!.wsUrl, kind === 'msgpack' ? ['switchyard.v1.msgpack'] : [], { perMessageDeflate: kind === 'deflate' });
      const encode = (message: object): string | Uint8Array => (kind === 'msgpack' ? pack(message) : JSON.stringify(message));
      ws.on('message', (data, isBinary) => {
        const frame = (isBinary ? unpackr.unpack(data as Buffer) : JSON.parse(data.toString())) as { type: string; data?: unknown };
        if (frame.type === 'connection') ws.send(encode({ type: 'subscribe', id: 1, channel: 'mixed:codecs' }));
        else if (frame.type === 'subscribed') resolve(ws);
        else if (frame.type === 'message') {
          received[index]!.push(frame.data);
          if (isBinary !== (kind === 'msgpack')) wrongFrames.push(`${kind} got a ${isBinary ? 'binary' : 'text'} frame`);
        }
      });
      ws.on('error', reject);
    })));
    expect(sockets.filter((ws) => ws.extensions.includes('permessage-deflate'))).toHaveLength(2);
    const payloads = [{ n: 1, text: 'é'.repeat(40) }, { n: 2, list: [1, 2, 3] }, { n: 3, nested: { deep: true } }];
    for (const payload of payloads) {
      await server.server.publish('mixed:codecs', payload);
      // Each alone in its tick, so each is a held pass.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => received.every((messages) => messages.length === payloads.length), 5000, 'every subscriber to get every publication');
    for (const messages of received) expect(messages).toEqual(payloads);
    expect(wrongFrames).toEqual([]);
    // Compressed frames reached the two compressing subscribers only (the others would have failed on RSV1).
    expect(sockets.map((ws) => ws.readyState)).toEqual(kinds.map(() => WebSocket.OPEN));
    // A subscriber that leaves changes the channel's subscribers: the next pass goes to the seven left.
    sockets[1]!.terminate();
    const connections = async (): Promise<number> => ((await (await fetch(`${server!.url}/status`)).json()) as { connections: number }).connections;
    for (let tries = 0; tries < 100 && (await connections()) !== kinds.length - 1; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await connections()).toBe(kinds.length - 1);
    await server.server.publish('mixed:codecs', { n: 4 });
    await waitFor(() => received.every((messages, index) => index === 1 || messages.length === payloads.length + 1), 5000, 'the fourth publication');
    expect(received[1]).toEqual(payloads);
    for (const ws of sockets) ws.terminate();
  });

  it('sends a subscriber closed in the tick of a held fan-out that fan-out before its close', async () => {
    // One token a second, a burst of two, and the connection closed at the second refusal.
    server = await startServer({ rateLimitPerSecond: 1, rateLimitBurst: 2, rateLimitMaxViolations: 1 });
    const [closing, other] = await subscribedPair(server.wsUrl, 'tick:close');
    // One TCP write, so one read at the server: the publication's fan-out is held for the end of the tick, the first
    // echo is refused (an error queued behind it) and the second closes the connection within the same tick.
    closing.sendInOneWrite(
      { type: 'publish', channel: 'tick:close', data: 'before the close', id: 'p' },
      { type: 'echo', data: 'refused', id: 'e1' },
      { type: 'echo', data: 'closes', id: 'e2' },
    );
    const { code } = await closing.closed;
    expect(code).toBe(1008);
    const seen = closing.frames.filter((frame) => frame.type === 'message' || ['p', 'e1', 'e2'].includes(String(frame.id)))
      .map((frame) => frame.type === 'message' ? `message:${String(frame.data)}` : `${frame.type}:${String(frame.id)}`);
    expect(seen).toEqual(['message:before the close', 'ack:p', 'error:e1']);
    await waitFor(() => other.messages('tick:close').length === 1, 5000, 'the publication at the other subscriber');
    expect(other.messages('tick:close').map((frame) => frame.data)).toEqual(['before the close']);
    await other.close();
  });

  it('writes no data frame after its close frame when the client closes in the tick of a held fan-out', async () => {
    server = await startServer();
    const [closing, other] = await subscribedPair(server.wsUrl, 'tick:bye');
    const bytes: Buffer[] = [];
    closing.socket.on('data', (chunk: Buffer) => bytes.push(chunk));
    // One TCP write: a publication to the client's own channel, then its close frame. The server holds the fan-out
    // (and queues the ack) for the end of the tick, and ws answers the close frame at once, within that tick.
    closing.inOneWrite(() => {
      closing.send({ type: 'publish', channel: 'tick:bye', data: 'crossing the close', id: 'p' });
      closing.ws.close(1000);
    });
    expect((await closing.closed).code).toBe(1000);
    // RFC 6455 §5.5.1: after its close frame an endpoint sends no data frame.
    expect(opcodesOf(Buffer.concat(bytes))).toEqual([OPCODE_CLOSE]);
    await waitFor(() => other.messages('tick:bye').length === 1, 5000, 'the publication at the other subscriber');
    expect(other.messages('tick:bye').map((frame) => frame.data)).toEqual(['crossing the close']);
    await other.close();
  });

  it('sends a fan-out published just before a graceful shutdown ahead of the 1001 close', async () => {
    server = await startServer();
    const client = await TestClient.open(server.wsUrl);
    await client.request({ type: 'subscribe', channel: 'tick:last' });
    void server.server.publish('tick:last', 'last words');
    const closing = server.close();
    server = undefined;
    const { code } = await client.closed;
    await closing;
    expect(code).toBe(1001);
    expect(client.frames.filter((frame) => frame.type === 'message').map((frame) => frame.data)).toEqual(['last words']);
  });
});

describe('Heartbeat', () => {
  it('terminates a peer that does not answer protocol pings', async () => {
    server = await startServer({ heartbeatMs: 150 });
    const dead = await TestClient.open(server.wsUrl, { autoPong: false });
    const alive = await TestClient.open(server.wsUrl);
    const { code } = await dead.closed;
    expect(code).toBe(1006);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await alive.request({ type: 'echo', data: 'alive' })).toMatchObject({ data: 'alive' });
    await alive.close();
  });

  it('counts any frame from the peer as an answer', async () => {
    // A period of 600 ms: a busy machine can hold a 150 ms one's echo back past the period.
    server = await startServer({ heartbeatMs: 600 });
    const chatty = await TestClient.open(server.wsUrl, { autoPong: false });
    let closed = false;
    void chatty.closed.then(() => {
      closed = true;
    });
    // Three heartbeat periods or more with no pong, but an echo every 50 ms.
    for (let round = 0; round < 40 && !closed; round++) {
      expect(await chatty.request({ type: 'echo', data: round })).toMatchObject({ data: round });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(closed).toBe(false);
    await chatty.close();
  });

  it('spreads the pings of one period over it, and still checks every peer once a period', async () => {
    // 1 s is four slots of 250 ms: eight peers fall two to a slot, so their pings come at four moments.
    server = await startServer({ heartbeatMs: 1000 });
    const peers = await Promise.all(Array.from({ length: 8 }, () => TestClient.open(server!.wsUrl)));
    const dead = await TestClient.open(server.wsUrl, { autoPong: false });
    const start = Date.now();
    const pings = peers.map((peer) => {
      const times: number[] = [];
      peer.ws.on('ping', () => times.push(Date.now() - start));
      return times;
    });
    expect((await dead.closed).code).toBe(1006);
    await new Promise((resolve) => setTimeout(resolve, 2600 - (Date.now() - start)));
    for (const times of pings) expect(times.length).toBeGreaterThanOrEqual(2);
    const first = pings.map((times) => times[0]!).sort((a, b) => a - b);
    // Moments more than 100 ms apart: all in one sweep would be one moment.
    const moments = first.filter((time, index) => index === 0 || time - first[index - 1]! > 100).length;
    expect(moments).toBeGreaterThanOrEqual(3);
    for (const peer of peers) expect(await peer.request({ type: 'echo', data: 'alive' })).toMatchObject({ data: 'alive' });
    await Promise.all(peers.map((peer) => peer.close()));
  });
});

describe('Graceful shutdown', () => {
  it('closes every client with 1001 and refuses new connections', async () => {
    server = await startServer();
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.open(server!.wsUrl)));
    const closing = server.close();
    const codes = await Promise.all(clients.map(async (client) => (await client.closed).code));
    await closing;
    expect(codes).toEqual([1001, 1001, 1001]);
    const late = new WebSocket(server.wsUrl);
    const failed = await new Promise<boolean>((resolve) => {
      late.on('error', () => resolve(true));
      late.on('open', () => resolve(false));
    });
    expect(failed).toBe(true);
    server = undefined;
  });
});
