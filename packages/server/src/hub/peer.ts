// What the hub knows of a connection: an address for routing and a way to hand it a message.

import type { ClientInfo } from '@switchyard/protocol';
import type { Outbound } from './outbound.js';

/** A connection as the hub sees it. The transport and session stand behind it. */
export interface Peer {
  readonly clientId: string;
  /** The authenticated user, when there is one. */
  readonly userId: string | undefined;
  /** Queue `outbound` for sending; must not throw. Returns false when the peer is closing. */
  deliver(outbound: Outbound): boolean;
}

/**
 * Where the hub hands one message meant for many peers (a channel's subscribers). The WebSocket
 * transport holds it to the end of the tick and writes it in one pass; without one, each peer gets
 * `deliver`.
 */
export interface Outbox {
  /**
   * Send `outbound` to each of `peers`. The hub never changes an array it has handed over (it builds a new one
   * when subscribers change), so an outbox may keep `peers`, or what it derives from it, for as long as it likes.
   */
  deliverAll(outbound: Outbound, peers: readonly Peer[]): void;
}

/** The outbox that hands each peer the message at once. */
export const eachPeer: Outbox = {
  deliverAll(outbound, peers) {
    for (const peer of peers) peer.deliver(outbound);
  },
};

/** The presence record of a peer on a channel. */
export function memberOf(peer: Peer, info: Record<string, unknown> | undefined): ClientInfo {
  const member: ClientInfo = { clientId: peer.clientId };
  if (peer.userId !== undefined) member.userId = peer.userId;
  if (info !== undefined) member.info = info;
  return member;
}
