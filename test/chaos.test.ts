// Chaos: subscribers cut at random (close and TCP reset) while HTTP and WebSocket publishers send
// thousands of numbered messages; every subscriber must end with every offset exactly once, in order.

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type TestServer } from './helpers/server.js';
import { TestClient, waitFor } from './helpers/ws-client.js';

const CHANNEL = 'chaos:stream';
const WS_PUBLISHERS = 2;
const PER_PUBLISHER = 1000;
const HTTP_PUBLICATIONS = 1000;
const TOTAL = WS_PUBLISHERS * PER_PUBLISHER + HTTP_PUBLICATIONS;
const SUBSCRIBERS = 8;

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ rateLimitPerSecond: 1_000_000, rateLimitBurst: 1_000_000, namespaces: { chaos: { historySize: TOTAL } } });
});
afterAll(async () => {
  await server.close();
});

/** A subscriber that reconnects after every cut and resubscribes with `since` its last position. */
class ResilientSubscriber {
  readonly received: number[] = [];
  position: { offset: number; epoch: string } | undefined;
  cuts = 0;
  unrecovered = 0;
  #ws: WebSocket | undefined;
  #socket: Socket | undefined;
  #stopped = false;

  constructor(readonly url: string) {}

  start(): Promise<void> {
    return new Promise((resolve) => this.#connect(resolve));
  }

  #connect(onSubscribed?: () => void): void {
    if (this.#stopped) return;
    const ws = new WebSocket(this.url);
    this.#ws = ws;
    ws.on('upgrade', (response: IncomingMessage) => {
      this.#socket = response.socket as Socket;
    });
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; offset: number; epoch: string; data: { offset: number; epoch: string; recovered?: boolean } };
      if (frame.type === 'connection') {
        ws.send(JSON.stringify({ type: 'subscribe', id: 1, channel: CHANNEL, ...(this.position ? { since: this.position } : {}) }));
      } else if (frame.type === 'subscribed') {
        if (this.position !== undefined && frame.data.recovered !== true) this.unrecovered++;
        if (this.position === undefined) this.position = { offset: frame.data.offset, epoch: frame.data.epoch };
        onSubscribed?.();
      } else if (frame.type === 'message') {
        this.received.push(frame.offset);
        this.position = { offset: frame.offset, epoch: frame.epoch };
      }
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (!this.#stopped) setTimeout(() => this.#connect(), Math.floor(Math.random() * 30));
    });
  }

  /** Cut the connection: a clean close, or an abrupt TCP reset. */
  cut(): void {
    if (this.#ws?.readyState !== WebSocket.OPEN) return;
    this.cuts++;
    if (Math.random() < 0.5) this.#ws.close();
    else this.#socket?.resetAndDestroy();
  }

  stop(): void {
    this.#stopped = true;
    this.#ws?.terminate();
  }
}

it('Chaos › every subscriber ends with every offset exactly once and in order (lost = 0, duplicated = 0, out of order = 0)', async () => {
  const subscribers = Array.from({ length: SUBSCRIBERS }, () => new ResilientSubscriber(server.wsUrl));
  await Promise.all(subscribers.map((subscriber) => subscriber.start()));
  const startOffset = subscribers[0]!.position!.offset;

  let publishing = true;
  const chaos = (async () => {
    while (publishing) {
      subscribers[Math.floor(Math.random() * SUBSCRIBERS)]!.cut();
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
    }
  })();

  const wsPublishers = await Promise.all(Array.from({ length: WS_PUBLISHERS }, () => TestClient.open(server.wsUrl)));
  const wsDone = wsPublishers.map(async (publisher, p) => {
    for (let n = 0; n < PER_PUBLISHER; n += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => publisher.request({ type: 'publish', channel: CHANNEL, data: { source: `ws${p}`, n: n + i } }, 30_000)));
    }
  });
  const httpDone = (async () => {
    for (let n = 0; n < HTTP_PUBLICATIONS; n += 20) {
      await Promise.all(Array.from({ length: 20 }, async (_, i) => {
        const response = await fetch(`${server.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: CHANNEL, data: { source: 'http', n: n + i } }) });
        expect(response.status).toBe(200);
      }));
    }
  })();
  await Promise.all([...wsDone, httpDone]);
  publishing = false;
  await chaos;

  const last = startOffset + TOTAL;
  await waitFor(() => subscribers.every((subscriber) => subscriber.position?.offset === last), 60_000, 'every subscriber to catch up');
  for (const subscriber of subscribers) subscriber.stop();
  for (const publisher of wsPublishers) await publisher.close();

  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  for (const subscriber of subscribers) {
    const seen = new Set<number>();
    let previous = startOffset;
    for (const offset of subscriber.received) {
      if (seen.has(offset)) duplicated++;
      else if (offset !== previous + 1) outOfOrder++;
      seen.add(offset);
      previous = Math.max(previous, offset);
    }
    for (let offset = startOffset + 1; offset <= last; offset++) if (!seen.has(offset)) lost++;
  }
  const cuts = subscribers.reduce((sum, subscriber) => sum + subscriber.cuts, 0);
  const unrecovered = subscribers.reduce((sum, subscriber) => sum + subscriber.unrecovered, 0);
  console.log(`chaos: ${SUBSCRIBERS} subscribers, ${TOTAL} publications (${WS_PUBLISHERS}×${PER_PUBLISHER} ws + ${HTTP_PUBLICATIONS} http), ${cuts} cuts, ${unrecovered} unrecovered — lost=${lost} duplicated=${duplicated} outOfOrder=${outOfOrder}`);
  expect(cuts).toBeGreaterThan(10);
  expect(unrecovered).toBe(0);
  expect({ lost, duplicated, outOfOrder }).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0 });
}, 120_000);
