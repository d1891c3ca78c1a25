// Requests sent and awaiting their reply, matched by `id`, each with its own timeout.

import type { ClientMessage, RequestId, ServerMessage } from '@switchyard/protocol';
import { ClientError } from './client-error.js';
import type { Timers } from './client-options.js';

/** A request on its way: the frame to send and how to settle its promise. */
export interface OutgoingRequest {
  readonly message: ClientMessage & { id: RequestId };
  /** Called with the reply frame (never an `error` frame). */
  readonly resolve: (reply: ServerMessage) => void;
  readonly reject: (error: ClientError) => void;
  /** Called when the frame is actually written (a queued request is sent later than it was made). */
  readonly onSent?: () => void;
  /** Never queued, never sent again after a reconnect. */
  readonly volatile?: boolean;
}

interface InFlight {
  request: OutgoingRequest;
  timer: unknown;
}

/** The requests of one connection that wait for a reply. */
export class PendingRequests {
  readonly #inFlight = new Map<RequestId, InFlight>();
  readonly #timers: Timers;
  readonly #timeoutMs: number;

  constructor(timers: Timers, timeoutMs: number) {
    this.#timers = timers;
    this.#timeoutMs = timeoutMs;
  }

  get size(): number {
    return this.#inFlight.size;
  }

  /** Start waiting for the reply to `request`, which has just been sent. */
  track(request: OutgoingRequest): void {
    const id = request.message.id;
    const timer = this.#timers.setTimeout(() => {
      if (this.#inFlight.get(id)?.request !== request) return;
      this.#inFlight.delete(id);
      request.reject(new ClientError('timeout', `no reply to ${request.message.type} within ${this.#timeoutMs} ms`));
    }, this.#timeoutMs);
    this.#inFlight.set(id, { request, timer });
  }

  /** Settle the request `frame` answers. Returns false when no request waits for that id. */
  settle(frame: ServerMessage & { id: RequestId }): boolean {
    const entry = this.#inFlight.get(frame.id);
    if (entry === undefined) return false;
    this.#inFlight.delete(frame.id);
    this.#timers.clearTimeout(entry.timer);
    if (frame.type === 'error') entry.request.reject(ClientError.fromFrame(frame.data));
    else entry.request.resolve(frame);
    return true;
  }

  /** Stop waiting for every request (the connection is gone) and hand them back, oldest first. */
  takeAll(): OutgoingRequest[] {
    const requests: OutgoingRequest[] = [];
    for (const entry of this.#inFlight.values()) {
      this.#timers.clearTimeout(entry.timer);
      requests.push(entry.request);
    }
    this.#inFlight.clear();
    return requests;
  }
}
