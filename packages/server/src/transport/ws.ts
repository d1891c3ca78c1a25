// The WebSocket transport: upgrade checks, frames, heartbeat, pre-framed fan-out and backpressure.
// This is the only file that imports `ws`.

import { channel as diagnosticsChannel } from 'node:diagnostics_channel';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';
import proxyaddr from '@fastify/proxy-addr';
import { WebSocket, WebSocketServer } from 'ws';
import {
  CloseCodes, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, clampCloseReason, codecForSubprotocol,
  type Codec, type ErrorCode, type ServerMessage,
} from '@switchyard/protocol';
import type { Authenticator, Identity } from '../auth/identity.js';
import { SwitchyardError, errorBody, toSwitchyardError } from '../errors.js';
import type { Framing, Outbound } from '../hub/outbound.js';
import { eachPeer, type Outbox, type Peer } from '../hub/peer.js';
import type { SwitchyardOptions } from '../options.js';
import { Session, type Connection, type SessionContext } from '../session.js';
import type { Stats } from '../stats.js';
import { directDescriptor, directlyWritable, writeFrame, writeFrames, writeRest } from './direct-write.js';
import { serverFrame } from './frame.js';
import { WriteHelper } from './write-helper.js';

/** Frames for connections without compression. */
const plainFraming: Framing<Buffer> = { slot: 0, frame: (encoded, binary) => serverFrame(encoded, binary, false) };

/** The name of the diagnostics channel on which each held fan-out's pass is published (see FanOutPass). */
export const FANOUT_PASS_CHANNEL = 'switchyard:fanout-pass';

/**
 * Published on FANOUT_PASS_CHANNEL after each end-of-tick pass that writes a held fan-out to all its subscribers at
 * once: the usual case below saturation, one publication in a tick. A fan-out that shares its tick with others is
 * queued per connection instead, and published nowhere. Times are `performance.now()` of the server's process.
 */
export interface FanOutPass {
  readonly message: ServerMessage;
  /** Connections the pass went over. */
  readonly subscribers: number;
  /** Connections it wrote to: the others were closing. */
  readonly deliveries: number;
  readonly startedAt: number;
  readonly endedAt: number;
}

const fanOutPasses = diagnosticsChannel(FANOUT_PASS_CHANNEL);

/**
 * permessage-deflate as this server negotiates it, whatever the client offers: no server context
 * takeover and a 2^13 window. So every compressing connection can read the same compressed frame,
 * which is made once per message, and no deflate stream is kept per socket.
 */
const DEFLATE = { windowBits: 13, memLevel: 7, level: 3 } as const;

/** Frames for connections that negotiated permessage-deflate: compressed from `threshold` bytes up. */
function deflateFraming(threshold: number): Framing<Buffer> {
  return {
    slot: 1,
    frame: (encoded, binary) => {
      const payload = typeof encoded === 'string' ? Buffer.from(encoded) : encoded;
      if (payload.byteLength < threshold) return serverFrame(payload, binary, false);
      // A sync flush ends the data with 00 00 ff ff, which RFC 7692 §7.2.1 says to leave out.
      const deflated = deflateRawSync(payload, { ...DEFLATE, finishFlush: zlibConstants.Z_SYNC_FLUSH });
      return serverFrame(deflated.subarray(0, deflated.length - 4), binary, true);
    },
  };
}

/**
 * Whether one offered extension is a permessage-deflate offer ws can accept with DEFLATE: it must let the
 * server bound the client's window (`client_max_window_bits`) and not ask for a server window under ours.
 */
function deflateOfferFits(offer: string): boolean {
  const [name, ...params] = offer.split(';').map((part) => part.trim());
  if (name !== 'permessage-deflate') return false;
  let boundsClient = false;
  for (const param of params) {
    const [key, value] = param.split('=').map((part) => part.trim().replace(/^"|"$/g, ''));
    if (key === 'client_max_window_bits') boundsClient = true;
    if (key === 'server_max_window_bits' && Number(value) < DEFLATE.windowBits) return false;
  }
  return boundsClient;
}

/** The connection a ws socket belongs to, so one shared listener serves every socket. */
const kConnection = Symbol('switchyard.connection');
type TrackedWebSocket = WebSocket & { [kConnection]: WsConnection };

function destroyOnError(this: Socket): void {
  this.destroy();
}

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  const connection = (this as TrackedWebSocket)[kConnection];
  connection.session.receive(isBinary || !connection.codec.binary ? data : data.toString('utf8'));
}

function ignoreError(): void {
  // ws closes the connection with the matching code (1002, 1007, 1009) right after its 'error' event.
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  const connection = (this as TrackedWebSocket)[kConnection];
  connection.transport.disconnected(connection, code, reason);
}

/**
 * The heartbeat visits connections in slots: every connection belongs to one, and one slot is visited
 * about every BEAT_SLOT_MS, so each connection is still checked once per heartbeat period, but no tick
 * pings every socket at once (10k pings in one go hold the event loop for over 100 ms).
 */
const BEAT_SLOT_MS = 250;
const MAX_BEAT_SLOTS = 240;

/** Time a slow consumer gets to read its close frame before its socket is destroyed. */
const SLOW_CONSUMER_GRACE_MS = 1000;

/** What the transport reports to the server. */
export interface TransportEvents {
  connected(session: Session): void;
  disconnected(session: Session, code: number, reason: string): void;
  refused(status: number, code: ErrorCode, remoteAddress: string): void;
  /** The write helper thread failed; large passes are written by the main thread alone from now on. */
  helperFailed(error: Error): void;
}

/** Dependencies of the transport. */
export interface TransportContext {
  readonly options: Readonly<SwitchyardOptions>;
  readonly stats: Stats;
  readonly session: SessionContext;
  readonly authenticator: Authenticator | undefined;
  readonly events: TransportEvents;
}

/**
 * The connections of one of the hub's arrays of peers that share a codec and a framing, and so a frame, with their
 * WebSockets and sockets side by side: a held pass reads a WebSocket's state and writes its socket, and reads nothing
 * else of a connection unless it turns out a slow consumer. The plain `ws` server touches the same two objects per
 * delivery.
 */
interface PassRun {
  readonly codec: Codec;
  readonly framing: Framing<Buffer>;
  readonly connections: WsConnection[];
  readonly webSockets: WebSocket[];
  readonly sockets: Socket[];
  /** The sockets' descriptors for direct writes (see direct-write.ts), -1 where a socket takes none. */
  readonly fds: number[];
}

/** The connections behind one of the hub's arrays of peers, in runs by codec and framing (usually one run). */
type FanOutPlan = readonly PassRun[];

/** One WebSocket connection, as the session sees it. */
class WsConnection implements Connection {
  readonly remoteAddress: string;
  readonly codec: Codec;
  session!: Session;
  /** Bytes read from the socket at the last heartbeat: liveness is any byte since then (a pong, or any frame). */
  bytesReadAtBeat = 0;
  /** The heartbeat slot this connection belongs to (see BEAT_SLOT_MS). */
  beatSlot = 0;
  closing = false;
  readonly transport: WebSocketTransport;
  /** Frames held for the end of this tick: none, one, or several (kept this way to allocate nothing for one). */
  #queued: Buffer | Buffer[] | undefined;
  #queuedBytes = 0;
  /** A message sent `late` while nothing else was held: the one thing held, framed only when it leaves (see `send`). */
  #unframed: Outbound | undefined;
  readonly #ws: WebSocket;
  readonly #socket: Socket;
  /** The socket's descriptor for direct writes, or -1 (see direct-write.ts). */
  readonly fd: number;
  /** How this connection's frames are built: plain, or permessage-deflate. */
  readonly framing: Framing<Buffer>;

  constructor(ws: WebSocket, socket: Socket, remoteAddress: string, transport: WebSocketTransport) {
    this.#ws = ws;
    this.#socket = socket;
    this.fd = transport.directWrites ? directDescriptor(socket) : -1;
    this.remoteAddress = remoteAddress;
    this.codec = codecForSubprotocol(ws.protocol);
    this.transport = transport;
    // Every frame goes straight to the socket: ws's own sender only carries pings and the close frame.
    this.framing = ws.extensions === '' ? plainFraming : transport.deflateFraming;
  }

  get ws(): WebSocket {
    return this.#ws;
  }

  get socket(): Socket {
    return this.#socket;
  }

  send(outbound: Outbound, late = false): boolean {
    if (this.closing) return false;
    if (late && this.#queued === undefined && this.#unframed === undefined) {
      // A publisher's ack, usually: framing it waits until after the held fan-out's pass, which it follows anyway.
      this.#unframed = outbound;
      this.transport.touched(this);
      return true;
    }
    const frame = outbound.framed(this.codec, this.framing);
    this.transport.countOut(outbound, 1, frame.length);
    this.#queue(frame, false);
    return true;
  }

  /** Write the hello at once: nothing was sent before it, and the socket is still corked with the 101 response. */
  greet(outbound: Outbound): void {
    const frame = outbound.framed(this.codec, this.framing);
    this.#socket.write(frame);
    this.transport.countNow(outbound, frame.length);
  }

  /** Queue a held fan-out's frame ahead of anything queued since it was held (see WebSocketTransport). */
  sendHeld(outbound: Outbound): void {
    if (this.closing) return;
    const frame = outbound.framed(this.codec, this.framing);
    this.transport.countOut(outbound, 1, frame.length);
    this.#queue(frame, true);
  }

  /** Hold `frame` for the end of the tick, after (or, `first`, before) the frames already held. */
  #queue(frame: Buffer, first: boolean): void {
    this.#frameUnframed();
    const queued = this.#queued;
    if (queued === undefined) {
      this.#queued = frame;
      this.transport.touched(this);
    } else if (!Array.isArray(queued)) this.#queued = first ? [frame, queued] : [queued, frame];
    else if (first) queued.unshift(frame);
    else queued.push(frame);
    this.#queuedBytes += frame.length;
    if (this.#socket.writableLength + this.#queuedBytes > this.transport.highWaterMark) this.closeAsSlowConsumer();
  }

  /** Frame the message sent `late`, if one waits, and hold its frame in its place (first: nothing was held before it). */
  #frameUnframed(): void {
    const outbound = this.#unframed;
    if (outbound === undefined) return;
    this.#unframed = undefined;
    const frame = outbound.framed(this.codec, this.framing);
    this.transport.countOut(outbound, 1, frame.length);
    // This connection is on the transport's list already, from `send`.
    this.#queued = frame;
    this.#queuedBytes = frame.length;
    if (this.#socket.writableLength + frame.length > this.transport.highWaterMark) this.closeAsSlowConsumer();
  }

  /** Write the frames held this tick: one frame as one write; several as one writev. */
  flush(): void {
    this.#frameUnframed();
    const queued = this.#queued;
    if (queued === undefined) return;
    this.#queued = undefined;
    this.#queuedBytes = 0;
    // Nothing follows a close frame (RFC 6455 §5.5.1), ws's answer to the client's included.
    if (this.#ws.readyState !== WebSocket.OPEN || !this.#socket.writable) return;
    if (Array.isArray(queued)) writeFrames(this.#socket, this.fd, queued);
    else writeFrame(this.#socket, this.fd, queued);
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    // Frames queued before the close must reach the peer before the close frame, a held fan-out's included: it is
    // released while this connection still takes frames. Its frame can make this a slow consumer, closed already.
    this.transport.releaseHeld();
    if (this.closing) return;
    this.closing = true;
    this.flush();
    this.#ws.close(code, clampCloseReason(reason));
  }

  terminate(): void {
    this.closing = true;
    this.#ws.terminate();
  }

  /** Close this connection as a slow consumer: its socket holds more than the high-water mark. */
  closeAsSlowConsumer(): void {
    this.transport.slowConsumer();
    this.close(CloseCodes.SLOW_CONSUMER, 'slow consumer: send buffer over the high-water mark');
    // The client is not reading, so the close handshake may never finish: stop holding its buffer.
    setTimeout(() => this.#ws.terminate(), SLOW_CONSUMER_GRACE_MS).unref();
  }
}

/**
 * Accepts WebSocket upgrades on an HTTP(S) server and runs the connections.
 *
 * Writes leave at the end of the tick, one per socket. A fan-out that arrives while nothing else is queued
 * (the usual case below saturation: one publication per tick) is held as it came, one message and the
 * hub's array of peers, and written in one pass at the end of the tick: the pass reads each subscriber's
 * WebSocket and writes its socket, nothing else (see PassRun). Single messages queued after it (such as the
 * publisher's ack) wait behind it: the pass writes the held frame first, then those are written, so a publisher
 * that subscribes to its channel gets the message and its ack in two writes. A second fan-out in the same tick
 * turns the held one into per-connection queues, ahead of anything queued since, so frames keep their order and
 * each socket gets a single write: under load, many publications leave in one writev per socket.
 */
export class WebSocketTransport implements Outbox {
  readonly highWaterMark: number;
  /** Whether frames go straight to a socket's descriptor while its stream holds nothing (option `directWrites`). */
  readonly directWrites: boolean;
  readonly deflateFraming: Framing<Buffer>;
  readonly #ctx: TransportContext;
  readonly #wss: WebSocketServer;
  /** Open connections, in heartbeat slots (see BEAT_SLOT_MS). */
  readonly #slots: Array<Set<WsConnection>>;
  #size = 0;
  #nextSlot = 0;
  #beatTurn = 0;
  readonly #perIp = new Map<string, number>();
  /** Sockets whose token is being verified, with their remote address. */
  readonly #pending = new Map<Socket, string>();
  /** Connections with frames held for the end of this tick. */
  #touched: WsConnection[] = [];
  /** The other `#touched` array, empty: the two swap at each flush, so a flush allocates no array. */
  #spareTouched: WsConnection[] = [];
  /** Messages written since the last flush, for the per-type counts. */
  readonly #counted: Outbound[] = [];
  /** A fan-out held for the end of this tick (see the class comment). */
  #held: { outbound: Outbound; plan: FanOutPlan } | undefined;
  /**
   * The fan-out plan of each of the hub's arrays of peers, made once per array: the hub keeps an array while its
   * channel's subscribers stay the same and never changes it, so a fan-out goes from the array straight to the
   * sockets, without a call through each session.
   */
  readonly #plans = new WeakMap<readonly Peer[], FanOutPlan>();
  #scheduled = false;
  #flushing = false;
  /** The thread that shares large passes' writes (option `parallelWritesMin`); started with the first server. */
  #helper: WriteHelper | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #draining = false;
  readonly #servers: Array<HttpServer | HttpsServer> = [];
  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.#upgrade(req, socket as Socket, head);
  readonly #flush = (): void => this.#flushAll();
  readonly #onPendingClose: (this: Socket) => void;
  /** Which peers' X-Forwarded-For is believed; undefined when no proxy is trusted. */
  readonly #trustProxy: ((address: string, hop: number) => boolean) | undefined;

  constructor(ctx: TransportContext) {
    this.#ctx = ctx;
    // A plain function, so that `this` is the closing socket; `transport` reaches back to us.
    const transport = this;
    this.#onPendingClose = function onPendingClose(this: Socket): void {
      transport.#abandon(this);
    };
    const { options } = ctx;
    this.highWaterMark = options.sendHighWaterMark;
    this.directWrites = options.directWrites;
    this.deflateFraming = deflateFraming(options.compressionThreshold);
    const slots = Math.min(MAX_BEAT_SLOTS, Math.max(1, Math.floor(options.heartbeatMs / BEAT_SLOT_MS)));
    this.#slots = Array.from({ length: slots }, () => new Set<WsConnection>());
    this.#trustProxy = options.trustedProxies.length > 0 ? proxyaddr.compile(options.trustedProxies) : undefined;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxPayload,
      // No server context takeover and a fixed window, so one compressed frame serves every client (see DEFLATE);
      // the client's window is kept small too, which bounds the inflate memory of clients that compress.
      perMessageDeflate: options.compression
        ? {
          // ws only negotiates and inflates what clients send; frames to clients are compressed by deflateFraming.
          // Asking clients for no context takeover too makes them honour their own threshold (ws, for one, then
          // leaves small messages uncompressed), which spares both ends an inflate per tiny message.
          concurrencyLimit: 10, serverNoContextTakeover: true, clientNoContextTakeover: true,
          serverMaxWindowBits: DEFLATE.windowBits, clientMaxWindowBits: DEFLATE.windowBits,
        }
        : false,
      handleProtocols: (protocols) => {
        if (protocols.has(SUBPROTOCOL_MSGPACK)) return SUBPROTOCOL_MSGPACK;
        if (protocols.has(SUBPROTOCOL_JSON)) return SUBPROTOCOL_JSON;
        return false;
      },
    });
  }

  /** Connections open now. */
  get size(): number {
    return this.#size;
  }

  /** Every open connection. */
  *#connections(): Generator<WsConnection> {
    for (const slot of this.#slots) yield* slot;
  }

  /** Sessions of every open connection. */
  sessions(): Session[] {
    return Array.from(this.#connections(), (connection) => connection.session);
  }

  /** Serve WebSocket upgrades on `server` (at `options.path`). */
  attach(server: HttpServer | HttpsServer): void {
    server.on('upgrade', this.#onUpgrade);
    this.#servers.push(server);
    if (this.#heartbeat === undefined) {
      this.#heartbeat = setInterval(() => this.#beat(), this.#ctx.options.heartbeatMs / this.#slots.length);
      this.#heartbeat.unref();
      const { options } = this.#ctx;
      // The helper writes to descriptors, so it goes with direct writes.
      if (options.directWrites) this.#helper = WriteHelper.start(options.parallelWritesMin, (error) => this.#ctx.events.helperFailed(error));
    }
  }

  /** Close every connection with 1001 and stop accepting; terminates stragglers after the timeout. */
  async close(): Promise<void> {
    this.#draining = true;
    clearInterval(this.#heartbeat);
    for (const server of this.#servers) server.off('upgrade', this.#onUpgrade);
    this.#flushAll();
    if (this.#size > 0) {
      const closed = new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.#size === 0) resolve();
        };
        for (const connection of this.#connections()) connection.ws.once('close', () => queueMicrotask(check));
      });
      for (const connection of this.#connections()) connection.close(CloseCodes.GOING_AWAY, 'server going away');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#ctx.options.shutdownTimeoutMs);
      });
      await Promise.race([closed, timeout]);
      clearTimeout(timer);
      for (const connection of this.#connections()) connection.terminate();
    }
    this.#wss.close();
    const helper = this.#helper;
    this.#helper = undefined;
    await helper?.stop();
  }

  /** Outbox: `outbound` to every peer in `peers`, held whole for the end of the tick when nothing else is queued. */
  deliverAll(outbound: Outbound, peers: readonly Peer[]): void {
    const plan = this.#planFor(peers);
    if (plan === undefined) {
      // Peers that are not sessions of this transport: each is handed the message.
      this.releaseHeld();
      eachPeer.deliverAll(outbound, peers);
      return;
    }
    if (this.#held === undefined && this.#touched.length === 0 && !this.#flushing) {
      this.#held = { outbound, plan };
      this.#schedule();
      return;
    }
    this.releaseHeld();
    for (const run of plan) for (const connection of run.connections) connection.send(outbound);
  }

  /** The fan-out plan of `peers`, made once per array; undefined when one of them is not ours. */
  #planFor(peers: readonly Peer[]): FanOutPlan | undefined {
    const known = this.#plans.get(peers);
    if (known !== undefined) return known;
    const plan: PassRun[] = [];
    for (const peer of peers) {
      if (!(peer instanceof Session) || !(peer.connection instanceof WsConnection)) return undefined;
      const connection = peer.connection;
      let run = plan.find((candidate) => candidate.codec === connection.codec && candidate.framing === connection.framing);
      if (run === undefined) {
        run = { codec: connection.codec, framing: connection.framing, connections: [], webSockets: [], sockets: [], fds: [] };
        plan.push(run);
      }
      run.connections.push(connection);
      run.webSockets.push(connection.ws);
      run.sockets.push(connection.socket);
      run.fds.push(connection.fd);
    }
    this.#plans.set(peers, plan);
    return plan;
  }

  /**
   * Queue a held fan-out on each of its connections, as if it had been delivered peer by peer when it came: ahead
   * of whatever was queued since.
   */
  releaseHeld(): void {
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    for (const run of held.plan) for (const connection of run.connections) connection.sendHeld(held.outbound);
  }

  /** `connection` has frames held for the end of this tick. */
  touched(connection: WsConnection): void {
    if (this.#touched.push(connection) === 1) this.#schedule();
  }

  /** Count `deliveries` writes of `outbound`, `bytes` in all. */
  countOut(outbound: Outbound, deliveries: number, bytes: number): void {
    if (deliveries === 0) return;
    const stats = this.#ctx.stats;
    stats.messagesOut += deliveries;
    stats.bytesOut += bytes;
    const first = outbound.deliveries === 0;
    outbound.deliveries += deliveries;
    // Counts are taken at the end of a flush, so one counted during a flush needs no flush of its own.
    if (first && this.#counted.push(outbound) === 1 && !this.#flushing) this.#schedule();
  }

  /** Count one write of `outbound`, `bytes` long, at once: outside a flush, where no count waits for the end of the tick. */
  countNow(outbound: Outbound, bytes: number): void {
    const stats = this.#ctx.stats;
    stats.messagesOut++;
    stats.bytesOut += bytes;
    stats.countOutType(outbound.message.type, 1);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(this.#flush);
  }

  slowConsumer(): void {
    this.#ctx.stats.slowConsumers++;
  }

  #flushAll(): void {
    this.#scheduled = false;
    this.#flushing = true;
    // The two arrays trade places first: a connection touched while these flush goes to the other one, which the
    // next flush writes, and the fields never share an array, even if a flush throws.
    const touched = this.#touched;
    this.#touched = this.#spareTouched;
    this.#spareTouched = touched;
    try {
      const held = this.#held;
      if (held !== undefined) {
        // Taken first, so that a connection closing during the pass (a slow consumer) finds nothing to release.
        this.#held = undefined;
        this.#writePass(held.outbound, held.plan);
      }
      // What was queued since the fan-out was held (a publisher's ack) follows its frame: in a write of its own on a
      // socket that had both, since finding those would mean reading every connection of the pass.
      for (const connection of touched) connection.flush();
      touched.length = 0;
    } finally {
      this.#flushing = false;
    }
    // Counting queues nothing, so the list does not change while it is read.
    const counted = this.#counted;
    for (const outbound of counted) {
      this.#ctx.stats.countOutType(outbound.message.type, outbound.deliveries);
      outbound.deliveries = 0;
    }
    counted.length = 0;
  }

  /** Write a held fan-out to every connection of `plan` that is open, each socket once: the end-of-tick pass. */
  #writePass(outbound: Outbound, plan: FanOutPlan): void {
    const startedAt = fanOutPasses.hasSubscribers ? performance.now() : 0;
    const highWaterMark = this.highWaterMark;
    let subscribers = 0;
    let deliveries = 0;
    let bytes = 0;
    const helper = this.#helper;
    for (const run of plan) {
      const frame = outbound.framed(run.codec, run.framing);
      const { webSockets, sockets, fds } = run;
      // A large pass is shared with the helper thread: this loop hands it the directly writable sockets, and both
      // threads write them after it (see write-helper.ts).
      const shared = helper !== undefined && sockets.length >= helper.minimum && helper.accepts(frame);
      if (shared) helper.begin();
      let written = 0;
      for (let index = 0; index < sockets.length; index++) {
        // ws marks a WebSocket closing as soon as it sends or gets a close frame, or its socket ends or fails, and
        // so does every way this server closes one: an open one takes data frames. Read instead of the socket's
        // `writable`, a getter that cost this loop as much as the rest of its checks.
        if ((webSockets[index] as WebSocket).readyState !== WebSocket.OPEN) continue;
        const socket = sockets[index] as Socket;
        const fd = fds[index] as number;
        written++;
        if (shared && directlyWritable(socket, fd)) {
          helper.add(fd, index);
          continue;
        }
        // What the kernel took whole left nothing in the stream to hold against the high-water mark.
        if (writeFrame(socket, fd, frame)) continue;
        if (socket.writableLength > highWaterMark) run.connections[index]?.closeAsSlowConsumer();
      }
      if (shared) {
        this.#ctx.stats.helperWrites += helper.write(frame, (index, taken) => {
          const socket = sockets[index] as Socket;
          writeRest(socket, frame, taken);
          if (socket.writableLength > highWaterMark) run.connections[index]?.closeAsSlowConsumer();
        });
      }
      subscribers += sockets.length;
      deliveries += written;
      bytes += written * frame.length;
    }
    this.countOut(outbound, deliveries, bytes);
    if (fanOutPasses.hasSubscribers) {
      const pass: FanOutPass = { message: outbound.message, subscribers, deliveries, startedAt, endedAt: performance.now() };
      fanOutPasses.publish(pass);
    }
  }

  /** Visit the next heartbeat slot: each connection once per heartbeat period. */
  #beat(): void {
    const slot = this.#slots[this.#beatTurn] ?? new Set<WsConnection>();
    this.#beatTurn = (this.#beatTurn + 1) % this.#slots.length;
    for (const connection of slot) {
      // Reading the socket's byte count needs no listener per socket (a 'pong' listener costs ~100 bytes each).
      const bytesRead = connection.socket.bytesRead;
      if (bytesRead === connection.bytesReadAtBeat) {
        connection.terminate();
        continue;
      }
      connection.bytesReadAtBeat = bytesRead;
      connection.ws.ping();
    }
  }

  #refuse(socket: Socket, status: number, code: ErrorCode, message: string, remoteAddress: string): void {
    this.#ctx.events.refused(status, code, remoteAddress);
    this.#ctx.stats.countError(code);
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify(errorBody(new SwitchyardError(code, message)));
    const reason = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : status === 429 ? 'Too Many Requests' : status === 503 ? 'Service Unavailable' : 'Bad Request';
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    socket.once('finish', () => socket.destroy());
  }

  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const { options } = this.#ctx;
    const remoteAddress = this.#trustProxy === undefined ? (req.socket.remoteAddress ?? 'unknown') : proxyaddr(req, this.#trustProxy);
    socket.on('error', destroyOnError);
    // Split the request target by hand: a full URL parse per handshake costs more than the rest of the checks.
    const target = req.url ?? '/';
    const queryAt = target.indexOf('?');
    const pathname = queryAt < 0 ? target : target.slice(0, queryAt);
    if (pathname !== options.path) {
      // Another upgrade handler on a shared server may own this path.
      if (this.#servers.some((server) => server.listenerCount('upgrade') > 1)) return;
      this.#refuse(socket, 404, 'not_found', `WebSocket endpoint is ${options.path}`, remoteAddress);
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !options.allowedOrigins.includes('*') && !options.allowedOrigins.includes(origin)) {
      this.#refuse(socket, 403, 'forbidden', 'origin not allowed', remoteAddress);
      return;
    }
    if (this.#draining) {
      this.#refuse(socket, 503, 'unavailable', 'server is shutting down', remoteAddress);
      return;
    }
    if (this.#size + this.#pending.size >= options.maxConnections) {
      this.#refuse(socket, 503, 'unavailable', 'server connection limit reached', remoteAddress);
      return;
    }
    const fromIp = this.#perIp.get(remoteAddress) ?? 0;
    if (fromIp >= options.maxConnectionsPerIp) {
      this.#refuse(socket, 429, 'rate_limited', 'too many connections from this address', remoteAddress);
      return;
    }
    this.#perIp.set(remoteAddress, fromIp + 1);
    const token = (queryAt < 0 ? null : new URLSearchParams(target.slice(queryAt + 1)).get('token')) ?? bearerToken(req.headers.authorization);
    const authenticator = this.#ctx.authenticator;
    if (token === null || token === undefined || authenticator === undefined) {
      this.#complete(req, socket, head, remoteAddress, undefined);
      return;
    }
    // While the token is verified the socket holds a place; if it closes meanwhile, the place is given back.
    this.#pending.set(socket, remoteAddress);
    socket.once('close', this.#onPendingClose);
    authenticator.verify(token).then(
      (identity) => {
        if (this.#leavePending(socket)) this.#complete(req, socket, head, remoteAddress, identity);
      },
      (error: unknown) => {
        if (!this.#leavePending(socket)) return;
        this.#release(remoteAddress);
        this.#refuse(socket, 401, 'unauthorized', toSwitchyardError(error).message, remoteAddress);
      },
    );
  }

  #complete(req: IncomingMessage, socket: Socket, head: Buffer, remoteAddress: string, identity: Identity | undefined): void {
    if (socket.destroyed || this.#draining) {
      this.#release(remoteAddress);
      socket.destroy();
      return;
    }
    // ws refuses (400) the upgrade when no deflate offer fits our fixed parameters; such a client is served
    // uncompressed instead. (With compression off, ws ignores the header, and so do we.)
    const offers = this.#ctx.options.compression ? req.headers['sec-websocket-extensions'] : undefined;
    if (offers !== undefined && !offers.split(',').some(deflateOfferFits)) delete req.headers['sec-websocket-extensions'];
    // ws completes (or refuses, answering 400 itself) synchronously when no verifyClient is set. Corked meanwhile,
    // the 101 response and the `connection` hello leave in one write, where `ws` alone makes two: a write is one of
    // the largest costs of a handshake. (A refusal ends the socket, which uncorks it.)
    let accepted = false;
    socket.cork();
    try {
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        accepted = true;
        // ws handles the socket's errors from here on; a second listener would cost an array per socket.
        socket.off('error', destroyOnError);
        this.#accept(ws, socket, remoteAddress, identity);
      });
    } finally {
      socket.uncork();
    }
    if (!accepted) this.#release(remoteAddress);
  }

  /** Take `socket` out of the pending set; false when it already closed (and gave back its place). */
  #leavePending(socket: Socket): boolean {
    if (!this.#pending.delete(socket)) return false;
    socket.off('close', this.#onPendingClose);
    return true;
  }

  /** A socket closed while its token was being verified: give back its place. */
  #abandon(socket: Socket): void {
    const remoteAddress = this.#pending.get(socket);
    if (remoteAddress === undefined) return;
    this.#pending.delete(socket);
    this.#release(remoteAddress);
  }

  #accept(ws: WebSocket, socket: Socket, remoteAddress: string, identity: Identity | undefined): void {
    const stats = this.#ctx.stats;
    const connection = new WsConnection(ws, socket, remoteAddress, this);
    const session = new Session(this.#ctx.session, connection, identity);
    connection.session = session;
    connection.beatSlot = this.#nextSlot;
    this.#nextSlot = (this.#nextSlot + 1) % this.#slots.length;
    this.#slots[connection.beatSlot]?.add(connection);
    stats.connections = ++this.#size;
    stats.connectionsTotal++;
    // Shared listeners find their connection through the socket: no closures per connection.
    (ws as TrackedWebSocket)[kConnection] = connection;
    ws.on('message', onMessage);
    ws.on('error', ignoreError);
    // `on`, not `once`: a WebSocket closes once, and `once` would keep a wrapper and a bound function per socket.
    ws.on('close', onClose);
    // The hello goes now, into the socket corked with the 101 response (see #complete), not at the end of the tick.
    connection.greet(session.open());
    this.#ctx.events.connected(session);
  }

  /** Called once when an accepted connection has closed. */
  disconnected(connection: WsConnection, code: number, reason: Buffer): void {
    const stats = this.#ctx.stats;
    connection.closing = true;
    if (this.#slots[connection.beatSlot]?.delete(connection) === true) this.#size--;
    this.#release(connection.remoteAddress);
    stats.connections = this.#size;
    stats.countClose(code);
    connection.session.closed();
    this.#ctx.events.disconnected(connection.session, code, reason.toString());
  }

  #release(remoteAddress: string): void {
    const count = (this.#perIp.get(remoteAddress) ?? 1) - 1;
    if (count <= 0) this.#perIp.delete(remoteAddress);
    else this.#perIp.set(remoteAddress, count);
  }
}

function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

