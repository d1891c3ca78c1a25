// The one error type the SDK rejects with and emits: a protocol error code, or a client-side condition.

import { isErrorCode, type ErrorCode } from '@switchyard/protocol';

/**
 * What went wrong:
 * - an `ErrorCode` from the server's `error` reply (`invalid_channel`, `rate_limited`, …);
 * - `timeout`: no reply within `requestTimeoutMs`;
 * - `closed`: the client was closed, or the connection was lost before the reply came;
 * - `queue_full`: the request was dropped from the offline queue (see `maxQueue`, `queuePolicy`).
 */
export type ClientErrorCode = ErrorCode | 'timeout' | 'closed' | 'queue_full';

/** An error from a Switchyard request or connection; `code` is stable, `message` is for people. */
export class ClientError extends Error {
  override readonly name = 'ClientError';
  readonly code: ClientErrorCode;
  /** Set with `rate_limited`: how long to wait before retrying. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ClientErrorCode, message: string, retryAfterMs?: number) {
    super(message);
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }

  /** The error carried by a server `error` frame's `data`; unknown codes become `internal`. */
  static fromFrame(data: unknown): ClientError {
    const body = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
    const code = isErrorCode(body['code']) ? body['code'] : 'internal';
    const message = typeof body['message'] === 'string' ? body['message'] : 'the server refused the request';
    const retryAfterMs = typeof body['retryAfterMs'] === 'number' ? body['retryAfterMs'] : undefined;
    return new ClientError(code, message, retryAfterMs);
  }
}
