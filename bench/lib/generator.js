// A load-generator process: holds client connections and runs the loads the coordinator asks for
// over IPC. Several run side by side; each stays under its open-file limit.
// @ts-check

import { openClient } from './clients.js';
import { machineNow as now } from './clock.js';
import { Samples } from './samples.js';

/** @typedef {import('./clients.js').BenchClient} BenchClient */

/** @param {number} ms */
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @type {BenchClient[]} */
let clients = [];
let delivered = 0;
let lastReported = 0;
let latency = new Samples();
/** Deliveries seen by the whole fleet since the current publish run began (sent by the coordinator). */
let fleetDelivered = 0;
/** @type {(() => void) | undefined} */
let onFleetProgress;

/** @type {import('./clients.js').DeliveryHandler} */
function countDelivery(client, raw) {
  delivered++;
  if (!client.sampled) return;
  const sentAt = client.decode(raw).data?.t;
  if (typeof sentAt === 'number') latency.add(now() - sentAt);
}

/**
 * A payload of about `bytes` bytes of JSON carrying its send time.
 * @param {number} bytes
 * @param {number} sequence
 */
function payload(bytes, sequence) {
  return { t: now(), s: sequence, p: 'x'.repeat(Math.max(0, bytes - 40)) };
}

/**
 * @typedef {object} ConnectCommand
 * @property {import('./server-process.js').ServerKind} kind
 * @property {string} url
 * @property {number} count
 * @property {number} firstIndex       global index of the first client (channel and sampling choice)
 * @property {string[]} addresses      source addresses, used in turn
 * @property {number} concurrency      handshakes in flight
 * @property {'json' | 'msgpack'} encoding
 * @property {boolean} deflate
 * @property {string[]} [channels]     subscribe client i to channels[i % length]
 * @property {number} [sampleEvery]    every n-th client records latency
 * @property {number} [timeoutMs]      give up opening after this long
 */

/** @param {ConnectCommand} command */
async function connect(command) {
  const started = performance.now();
  const deadline = started + (command.timeoutMs ?? 60_000);
  let next = 0;
  let opened = 0;
  let failed = 0;
  /** @type {string | undefined} */
  let firstError;
  const worker = async () => {
    while (next < command.count && performance.now() < deadline) {
      const index = command.firstIndex + next++;
      try {
        const client = await openClient({
          kind: command.kind, url: command.url, encoding: command.encoding, deflate: command.deflate,
          localAddress: command.addresses[index % command.addresses.length] ?? '127.0.0.1',
        });
        client.onDelivery = countDelivery;
        client.sampled = command.sampleEvery !== undefined && index % command.sampleEvery === 0;
        if (command.channels !== undefined && command.channels.length > 0) {
          await client.request('subscribe', { channel: command.channels[index % command.channels.length] });
        }
        clients.push(client);
        opened++;
      } catch (error) {
        failed++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, command.concurrency) }, worker));
  return { opened, failed, firstError, ms: performance.now() - started };
}

async function closeAll() {
  const closing = clients;
  clients = [];
  const codes = /** @type {Record<string, number>} */ ({});
  await Promise.all(closing.map((client) => client.close()));
  for (const client of closing) codes[String(client.closeCode)] = (codes[String(client.closeCode)] ?? 0) + 1;
  return { closed: closing.length, codes };
}

/** @param {{ reset: boolean }} command */
function stats(command) {
  const closes = /** @type {Record<string, number>} */ ({});
  for (const client of clients) if (client.closeCode !== undefined) closes[String(client.closeCode)] = (closes[String(client.closeCode)] ?? 0) + 1;
  const result = { delivered, latency: latency.toJSON(), clients: clients.length, closes };
  if (command.reset) latency = new Samples();
  return result;
}

/**
 * Closed-loop echo on the first `clients` connections: each sends, waits for the reply, sends again.
 * @param {{ clients: number; durationMs: number; payloadBytes: number }} command
 */
async function echo(command) {
  const samples = new Samples();
  let roundTrips = 0;
  const end = performance.now() + command.durationMs;
  const loop = async (/** @type {BenchClient} */ client) => {
    let sequence = 0;
    while (performance.now() < end) {
      const sentAt = now();
      await client.request('echo', { data: payload(command.payloadBytes, sequence++) });
      samples.add(now() - sentAt);
      roundTrips++;
    }
  };
  await Promise.all(clients.slice(0, command.clients).map(loop));
  return { roundTrips, latency: samples.toJSON() };
}

/**
 * @typedef {object} PublishCommand
 * @property {string[]} channels          publish to channels[i % length] in turn
 * @property {number} publishers          connections that publish (the first ones), in turn
 * @property {number} durationMs
 * @property {number} window              publishes awaiting their ack, at most
 * @property {number} deliveriesPerPublish subscribers of each channel
 * @property {number} maxBacklog          deliveries owed to subscribers (published × deliveriesPerPublish − delivered), at most
 * @property {number} payloadBytes
 * @property {number} [ratePerSecond]     pace publishes (0 or absent: as fast as the window allows)
 * @property {number} [limit]             publish at most this many
 * @property {boolean} [endAtLimit]       end as soon as `limit` publications are acknowledged, not at `durationMs`
 */

/** @param {PublishCommand} command */
async function publish(command) {
  fleetDelivered = 0;
  const publishers = clients.slice(0, Math.max(1, command.publishers));
  if (publishers.length === 0) throw new Error('no connection to publish from');
  const started = performance.now();
  const end = started + command.durationMs;
  let published = 0;
  let acked = 0;
  let inFlight = 0;
  let finished = false;
  /** @type {() => void} */
  let done = () => undefined;
  const allowed = () => {
    if (inFlight >= command.window) return false;
    if (command.limit !== undefined && published >= command.limit) return false;
    if (published * command.deliveriesPerPublish - fleetDelivered > command.maxBacklog) return false;
    const rate = command.ratePerSecond ?? 0;
    return rate <= 0 || published < (rate * (performance.now() - started)) / 1000;
  };
  const pump = () => {
    if (finished) return;
    if (performance.now() >= end || (command.endAtLimit === true && command.limit !== undefined && acked >= command.limit)) {
      finished = true;
      done();
      return;
    }
    while (allowed()) {
      const client = /** @type {BenchClient} */ (publishers[published % publishers.length]);
      const channel = command.channels[published % command.channels.length];
      const sequence = published++;
      inFlight++;
      client.request('publish', { channel, data: payload(command.payloadBytes, sequence) }).then(() => {
        inFlight--;
        acked++;
        pump();
      }, () => {
        inFlight--;
      });
    }
  };
  onFleetProgress = pump;
  const ticker = setInterval(pump, 5);
  await new Promise((resolve) => {
    done = () => resolve(undefined);
    pump();
  });
  clearInterval(ticker);
  onFleetProgress = undefined;
  // Let the last acks arrive (bounded) so the next run starts clean.
  for (let waited = 0; inFlight > 0 && waited < 3000; waited += 20) await pause(20);
  return { published, acked, ms: performance.now() - started };
}

/** @param {{ pause: boolean }} command */
function reading(command) {
  for (const client of clients) {
    if (command.pause) client.pauseReading();
    else client.resumeReading();
  }
  return { clients: clients.length };
}

/** @type {Record<string, (args: any) => unknown>} any: each handler checks the shape it was sent by the coordinator, its only caller */
const handlers = { connect, closeAll, stats, echo, publish, reading };

process.on('message', (message) => {
  const request = /** @type {{ rid?: number; cmd?: string; args?: unknown; fleetDelivered?: number }} */ (message);
  if (typeof request.fleetDelivered === 'number') {
    fleetDelivered = request.fleetDelivered;
    onFleetProgress?.();
    return;
  }
  const handler = request.cmd === undefined ? undefined : handlers[request.cmd];
  if (handler === undefined || request.rid === undefined) return;
  const rid = request.rid;
  Promise.resolve()
    .then(() => handler(request.args))
    .then(
      (result) => report({ rid, result }),
      (error) => report({ rid, error: error instanceof Error ? error.message : String(error) }),
    );
});

/**
 * Send to the harness while it listens; a generator outliving its harness must not crash on EPIPE.
 * @param {object} message
 */
function report(message) {
  if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
}

// Report deliveries often, so a publisher elsewhere can keep the backlog bounded.
setInterval(() => {
  if (delivered === lastReported) return;
  lastReported = delivered;
  report({ progress: delivered });
}, 20);

process.on('disconnect', () => process.exit(0));
