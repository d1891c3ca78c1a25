// Client connections for the load generator: one interface over Switchyard's protocol (JSON or
// MessagePack, which the plain `ws` server speaks too) and over Socket.IO.
// @ts-check

import { Packr, Unpackr } from 'msgpackr';
import { io } from 'socket.io-client';
import { WebSocket } from 'ws';

/** @typedef {import('./server-process.js').ServerKind} ServerKind */

/**
 * @typedef {object} ConnectOptions
 * @property {ServerKind} kind
 * @property {string} url
 * @property {'json' | 'msgpack'} encoding
 * @property {boolean} deflate        offer permessage-deflate
 * @property {string} localAddress    source address (127.0.0.x)
 */

/**
 * What a generator does with a publication: `raw` is the undecoded frame for `ws`-protocol
 * clients (decoding only when sampled saves generator CPU), an object for Socket.IO.
 * @typedef {(client: BenchClient, raw: Buffer | object) => void} DeliveryHandler
 */

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
const HANDSHAKE_TIMEOUT_MS = 15_000;

/** The uniform face of a client connection. */
export class BenchClient {
  /** Set by the generator; receives every publication. @type {DeliveryHandler} */
  onDelivery = () => undefined;
  /** Close code once closed, else undefined. @type {number | undefined} */
  closeCode;
  /** Whether this client decodes deliveries to record latency. */
  sampled = false;

  /**
   * Send a request and resolve with the reply (Switchyard-style `type` and fields).
   * @param {'subscribe' | 'publish' | 'echo'} _type
   * @param {{ channel?: string; data?: unknown }} _fields
   * @returns {Promise<unknown>}
   */
  request(_type, _fields) {
    return Promise.reject(new Error('not implemented'));
  }

  /**
   * Decode a raw delivery handed to `onDelivery`.
   * @param {Buffer | object} raw
   * @returns {{ data?: { t?: number } }}
   */
  decode(raw) {
    return /** @type {{ data?: { t?: number } }} */ (raw);
  }

  /** Stop reading from the socket (slow-consumer check). */
  pauseReading() {}

  /** Read again. */
  resumeReading() {}

  /** @returns {Promise<void>} resolves once closed (or after 5 s) */
  close() {
    return Promise.resolve();
  }
}

/** A client of Switchyard's protocol over `ws` (Switchyard itself and the plain `ws` reference). */
class ProtocolClient extends BenchClient {
  /** @type {WebSocket} */ #ws;
  #binary;
  #nextId = 0;
  /** @type {Map<number, (reply: unknown) => void>} */
  #pending = new Map();

  /**
   * @param {WebSocket} ws
   * @param {boolean} binary
   */
  constructor(ws, binary) {
    super();
    this.#ws = ws;
    this.#binary = binary;
    ws.on('message', (data, isBinary) => {
      const raw = /** @type {Buffer} */ (data);
      if (this.#pending.size === 0) {
        this.onDelivery(this, raw);
        return;
      }
      const message = /** @type {{ id?: number; type?: string }} */ (this.#decodeFrame(raw, isBinary));
      const resolve = message.id === undefined ? undefined : this.#pending.get(message.id);
      if (resolve !== undefined && message.id !== undefined) {
        this.#pending.delete(message.id);
        resolve(message);
      } else if (message.type === 'message') {
        this.onDelivery(this, message);
      }
    });
    ws.on('close', (code) => {
      this.closeCode = code;
    });
    ws.on('error', () => undefined);
  }

  /**
   * @param {ConnectOptions} options
   * @returns {Promise<BenchClient>}
   */
  static open(options) {
    const binary = options.encoding === 'msgpack';
    const ws = new WebSocket(options.url, binary ? ['switchyard.v1.msgpack'] : [], {
      perMessageDeflate: options.deflate,
      localAddress: options.localAddress,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    return new Promise((resolve, reject) => {
      // Ready means the server's `connection` hello has arrived, not only the upgrade.
      ws.once('message', () => {
        ws.off('error', reject);
        resolve(new ProtocolClient(ws, binary));
      });
      ws.once('error', reject);
      ws.once('close', (code) => reject(new Error(`closed ${code} before the hello`)));
    });
  }

  /**
   * @param {Buffer} raw
   * @param {boolean} isBinary
   * @returns {unknown}
   */
  #decodeFrame(raw, isBinary) {
    return isBinary ? unpackr.unpack(raw) : JSON.parse(raw.toString());
  }

  /**
   * @override
   * @param {Buffer | object} raw
   */
  decode(raw) {
    if (!Buffer.isBuffer(raw)) return /** @type {{ data?: { t?: number } }} */ (raw);
    return /** @type {{ data?: { t?: number } }} */ (this.#decodeFrame(raw, this.#binary));
  }

  /**
   * @param {'subscribe' | 'publish' | 'echo'} type
   * @param {{ channel?: string; data?: unknown }} fields
   * @override
   */
  request(type, fields) {
    const id = ++this.#nextId;
    const message = { type, id, ...fields };
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#ws.send(this.#binary ? packr.pack(message) : JSON.stringify(message));
    });
  }

  #socket() {
    return /** @type {import('node:net').Socket | undefined} */ (/** @type {{ _socket?: unknown }} */ (/** @type {unknown} */ (this.#ws))._socket);
  }

  /** @override */
  pauseReading() {
    this.#socket()?.pause();
  }

  /** @override */
  resumeReading() {
    this.#socket()?.resume();
  }

  /** @override */
  close() {
    if (this.#ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#ws.terminate();
        resolve(undefined);
      }, 5000);
      this.#ws.once('close', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
      this.#ws.close(1000);
    });
  }
}

/** A Socket.IO 4 client on the websocket transport. */
class SocketIoClient extends BenchClient {
  /** @type {import('socket.io-client').Socket} */ #socket;

  /** @param {import('socket.io-client').Socket} socket */
  constructor(socket) {
    super();
    this.#socket = socket;
    socket.on('message', (/** @type {object} */ message) => this.onDelivery(this, message));
    socket.on('disconnect', () => {
      this.closeCode = 1000;
    });
  }

  /**
   * @param {ConnectOptions} options
   * @returns {Promise<BenchClient>}
   */
  static open(options) {
    // engine.io-client passes `localAddress` through to `ws`; the typings do not list it.
    const managerOptions = /** @type {Partial<import('socket.io-client').ManagerOptions & import('socket.io-client').SocketOptions>} */ (/** @type {unknown} */ ({
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: HANDSHAKE_TIMEOUT_MS,
      localAddress: options.localAddress,
      perMessageDeflate: false,
    }));
    const socket = io(options.url, managerOptions);
    return new Promise((resolve, reject) => {
      socket.once('connect', () => {
        socket.off('connect_error', reject);
        resolve(new SocketIoClient(socket));
      });
      socket.once('connect_error', reject);
    });
  }

  /**
   * @param {'subscribe' | 'publish' | 'echo'} type
   * @param {{ channel?: string; data?: unknown }} fields
   * @override
   */
  request(type, fields) {
    return new Promise((resolve) => {
      if (type === 'subscribe') this.#socket.emit('subscribe', fields.channel, resolve);
      else if (type === 'publish') this.#socket.emit('publish', fields, resolve);
      else this.#socket.emit('echo', fields.data, resolve);
    });
  }

  #raw() {
    // The engine.io websocket transport's `ws` socket: reached through internals, only to stop reading.
    const engine = /** @type {{ transport?: { ws?: { _socket?: import('node:net').Socket } } }} */ (/** @type {unknown} */ (this.#socket.io.engine));
    return engine.transport?.ws?._socket;
  }

  /** @override */
  pauseReading() {
    this.#raw()?.pause();
  }

  /** @override */
  resumeReading() {
    this.#raw()?.resume();
  }

  /** @override */
  close() {
    this.#socket.disconnect();
    this.closeCode ??= 1000;
    return Promise.resolve();
  }
}

/**
 * Open one client connection and wait until the server greeted it.
 * @param {ConnectOptions} options
 * @returns {Promise<BenchClient>}
 */
export function openClient(options) {
  return options.kind === 'socketio' ? SocketIoClient.open(options) : ProtocolClient.open(options);
}
