// The server as a library: createSwitchyard() assembles engine, hub, transport and HTTP API.

import { EventEmitter } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import fastifyCors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import type { Registry } from 'prom-client';
import { jsonCodec, msgpackCodec, type ErrorCode } from '@switchyard/protocol';
import type { Authenticator } from './auth/identity.js';
import { JwtAuthenticator } from './auth/jwt-authenticator.js';
import { createEngine } from './engine/create-engine.js';
import type { Engine, NodeInfo, PublishResult } from './engine/engine.js';
import { SwitchyardError } from './errors.js';
import { DemoFeed } from './feeds/demo-feed.js';
import { StatsFeed } from './feeds/stats-feed.js';
import { httpApi } from './http/routes.js';
import { Hub } from './hub/hub.js';
import { Namespaces } from './hub/namespaces.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { authConfigured, resolveOptions, type SwitchyardOptions } from './options.js';
import type { Session, SessionEvents, SwitchyardHooks } from './session.js';
import { Stats } from './stats.js';
import { WebSocketTransport } from './transport/ws.js';
import { VERSION } from './version.js';

/** Typed events of a Switchyard server. */
export interface SwitchyardEvents {
  connection: [client: { clientId: string; userId: string | undefined; remoteAddress: string }];
  disconnect: [client: { clientId: string; userId: string | undefined }, code: number, reason: string];
  subscribe: [client: { clientId: string; userId: string | undefined }, channel: string];
  unsubscribe: [client: { clientId: string; userId: string | undefined }, channel: string];
  publish: [channel: string, offset: number, from: string | undefined];
  refused: [status: number, code: ErrorCode, remoteAddress: string];
  error: [error: unknown, context: string];
}

/** How the server is embedded. */
export interface SwitchyardInit {
  /** Permission hooks. */
  hooks?: SwitchyardHooks;
  /** Host the server on an existing HTTP(S) server instead of creating one; `listen()` then only attaches. */
  server?: HttpServer | HttpsServer;
  /** With `server`: also serve the HTTP API on it (Fastify adds its own request listener). @default false */
  httpApi?: boolean;
  /** A logger to use instead of creating one. */
  logger?: Logger;
  /** An engine to use instead of the one the options choose. */
  engine?: Engine;
  /** A token verifier to use instead of JWT. */
  authenticator?: Authenticator;
}

/** Where the server listens. */
export interface ListenAddress {
  host: string;
  port: number;
  /** http(s)://host:port */
  url: string;
  /** ws(s)://host:port/path */
  wsUrl: string;
}

const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

function clientView(session: Session): { clientId: string; userId: string | undefined } {
  return { clientId: session.clientId, userId: session.userId };
}

/** A Switchyard server. Create with `createSwitchyard()`. */
export class Switchyard extends EventEmitter<SwitchyardEvents> {
  readonly options: Readonly<SwitchyardOptions>;
  readonly stats = new Stats();
  readonly logger: Logger;
  readonly nodeId: string;
  readonly startedAt = Date.now();
  readonly #init: SwitchyardInit;
  #engine: Engine | undefined;
  #hub: Hub | undefined;
  #transport: WebSocketTransport | undefined;
  #app: FastifyInstance | undefined;
  #metrics: Registry | undefined;
  #demo: DemoFeed | undefined;
  #statsFeed: StatsFeed | undefined;
  #address: ListenAddress | undefined;
  #state: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';

  constructor(options: Partial<SwitchyardOptions> = {}, init: SwitchyardInit = {}) {
    super();
    this.options = resolveOptions(options);
    this.#init = init;
    this.logger = init.logger ?? createLogger(this.options.logLevel);
    this.nodeId = `${this.options.name}-${randomBytes(4).toString('hex')}`;
    // An 'error' event without listeners would throw; engine errors are logged instead.
    this.on('error', (error, context) => this.logger.warn({ err: error, context }, 'engine error'));
  }

  /** The hub (available after `listen()`). */
  get hub(): Hub {
    if (this.#hub === undefined) throw new Error('Switchyard is not started: call listen() first');
    return this.#hub;
  }

  /** The listening address (after `listen()` on a server of its own). */
  get address(): ListenAddress | undefined {
    return this.#address;
  }

  /** The Fastify instance serving the HTTP API (after `listen()`), to add routes. */
  get http(): FastifyInstance | undefined {
    return this.#app;
  }

  /** Start the engine, the HTTP API and the WebSocket endpoint. */
  async listen(): Promise<ListenAddress | undefined> {
    if (this.#state !== 'new') throw new Error(`listen() called while ${this.#state}`);
    this.#state = 'starting';
    const options = this.options;
    const engine = this.#init.engine ?? (await createEngine(options, this.nodeId));
    this.#engine = engine;
    const onEngineError = (error: unknown, context: string): void => {
      this.emit('error', error, context);
    };
    const hub = new Hub(engine, new Namespaces(options.namespaces, options.idempotencyWindowMs), {
      maxChannels: options.maxChannels, historyMaxLimit: options.historyMaxLimit, engineTimeoutMs: options.engineTimeoutMs,
    }, { onEngineError });
    this.#hub = hub;
    await hub.start();

    const authenticator = this.#init.authenticator ?? (authConfigured(options) ? new JwtAuthenticator(options) : undefined);
    const sessionEvents: SessionEvents = {
      subscribed: (session, channel) => this.emit('subscribe', clientView(session), channel),
      unsubscribed: (session, channel) => this.emit('unsubscribe', clientView(session), channel),
      published: (session, channel, offset) => this.emit('publish', channel, offset, session.userId ?? session.clientId),
      rejected: (session, error: SwitchyardError) => this.logger.debug({ clientId: session.clientId, code: error.code, message: error.message }, 'request refused'),
    };
    this.#transport = new WebSocketTransport({
      options,
      stats: this.stats,
      authenticator,
      session: {
        hub, options, stats: this.stats, authenticator, hooks: this.#init.hooks ?? {}, version: VERSION,
        newClientId: randomUUID, events: sessionEvents,
      },
      events: {
        // Event objects are only built when someone listens: these run once per handshake and per close.
        connected: (session) => {
          if (this.listenerCount('connection') > 0) this.emit('connection', { ...clientView(session), remoteAddress: session.remoteAddress });
        },
        disconnected: (session, code, reason) => {
          if (this.listenerCount('disconnect') > 0) this.emit('disconnect', clientView(session), code, reason);
        },
        refused: (status, code, remoteAddress) => this.emit('refused', status, code, remoteAddress),
        helperFailed: (error) => this.logger.error({ err: error }, 'the write helper thread failed; large fan-outs are written by one thread from now on'),
      },
    });
    hub.useOutbox(this.#transport);
    this.#metrics = createMetrics(this.stats, { channels: () => hub.channelCount, ready: () => this.ready });
    if (options.demo) {
      this.#demo = new DemoFeed(hub, (error) => onEngineError(error, 'demo'), () => this.stats.connections);
      this.#demo.start();
    }
    this.#statsFeed = new StatsFeed(hub, this.stats, this.startedAt);
    this.#statsFeed.start();

    const embedded = this.#init.server;
    if (embedded !== undefined) {
      this.#transport.attach(embedded);
      if (this.#init.httpApi === true) {
        this.#app = await this.#buildApp((handler) => {
          embedded.on('request', handler);
          return embedded;
        });
        await this.#app.ready();
      }
      this.#state = 'running';
      return undefined;
    }
    const app = await this.#buildApp(undefined);
    this.#app = app;
    this.#transport.attach(app.server as HttpServer);
    await app.listen({ port: options.port, host: options.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : options.port;
    const tls = options.tlsCert !== undefined;
    const shownHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host.includes(':') ? `[${options.host}]` : options.host;
    this.#address = {
      host: options.host,
      port,
      url: `${tls ? 'https' : 'http'}://${shownHost}:${port}`,
      wsUrl: `${tls ? 'wss' : 'ws'}://${shownHost}:${port}${options.path}`,
    };
    this.#state = 'running';
    this.logger.info({ url: this.#address.url, ws: this.#address.wsUrl, engine: engine.kind, nodeId: this.nodeId }, 'Switchyard listening');
    return this.#address;
  }

  async #buildApp(serverFactory: ((handler: (req: IncomingMessage, res: ServerResponse) => void) => HttpServer | HttpsServer) | undefined): Promise<FastifyInstance> {
    const options = this.options;
    const https = options.tlsCert !== undefined && options.tlsKey !== undefined
      ? { cert: readFileSync(options.tlsCert), key: readFileSync(options.tlsKey) }
      : null;
    const app = Fastify({
      loggerInstance: this.logger.child({ component: 'http' }),
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: options.maxBodyBytes,
      // The same proxies as the WebSocket upgrades: request.ip (logs) is the client's address behind them.
      ...(options.trustedProxies.length > 0 ? { trustProxy: options.trustedProxies } : {}),
      ...(https !== null ? { https } : {}),
      ...(serverFactory !== undefined ? { serverFactory } : {}),
      // Slow clients (slowloris) are cut off: headers must arrive within the handshake timeout.
      http: { headersTimeout: options.handshakeTimeoutMs, requestTimeout: Math.max(options.handshakeTimeoutMs, 30_000), connectionsCheckingInterval: Math.min(1000, options.handshakeTimeoutMs) } as object,
      onProtoPoisoning: 'remove',
      onConstructorPoisoning: 'remove',
    } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
    await app.register(fastifyCors, { origin: options.allowedOrigins.includes('*') ? true : options.allowedOrigins });
    const hub = this.hub;
    await app.register(httpApi, {
      hub,
      options,
      metrics: this.#metrics!,
      demo: this.#demo,
      status: () => this.status(),
      ready: () => this.ready,
    });
    if (options.dashboard && existsSync(`${PUBLIC_DIR}index.html`)) {
      await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: '/', wildcard: false, index: ['index.html'] });
    } else if (options.dashboard) {
      app.get('/', async (_request, reply) => reply.type('text/html').send('<!doctype html><title>Switchyard</title><p>Switchyard is running. The dashboard is not built: run <code>npm run build</code>.</p>'));
    }
    return app;
  }

  /** Whether the server accepts work: started, not closing, engine available. */
  get ready(): boolean {
    return this.#state === 'running' && (this.#engine?.ready ?? false);
  }

  /** The `/status` body. */
  async status(): Promise<Record<string, unknown>> {
    const hub = this.hub;
    const body: Record<string, unknown> = {
      status: 'ok',
      version: VERSION,
      name: this.options.name,
      nodeId: this.nodeId,
      engine: this.#engine?.kind,
      ready: this.ready,
      uptimeMs: Date.now() - this.startedAt,
      connections: this.stats.connections,
      channels: hub.channelCount,
      messagesIn: this.stats.messagesIn,
      messagesOut: this.stats.messagesOut,
    };
    if (this.#engine !== undefined && this.#engine.kind !== 'memory') {
      let nodes: NodeInfo[] = [];
      try {
        nodes = await this.#engine.nodes(this.stats.connections);
      } catch (error) {
        this.emit('error', error, 'nodes');
      }
      body['cluster'] = { connections: nodes.reduce((sum, node) => sum + node.connections, 0), nodes };
    }
    return body;
  }

  /** Publish on `channel` as the server. Rejects with `invalid_message` when `data` cannot be encoded (see `unencodable`). */
  publish(channel: string, data: unknown, options: { event?: string; key?: string; ephemeral?: boolean } = {}): Promise<PublishResult> {
    return ifEncodable(data, () => this.hub.publish({ channel, data, ...options }));
  }

  /** Send a `broadcast` to every client (or one channel's subscribers); resolves with local deliveries. */
  broadcast(data: unknown, channel?: string): Promise<number> {
    return ifEncodable(data, () => this.hub.broadcast(data, channel));
  }

  /** Send a `direct` message to a userId or clientId, from `from` (default: the server's name). */
  direct(to: string, data: unknown, from: string = this.options.name): Promise<number> {
    return ifEncodable(data, () => this.hub.direct(to, from, data));
  }

  /** Stop accepting, close every client with 1001, stop the engine. */
  async close(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'closing') return;
    this.#state = 'closing';
    this.#demo?.stop();
    this.#statsFeed?.stop();
    await this.#transport?.close();
    if (this.#init.server === undefined) await this.#app?.close();
    await this.#engine?.close();
    this.#state = 'closed';
    this.logger.info('Switchyard closed');
  }
}

/**
 * Why the app's `data` cannot go to clients, or undefined when it can. Data from clients always can: it was decoded
 * from one of the two encodings. The app's can be anything, and a value that one encoding cannot hold (a BigInt or a
 * cycle for JSON, a symbol or a huge BigInt for MessagePack) would otherwise fail only when the server writes it to
 * subscribers, after it was taken into history. A top-level undefined or function has no encoding either.
 */
function unencodable(data: unknown): SwitchyardError | undefined {
  try {
    if (jsonCodec.encode(data) === undefined) return new SwitchyardError('invalid_message', `data must be a JSON or MessagePack value, not ${typeof data}`);
    msgpackCodec.encode(data);
    return undefined;
  } catch (error) {
    return new SwitchyardError('invalid_message', `data cannot be sent to clients: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** `send()`, or a rejection with `invalid_message` when the app's `data` cannot be encoded. */
function ifEncodable<T>(data: unknown, send: () => Promise<T>): Promise<T> {
  const refused = unencodable(data);
  return refused === undefined ? send() : Promise.reject(refused);
}

/** Create a Switchyard server (not yet listening). Throws `OptionsError` for bad options. */
export function createSwitchyard(options: Partial<SwitchyardOptions> = {}, init: SwitchyardInit = {}): Switchyard {
  return new Switchyard(options, init);
}
