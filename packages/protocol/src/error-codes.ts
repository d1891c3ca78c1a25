// The closed set of error codes shared by server and client (PROTOCOL.md "Error codes").

/** Every error code a Switchyard server may send; each key equals its code. */
export const ErrorCodes = {
  bad_json: { message: 'The frame is not valid JSON (or not a valid encoded message)', httpStatus: 400 },
  invalid_message: { message: 'The message does not match its schema', httpStatus: 400 },
  unknown_type: { message: 'The message type is not known', httpStatus: 400 },
  payload_too_large: { message: 'The message or body is larger than the limit', httpStatus: 413 },
  unauthorized: { message: 'Authentication is required or has failed', httpStatus: 401 },
  forbidden: { message: 'The request is not allowed for this client', httpStatus: 403 },
  rate_limited: { message: 'Too many requests; retry later', httpStatus: 429 },
  invalid_channel: { message: 'The channel name is not valid', httpStatus: 400 },
  not_subscribed: { message: 'The client is not subscribed to that channel', httpStatus: 400 },
  not_found: { message: 'Nothing matches the request', httpStatus: 404 },
  conflict: { message: 'The request conflicts with the current state', httpStatus: 409 },
  unavailable: { message: 'The service is temporarily unavailable', httpStatus: 503 },
  internal: { message: 'An internal error occurred', httpStatus: 500 },
} as const satisfies Record<string, { message: string; httpStatus: number }>;

/** One of the protocol's error codes. */
export type ErrorCode = keyof typeof ErrorCodes;

/** Every error code, in registry order. */
export const ERROR_CODES = Object.freeze(Object.keys(ErrorCodes)) as readonly ErrorCode[];

/** True when `code` is one of the protocol's error codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ErrorCodes, code);
}
