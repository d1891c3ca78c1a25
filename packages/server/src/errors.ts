// The server's error type and the one function that turns an error into a reply.

import { ErrorCodes, type ErrorCode, type ErrorMessage, type RequestId } from '@switchyard/protocol';

/** An error that reaches a client as an `error` frame or a 4xx/5xx JSON body. */
export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterMs: number | undefined;
  constructor(code: ErrorCode, message?: string, retryAfterMs?: number) {
    super(message ?? ErrorCodes[code].message);
    this.name = 'SwitchyardError';
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }

  /** HTTP status for this error. */
  get httpStatus(): number {
    return ErrorCodes[this.code].httpStatus;
  }
}

/** Any thrown value as a `SwitchyardError` (unknown errors become `internal`, without leaking details). */
export function toSwitchyardError(error: unknown): SwitchyardError {
  if (error instanceof SwitchyardError) return error;
  return new SwitchyardError('internal');
}

/** The `error` frame for an error, echoing the request id. */
export function errorFrame(error: SwitchyardError, id?: RequestId): ErrorMessage {
  const frame: ErrorMessage = {
    type: 'error',
    timestamp: Date.now(),
    data: { code: error.code, message: error.message },
  };
  if (id !== undefined) frame.id = id;
  if (error.retryAfterMs !== undefined) frame.data.retryAfterMs = error.retryAfterMs;
  return frame;
}

/** The JSON body of an HTTP error answer. */
export function errorBody(error: SwitchyardError): { error: { code: ErrorCode; message: string; retryAfterMs?: number } } {
  const body: { code: ErrorCode; message: string; retryAfterMs?: number } = { code: error.code, message: error.message };
  if (error.retryAfterMs !== undefined) body.retryAfterMs = error.retryAfterMs;
  return { error: body };
}
