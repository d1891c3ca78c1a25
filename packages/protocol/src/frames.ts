// The frame types of protocol version 1: what clients send and what servers send, tagged by `type`.

import type { ErrorCode } from './error-codes.js';

/** Protocol version spoken by this package. */
export const PROTOCOL_VERSION = 1;

/** Subprotocol names a client may offer in `Sec-WebSocket-Protocol`. No subprotocol means JSON. */
export const SUBPROTOCOL_JSON = 'switchyard.v1.json';
export const SUBPROTOCOL_MSGPACK = 'switchyard.v1.msgpack';

/** A request id chosen by the client and echoed in the reply. */
export type RequestId = string | number;

/** A position in a channel's stream. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** Presence information about one connection on a channel. */
export interface ClientInfo {
  clientId: string;
  userId?: string;
  info?: Record<string, unknown>;
}

/** One publication as kept in history and replayed on recovery. */
export interface Publication {
  data: unknown;
  offset: number;
  epoch: string;
  event?: string;
  from?: string;
  timestamp: number;
}

/** Why a subscription could not be recovered. */
export type RecoveryFailure = 'epoch_changed' | 'history_trimmed' | 'history_expired' | 'history_disabled';

// ---- client → server -------------------------------------------------------------------------

interface ClientBase<T extends string> {
  type: T;
  id?: RequestId;
}
export interface EchoRequest extends ClientBase<'echo'> { data?: unknown }
export interface PingRequest extends ClientBase<'ping'> { data?: unknown }
export interface AuthRequest extends ClientBase<'auth'> { data: { token: string } }
export interface SubscribeRequest extends ClientBase<'subscribe'> {
  channel: string;
  since?: StreamPosition;
  info?: Record<string, unknown>;
}
export interface UnsubscribeRequest extends ClientBase<'unsubscribe'> { channel: string }
export interface PublishRequest extends ClientBase<'publish'> {
  channel: string;
  data: unknown;
  event?: string;
  key?: string;
  ephemeral?: boolean;
}
export interface BroadcastRequest extends ClientBase<'broadcast'> { data: unknown }
export interface PresenceRequest extends ClientBase<'presence'> { channel: string }
export interface HistoryRequest extends ClientBase<'history'> {
  channel: string;
  since?: StreamPosition;
  limit?: number;
  /** Newest first when true (default: oldest first). */
  reverse?: boolean;
}
export interface DirectRequest extends ClientBase<'direct'> { to: string; data: unknown }

/** Every message a client may send. */
export type ClientMessage =
  | EchoRequest
  | PingRequest
  | AuthRequest
  | SubscribeRequest
  | UnsubscribeRequest
  | PublishRequest
  | BroadcastRequest
  | PresenceRequest
  | HistoryRequest
  | DirectRequest;

export type ClientMessageType = ClientMessage['type'];

/** Client message types, in protocol-table order. */
export const CLIENT_MESSAGE_TYPES = Object.freeze([
  'echo', 'ping', 'auth', 'subscribe', 'unsubscribe', 'publish', 'broadcast', 'presence', 'history', 'direct',
] as const) satisfies readonly ClientMessageType[];

// ---- server → client -------------------------------------------------------------------------

interface ServerBase<T extends string> {
  type: T;
  timestamp: number;
  id?: RequestId;
}
export interface ConnectionMessage extends ServerBase<'connection'> {
  data: {
    clientId: string;
    protocol: typeof PROTOCOL_VERSION;
    heartbeatMs: number;
    server: { name: string; version: string; nodeId?: string };
    userId?: string;
    expiresAt?: number;
  };
}
export interface EchoReply extends ServerBase<'echo'> { data?: unknown }
export interface PongReply extends ServerBase<'pong'> { data?: unknown }
export interface AuthenticatedReply extends ServerBase<'authenticated'> {
  data: { userId: string; expiresAt: number | null };
}
export interface SubscribedReply extends ServerBase<'subscribed'> {
  channel: string;
  data: {
    offset: number;
    epoch: string;
    recovered?: boolean;
    reason?: RecoveryFailure;
    /** Initial state for channels that have one (the demo `events` channel). */
    state?: unknown;
  };
}
export interface UnsubscribedReply extends ServerBase<'unsubscribed'> { channel: string }
export interface AckReply extends ServerBase<'ack'> { data?: { offset?: number; epoch?: string; delivered?: number; duplicate?: boolean } }
export interface PresenceReply extends ServerBase<'presence'> {
  channel: string;
  data: { members: ClientInfo[]; users: string[] };
}
export interface HistoryReply extends ServerBase<'history'> {
  channel: string;
  data: { publications: Publication[]; offset: number; epoch: string };
}
export interface PublicationMessage extends ServerBase<'message'> {
  channel: string;
  data: unknown;
  offset: number;
  epoch: string;
  event?: string;
  from?: string;
  /** Present (true) on ephemeral publications: not in history, offset not advanced. */
  ephemeral?: true;
}
export interface BroadcastMessage extends ServerBase<'broadcast'> { data: unknown; channel?: string }
export interface JoinMessage extends ServerBase<'join'> { channel: string; data: ClientInfo }
export interface LeaveMessage extends ServerBase<'leave'> { channel: string; data: ClientInfo }
export interface DirectMessage extends ServerBase<'direct'> { from: string; data: unknown }
export interface ErrorMessage extends ServerBase<'error'> {
  data: { code: ErrorCode; message: string; retryAfterMs?: number; details?: unknown };
}

/** Every message a server may send. */
export type ServerMessage =
  | ConnectionMessage
  | EchoReply
  | PongReply
  | AuthenticatedReply
  | SubscribedReply
  | UnsubscribedReply
  | AckReply
  | PresenceReply
  | HistoryReply
  | PublicationMessage
  | BroadcastMessage
  | JoinMessage
  | LeaveMessage
  | DirectMessage
  | ErrorMessage;

export type ServerMessageType = ServerMessage['type'];
