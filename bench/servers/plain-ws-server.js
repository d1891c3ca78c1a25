// The reference server: plain `ws` doing Switchyard's job at its simplest (subscribe, publish with ack,
// echo); fan-out serializes once, frames once with Sender.frame and writes that buffer to every socket.
// @ts-check

import { channel as diagnosticsChannel } from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import * as wsModule from 'ws';

const { WebSocketServer } = wsModule;

const port = Number(process.argv[2] ?? 0);
const host = '127.0.0.1';

/** @typedef {import('ws').WebSocket} WebSocket */
/** @typedef {{ subscribers: Set<WebSocket>; offset: number }} Channel */

/** @type {Map<string, Channel>} */
const channels = new Map();
/** Each fan-out's pass, as Switchyard publishes it (bench/lib/gc-hook.js times them for bench/pair.js --passes). */
const fanOutPasses = diagnosticsChannel('switchyard:fanout-pass');
/** @type {WeakMap<WebSocket, Set<string>>} */
const subscriptionsOf = new WeakMap();
let clientCounter = 0;

/**
 * One complete unmasked text frame. `Sender.frame` is a documented static that @types/ws omits.
 * @param {string} text
 * @returns {Buffer}
 */
function textFrame(text) {
  const frame = /** @type {{ Sender: { frame(data: Buffer, options: object): Buffer[] } }} */ (/** @type {unknown} */ (wsModule)).Sender.frame;
  const parts = frame(Buffer.from(text), { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false });
  return parts.length === 1 ? /** @type {Buffer} */ (parts[0]) : Buffer.concat(parts);
}

/**
 * Write one pre-built frame to a socket, bypassing the per-socket Sender.
 * @param {WebSocket} ws
 * @param {Buffer} frame
 */
function writeFrame(ws, frame) {
  const socket = /** @type {import('node:net').Socket} */ (/** @type {{ _socket: unknown }} */ (/** @type {unknown} */ (ws))._socket);
  socket.write(frame);
}

/**
 * @param {WebSocket} ws
 * @param {Record<string, unknown>} message
 */
function reply(ws, message) {
  ws.send(JSON.stringify(message));
}

/**
 * @param {WebSocket} ws
 * @param {string} text
 */
function handle(ws, text) {
  /** @type {{ type?: unknown; id?: unknown; channel?: unknown; data?: unknown }} */
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    reply(ws, { type: 'error', data: { code: 'bad_json' } });
    return;
  }
  const { type, id, channel: name, data } = message;
  if (type === 'echo') {
    reply(ws, { type: 'echo', id, data, timestamp: Date.now() });
    return;
  }
  if (typeof name !== 'string') {
    reply(ws, { type: 'error', id, data: { code: 'invalid_channel' } });
    return;
  }
  if (type === 'subscribe') {
    let channel = channels.get(name);
    if (channel === undefined) {
      channel = { subscribers: new Set(), offset: 0 };
      channels.set(name, channel);
    }
    channel.subscribers.add(ws);
    subscriptionsOf.get(ws)?.add(name);
    reply(ws, { type: 'subscribed', id, channel: name, data: { offset: channel.offset }, timestamp: Date.now() });
    return;
  }
  if (type === 'publish') {
    const channel = channels.get(name);
    const offset = channel === undefined ? 0 : ++channel.offset;
    if (channel !== undefined && channel.subscribers.size > 0) {
      const message = { type: 'message', channel: name, data, offset, timestamp: Date.now() };
      const frame = textFrame(JSON.stringify(message));
      const startedAt = fanOutPasses.hasSubscribers ? performance.now() : 0;
      for (const subscriber of channel.subscribers) writeFrame(subscriber, frame);
      if (fanOutPasses.hasSubscribers) {
        const count = channel.subscribers.size;
        fanOutPasses.publish({ message, subscribers: count, deliveries: count, startedAt, endedAt: performance.now() });
      }
    }
    reply(ws, { type: 'ack', id, data: { offset }, timestamp: Date.now() });
    return;
  }
  reply(ws, { type: 'error', id, data: { code: 'unknown_type' } });
}

const server = createServer((_request, response) => {
  response.writeHead(404).end();
});
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, clientTracking: false, maxPayload: 1_048_576 });
wss.on('connection', (ws) => {
  subscriptionsOf.set(ws, new Set());
  ws.on('message', (data) => handle(ws, data.toString()));
  ws.on('error', () => ws.terminate());
  ws.on('close', () => {
    for (const name of subscriptionsOf.get(ws) ?? []) {
      const channel = channels.get(name);
      channel?.subscribers.delete(ws);
      if (channel?.subscribers.size === 0) channels.delete(name);
    }
  });
  reply(ws, { type: 'connection', data: { clientId: `c${++clientCounter}`, protocol: 1 }, timestamp: Date.now() });
});
server.listen(port, host);
process.on('SIGTERM', () => process.exit(0));
