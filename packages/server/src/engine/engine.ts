// The engine seam: where publications, history, presence and cross-node routing live.
// The hub talks only to this interface; memory (default) and Redis (cluster) implement it.

import type { ClientInfo, Publication, RecoveryFailure, StreamPosition } from '@switchyard/protocol';

/** What a publish asks the engine to store and deliver. */
export interface PublishRequest {
  channel: string;
  data: unknown;
  event?: string;
  /** The publisher's userId or clientId; omitted for server/API publications. */
  from?: string;
  /** Idempotency key: a repeat within the window is acked with the original position and not delivered. */
  key?: string;
  /** Deliver to current subscribers but keep out of history; does not advance the offset. */
  ephemeral?: boolean;
}

/** Per-channel storage policy, taken from the channel's namespace. */
export interface StreamPolicy {
  /** Publications kept; 0 keeps none (offsets still advance). */
  historySize: number;
  /** Age after which a publication leaves history, in ms. */
  historyTtlMs: number;
  /** Window for idempotency keys, in ms. */
  idempotencyWindowMs: number;
}

/** Result of a publish. `duplicate` is true when the key was seen before: nothing new was delivered. */
export interface PublishResult extends StreamPosition {
  duplicate: boolean;
}

/** A `history` query. */
export interface HistoryQuery {
  /** Return publications after this position (its epoch must match). */
  since?: StreamPosition;
  /** Most publications to return. */
  limit: number;
  /** Newest first when true. */
  reverse?: boolean;
}

/** A history answer: the publications and the stream's current position. */
export interface HistoryResult extends StreamPosition {
  publications: Publication[];
}

/**
 * Result of reading what a subscriber missed since `since`.
 * `recovered: true` means `publications` holds every publication after `since.offset` up to `offset`.
 */
export type RecoveryResult =
  | (StreamPosition & { recovered: true; publications: Publication[] })
  | (StreamPosition & { recovered: false; reason: RecoveryFailure });

/** One server of a cluster, as reported in `/status`. */
export interface NodeInfo {
  id: string;
  connections: number;
  lastSeenMs: number;
}

/**
 * Events an engine delivers to the node that started it. Engines never see clients: they call these.
 * Each returns the number of local connections reached where that is meaningful.
 */
export interface EngineHandler {
  /** A publication on `channel` (from any node). Called in offset order per channel. */
  onPublication(channel: string, publication: Publication, ephemeral: boolean): void;
  /** A presence change on `channel` (from any node). */
  onJoin(channel: string, member: ClientInfo): void;
  onLeave(channel: string, member: ClientInfo): void;
  /** A broadcast to every client, or to one channel's subscribers. Returns local deliveries. */
  onBroadcast(data: unknown, channel: string | undefined): number;
  /** A direct message to a userId or clientId. Returns local deliveries. */
  onDirect(to: string, from: string, data: unknown): number;
  /** The engine lost or regained its backing store; while lost, publications may be missed. */
  onAvailability(available: boolean): void;
}

/**
 * The storage and routing seam.
 *
 * Guarantees every implementation gives (checked by the shared contract suite):
 * - publish and append-to-history are atomic per channel: offsets start at 1 and never skip or repeat
 *   within an epoch, and `onPublication` is called in offset order for each channel;
 * - a publish resolves only after the publication is in history (when history is on) and handed to
 *   delivery; a repeated idempotency key within the window resolves with the first position;
 * - delivery to other nodes is at most once; the hub detects gaps by offset and fills them from history.
 */
export interface Engine {
  /** 'memory' or 'redis'. */
  readonly kind: string;
  /** True when calls cross the network (requests then get `engineTimeoutMs`). */
  readonly remote: boolean;
  /** This node's id. */
  readonly nodeId: string;
  /** Whether the engine can serve requests now (`/ready`). */
  readonly ready: boolean;
  start(handler: EngineHandler): Promise<void>;
  close(): Promise<void>;

  publish(request: PublishRequest, policy: StreamPolicy): Promise<PublishResult>;
  /**
   * `publish`, done before returning, with the same guarantees: for an in-process engine, whose publish needs no
   * I/O. The hub then acknowledges in the same tick as the fan-out, without a promise per publication.
   */
  publishNow?(request: PublishRequest, policy: StreamPolicy): PublishResult;
  /** This node wants `channel`'s publications (first local subscriber). Resolves once they will arrive. */
  subscribe(channel: string): Promise<void>;
  /** This node no longer wants `channel`'s publications (last local subscriber left). */
  unsubscribe(channel: string): Promise<void>;
  /** The stream's current position (offset 0 and a fresh epoch for a channel never published to). */
  position(channel: string): Promise<StreamPosition>;
  history(channel: string, query: HistoryQuery, policy: StreamPolicy): Promise<HistoryResult>;
  /** What was published after `since`, or why that cannot be told. */
  recover(channel: string, since: StreamPosition, policy: StreamPolicy): Promise<RecoveryResult>;

  addPresence(channel: string, member: ClientInfo): Promise<void>;
  removePresence(channel: string, member: ClientInfo): Promise<void>;
  presence(channel: string): Promise<ClientInfo[]>;

  /** Deliver a broadcast on every node. Resolves with deliveries counted where the engine can tell. */
  broadcast(data: unknown, channel: string | undefined): Promise<number>;
  /** Deliver a direct message on every node; resolves with the number of connections reached (0: nobody). */
  direct(to: string, from: string, data: unknown): Promise<number>;
  /** A connection with this clientId (and userId) is now local / no longer local: routing for `direct`. */
  connectionOpened(clientId: string, userId: string | undefined): void;
  connectionClosed(clientId: string, userId: string | undefined): void;
  /** A connection's userId changed (it authenticated after connecting). */
  connectionIdentified(clientId: string, previous: string | undefined, userId: string): void;

  /** Report this node's connection count; returns every live node (just this one for memory). */
  nodes(localConnections: number): Promise<NodeInfo[]>;
}
