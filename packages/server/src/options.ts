// Server options: one type, one frozen defaults object, one schema that refuses unknown or bad values.

import proxyaddr from '@fastify/proxy-addr';
import { z } from 'zod';

/** Options of one namespace (the part of a channel name before the first `:`). */
export interface NamespaceOptions {
  /** Track members of each channel; `presence` requests answer with them. @default false */
  presence: boolean;
  /** Send `join` / `leave` to subscribers as members come and go (needs `presence`). @default false */
  joinLeave: boolean;
  /** Clients may publish (the HTTP API and the server itself always may). @default true */
  publish: boolean;
  /** Clients may subscribe. @default true */
  subscribe: boolean;
  /** Publications kept per channel for `history` and recovery; 0 turns history off. @default 100 */
  historySize: number;
  /** How long a publication stays in history, in ms. @default 300000 (5 minutes) */
  historyTtlMs: number;
  /** Most subscribers one channel may have on this server; further subscribes get `unavailable`. @default 10000 */
  maxSubscribers: number;
  /** Anonymous (unauthenticated) clients may use the namespace; `null` means "when no auth is configured". @default null */
  anonymous: boolean | null;
}

/** Options of one Switchyard server. Every limit is finite by default. */
export interface SwitchyardOptions {
  /** TCP port; 0 picks a free one. @default 3003 */
  port: number;
  /** Interface to listen on. @default '0.0.0.0' */
  host: string;
  /** WebSocket path. @default '/ws' */
  path: string;
  /** Name reported in `connection` and `/status`. @default 'switchyard' */
  name: string;
  /** Run the demo event feed on channel `events` and `/events`. @default true */
  demo: boolean;
  /** Serve the web dashboard at `/`. @default true */
  dashboard: boolean;
  /** Protocol ping interval; a peer that misses a round is terminated. @default 30000 */
  heartbeatMs: number;
  /** Largest WebSocket message accepted, in bytes (close 1009 above). @default 1048576 */
  maxPayload: number;
  /** Largest HTTP body accepted, in bytes (413 above). @default 1048576 */
  maxBodyBytes: number;
  /** Send-buffer high-water mark per connection in bytes; above it the client is closed with 4000. @default 4194304 */
  sendHighWaterMark: number;
  /** Deepest JSON nesting accepted in a client message. @default 32 */
  maxJsonDepth: number;
  /** Longest channel name accepted. @default 255 */
  maxChannelLength: number;
  /** Most channels one connection may be subscribed to. @default 256 */
  maxSubscriptionsPerConnection: number;
  /** Largest presence `info` object, in bytes of JSON. @default 1024 */
  maxPresenceInfoBytes: number;
  /** Most connections this server accepts (HTTP 503 at the handshake above). @default 50000 */
  maxConnections: number;
  /** Most connections from one IP address (HTTP 429 at the handshake above). @default 1000 */
  maxConnectionsPerIp: number;
  /** Messages per second each connection may send (token bucket refill rate). @default 100 */
  rateLimitPerSecond: number;
  /** Burst size of the per-connection token bucket. @default 200 */
  rateLimitBurst: number;
  /** Refused messages within `rateLimitWindowMs` after which the connection is closed with 1008. @default 500 */
  rateLimitMaxViolations: number;
  /** Window for counting rate-limit violations. @default 10000 */
  rateLimitWindowMs: number;
  /** Time allowed for the HTTP upgrade request headers; slower clients are dropped. @default 10000 */
  handshakeTimeoutMs: number;
  /** How long a client may stay unauthenticated when auth is required. @default 10000 */
  authTimeoutMs: number;
  /** Authentication mode: `optional` (anonymous allowed where namespaces say so) or `required`. @default 'optional' */
  auth: 'optional' | 'required';
  /** HS256 shared secret for JWTs. @default undefined */
  jwtSecret: string | undefined;
  /** Path of a PEM public key (RS256 / ES256) for JWTs. @default undefined */
  jwtPublicKeyFile: string | undefined;
  /** JWKS URL for JWTs. @default undefined */
  jwksUrl: string | undefined;
  /** Required `aud` claim. @default undefined */
  jwtAudience: string | undefined;
  /** Required `iss` claim. @default undefined */
  jwtIssuer: string | undefined;
  /** API key for the HTTP API's writing routes (`Authorization: Bearer <key>`). @default undefined */
  apiKey: string | undefined;
  /** Also require the API key for `/metrics` and `/status`. @default false */
  protectReadRoutes: boolean;
  /** Origins allowed to open WebSockets and call the HTTP API; `*` allows all. @default ['*'] */
  allowedOrigins: string[];
  /**
   * Proxies whose `X-Forwarded-For` is believed: addresses, CIDR ranges, or `loopback`, `linklocal`,
   * `uniquelocal`. The client's address (for per-IP limits and logs) is then the last address in the
   * header that is not a trusted proxy. Empty: the socket's peer address is the client's. @default []
   */
  trustedProxies: string[];
  /** TLS certificate file (PEM); with `tlsKey`, the port serves https and wss. @default undefined */
  tlsCert: string | undefined;
  /** TLS key file (PEM). @default undefined */
  tlsKey: string | undefined;
  /** Redis URL; when set, the cluster engine is used. @default undefined */
  redis: string | undefined;
  /** Cluster: how long a server that stopped answering keeps its presence members and `/status` entry, in ms. @default 30000 */
  presenceTtlMs: number;
  /** Window in which a repeated idempotency key is acked without a second delivery. @default 120000 */
  idempotencyWindowMs: number;
  /** Most idempotency keys remembered per channel. @default 10000 */
  idempotencyMaxKeys: number;
  /** How long an idle channel's stream position (offset, epoch) is kept after its history is gone. @default 3600000 */
  streamRetentionMs: number;
  /** Largest `limit` a `history` request may ask for (also its default). @default 100 */
  historyMaxLimit: number;
  /** Most local channels this server keeps (subscribed or with history); new ones get `unavailable`. @default 100000 */
  maxChannels: number;
  /** How long a client request may wait for the engine before it fails with `unavailable`. @default 5000 */
  engineTimeoutMs: number;
  /** Negotiate permessage-deflate with clients that offer it. @default false */
  compression: boolean;
  /** Smallest message, in bytes, that is compressed when compression is on. @default 1024 */
  compressionThreshold: number;
  /**
   * Write frames straight to a plain (not TLS) socket's file descriptor while its stream holds nothing, without Node's
   * stream bookkeeping per write; off, every frame goes through `socket.write`. @default true
   */
  directWrites: boolean;
  /**
   * Smallest fan-out, in sockets, whose writes a second thread shares with the main one (with direct writes, on a
   * machine that gives the process two cores or more); 0 turns the helper thread off. @default 512
   */
  parallelWritesMin: number;
  /** Time given to clients to close during shutdown before they are terminated. @default 5000 */
  shutdownTimeoutMs: number;
  /** Log level. @default 'info' */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Namespace options by namespace name; '' configures channels without a namespace. */
  namespaces: Record<string, Partial<NamespaceOptions>>;
}

/** Defaults for every namespace that is not configured otherwise. */
export const namespaceDefaults: Readonly<NamespaceOptions> = Object.freeze({
  presence: false,
  joinLeave: false,
  publish: true,
  subscribe: true,
  historySize: 100,
  historyTtlMs: 300_000,
  maxSubscribers: 10_000,
  anonymous: null,
});

/** Namespaces configured out of the box; user configuration is merged over them. */
export const builtInNamespaces: Readonly<Record<string, Partial<NamespaceOptions>>> = Object.freeze({
  chat: Object.freeze({ presence: true, joinLeave: true, publish: true, historySize: 100, historyTtlMs: 300_000 }),
});

/** Every server option's default. */
export const defaultOptions: Readonly<SwitchyardOptions> = Object.freeze({
  port: 3003,
  host: '0.0.0.0',
  path: '/ws',
  name: 'switchyard',
  demo: true,
  dashboard: true,
  heartbeatMs: 30_000,
  maxPayload: 1_048_576,
  maxBodyBytes: 1_048_576,
  sendHighWaterMark: 4_194_304,
  maxJsonDepth: 32,
  maxChannelLength: 255,
  maxSubscriptionsPerConnection: 256,
  maxPresenceInfoBytes: 1024,
  maxConnections: 50_000,
  maxConnectionsPerIp: 1000,
  rateLimitPerSecond: 100,
  rateLimitBurst: 200,
  rateLimitMaxViolations: 500,
  rateLimitWindowMs: 10_000,
  handshakeTimeoutMs: 10_000,
  authTimeoutMs: 10_000,
  auth: 'optional',
  jwtSecret: undefined,
  jwtPublicKeyFile: undefined,
  jwksUrl: undefined,
  jwtAudience: undefined,
  jwtIssuer: undefined,
  apiKey: undefined,
  protectReadRoutes: false,
  allowedOrigins: Object.freeze(['*']) as unknown as string[],
  trustedProxies: Object.freeze([]) as unknown as string[],
  tlsCert: undefined,
  tlsKey: undefined,
  redis: undefined,
  presenceTtlMs: 30_000,
  idempotencyWindowMs: 120_000,
  idempotencyMaxKeys: 10_000,
  streamRetentionMs: 3_600_000,
  historyMaxLimit: 100,
  maxChannels: 100_000,
  engineTimeoutMs: 5000,
  compression: false,
  compressionThreshold: 1024,
  directWrites: true,
  parallelWritesMin: 512,
  shutdownTimeoutMs: 5000,
  logLevel: 'info',
  namespaces: Object.freeze({}) as Record<string, Partial<NamespaceOptions>>,
});

const positiveInt = z.number().int().positive().safe();
const nonNegativeInt = z.number().int().nonnegative().safe();
const optionalString = z.string().min(1).optional();

/** True when proxy-addr understands every entry (it throws on an address it cannot parse). */
function compilesAsProxyList(list: string[]): boolean {
  try {
    proxyaddr.compile(list);
    return true;
  } catch {
    return false;
  }
}

/** Schema of one namespace's options. */
export const namespaceOptionsSchema = z.strictObject({
  presence: z.boolean(),
  joinLeave: z.boolean(),
  publish: z.boolean(),
  subscribe: z.boolean(),
  historySize: nonNegativeInt.max(1_000_000),
  historyTtlMs: nonNegativeInt,
  maxSubscribers: positiveInt,
  anonymous: z.boolean().nullable(),
});

/** Schema of the server options; unknown keys are refused so a typo never passes silently. */
export const optionsSchema = z.strictObject({
  port: nonNegativeInt.max(65535),
  host: z.string().min(1),
  path: z.string().regex(/^\/[^\s?#]*$/, 'must start with / and hold no spaces, ? or #'),
  name: z.string().min(1).max(64),
  demo: z.boolean(),
  dashboard: z.boolean(),
  heartbeatMs: positiveInt.min(100),
  maxPayload: positiveInt.min(128),
  maxBodyBytes: positiveInt.min(128),
  sendHighWaterMark: positiveInt.min(1024),
  maxJsonDepth: positiveInt.max(1000),
  maxChannelLength: positiveInt.max(255),
  maxSubscriptionsPerConnection: positiveInt,
  maxPresenceInfoBytes: positiveInt,
  maxConnections: positiveInt,
  maxConnectionsPerIp: positiveInt,
  rateLimitPerSecond: z.number().positive(),
  rateLimitBurst: positiveInt,
  rateLimitMaxViolations: positiveInt,
  rateLimitWindowMs: positiveInt,
  handshakeTimeoutMs: positiveInt,
  authTimeoutMs: positiveInt,
  auth: z.enum(['optional', 'required']),
  jwtSecret: optionalString,
  jwtPublicKeyFile: optionalString,
  jwksUrl: z.url().optional(),
  jwtAudience: optionalString,
  jwtIssuer: optionalString,
  apiKey: optionalString,
  protectReadRoutes: z.boolean(),
  allowedOrigins: z.array(z.string().min(1)).min(1),
  trustedProxies: z.array(z.string().min(1)).refine(compilesAsProxyList, { message: 'each entry must be an IP address, a CIDR range, loopback, linklocal or uniquelocal' }),
  tlsCert: optionalString,
  tlsKey: optionalString,
  redis: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  presenceTtlMs: positiveInt.min(300),
  idempotencyWindowMs: nonNegativeInt,
  idempotencyMaxKeys: positiveInt,
  streamRetentionMs: positiveInt,
  historyMaxLimit: positiveInt.max(10_000),
  maxChannels: positiveInt,
  engineTimeoutMs: positiveInt,
  compression: z.boolean(),
  compressionThreshold: nonNegativeInt,
  directWrites: z.boolean(),
  parallelWritesMin: nonNegativeInt,
  shutdownTimeoutMs: nonNegativeInt,
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  namespaces: z.record(z.string().regex(/^[A-Za-z0-9._\-@/#=]*$/, 'namespace names use channel characters without ":"'), namespaceOptionsSchema.partial()),
});

/** Thrown when options are invalid; the message names every offending option. */
export class OptionsError extends TypeError {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`Invalid Switchyard options: ${issues.join('; ')}`);
    this.name = 'OptionsError';
    this.issues = issues;
  }
}

/** Merge user options over the defaults and validate the result; throws `OptionsError`. */
export function resolveOptions(user: Partial<SwitchyardOptions> = {}): Readonly<SwitchyardOptions> {
  const defined = Object.fromEntries(Object.entries(user).filter(([, value]) => value !== undefined));
  const merged = { ...defaultOptions, ...defined };
  const parsed = optionsSchema.safeParse(merged);
  if (!parsed.success) {
    throw new OptionsError(parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  const options = parsed.data as SwitchyardOptions;
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new OptionsError(['tlsCert and tlsKey must be given together']);
  }
  const authSources = [options.jwtSecret, options.jwtPublicKeyFile, options.jwksUrl].filter((value) => value !== undefined);
  if (authSources.length > 1) {
    throw new OptionsError(['jwtSecret, jwtPublicKeyFile and jwksUrl are mutually exclusive; give one']);
  }
  if (options.auth === 'required' && authSources.length === 0) {
    throw new OptionsError(['auth "required" needs one of jwtSecret, jwtPublicKeyFile or jwksUrl']);
  }
  return Object.freeze(options);
}

/** True when any JWT verification source is configured. */
export function authConfigured(options: Pick<SwitchyardOptions, 'jwtSecret' | 'jwtPublicKeyFile' | 'jwksUrl'>): boolean {
  return options.jwtSecret !== undefined || options.jwtPublicKeyFile !== undefined || options.jwksUrl !== undefined;
}

/** One line per option, for `switchyard --help` and docs/configuration.md (a test keeps them in step). */
export const optionDescriptions: Readonly<Record<keyof SwitchyardOptions, string>> = Object.freeze({
  port: 'TCP port (0 picks a free one)',
  host: 'interface to listen on',
  path: 'WebSocket path',
  name: 'server name shown to clients and in /status',
  demo: 'run the demo event feed (channel `events`, GET /events)',
  dashboard: 'serve the web dashboard at /',
  heartbeatMs: 'protocol ping interval; peers that miss a round are terminated',
  maxPayload: 'largest WebSocket message in bytes (close 1009 above)',
  maxBodyBytes: 'largest HTTP body in bytes (413 above)',
  sendHighWaterMark: 'per-connection send buffer limit in bytes (close 4000 above)',
  maxJsonDepth: 'deepest JSON nesting accepted in a client message',
  maxChannelLength: 'longest channel name accepted',
  maxSubscriptionsPerConnection: 'most channels one connection may subscribe to',
  maxPresenceInfoBytes: 'largest presence `info` object in bytes of JSON',
  maxConnections: 'most connections in total (HTTP 503 at the handshake above)',
  maxConnectionsPerIp: 'most connections from one IP address (HTTP 429 above)',
  rateLimitPerSecond: 'messages per second per connection (token bucket rate)',
  rateLimitBurst: 'token bucket burst per connection',
  rateLimitMaxViolations: 'refused messages per window before the connection is closed with 1008',
  rateLimitWindowMs: 'window for counting rate-limit violations',
  handshakeTimeoutMs: 'time allowed for HTTP request headers (slowloris defence)',
  authTimeoutMs: 'time an unauthenticated connection has to send `auth` when auth is required',
  auth: '`optional` or `required` (required needs a JWT key)',
  jwtSecret: 'HS256 secret for JWTs',
  jwtPublicKeyFile: 'PEM public key file for RS256/ES256 JWTs',
  jwksUrl: 'JWKS URL for JWTs',
  jwtAudience: 'required `aud` claim',
  jwtIssuer: 'required `iss` claim',
  apiKey: 'API key for POST /publish and /broadcast (Authorization: Bearer <key>)',
  protectReadRoutes: 'also require the API key for /status, /metrics and /channels',
  allowedOrigins: 'origins allowed for WebSocket upgrades and CORS (comma-separated; * for all)',
  trustedProxies: 'proxies whose X-Forwarded-For gives the client address (comma-separated IPs, CIDRs, loopback)',
  tlsCert: 'TLS certificate file (PEM); serves https and wss',
  tlsKey: 'TLS private key file (PEM)',
  redis: 'Redis URL: run as a cluster node (redis://host:port)',
  presenceTtlMs: 'cluster: how long a crashed server\'s presence members and /status entry outlive it',
  idempotencyWindowMs: 'how long a publish idempotency key is remembered',
  idempotencyMaxKeys: 'most idempotency keys remembered per channel',
  streamRetentionMs: 'how long an idle channel keeps its offset and epoch after its history is gone',
  historyMaxLimit: 'largest (and default) `limit` of a history request',
  maxChannels: 'most channels this server keeps',
  engineTimeoutMs: 'how long a request waits for the engine before `unavailable`',
  compression: 'negotiate permessage-deflate',
  compressionThreshold: 'smallest message compressed, in bytes',
  directWrites: 'write frames straight to a plain socket\'s descriptor while its stream holds nothing',
  parallelWritesMin: 'smallest fan-out (sockets) whose writes a second thread shares; 0 is off',
  shutdownTimeoutMs: 'time clients get to close on shutdown before being terminated',
  logLevel: 'fatal, error, warn, info, debug, trace or silent',
  namespaces: 'namespace options (config file; or --namespace name:key=value,...)',
});
