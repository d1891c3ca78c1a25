// WebSocket close codes used by Switchyard and the rule that decides whether a client reconnects.

/** Close codes with their names and whether a client should reconnect after them. */
export const CloseCodes = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  NO_STATUS: 1005,
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  /** The client stopped reading and its send buffer passed the high-water mark. Reconnect. */
  SLOW_CONSUMER: 4000,
  /** The server lost its engine (e.g. Redis) for too long; reconnect and recover. */
  ENGINE_UNAVAILABLE: 4001,
  /** The connection did not answer protocol pings; reconnect. */
  HEARTBEAT_TIMEOUT: 4002,
  /** The server asked the client to leave and not come back (kicked, banned). */
  KICKED: 4500,
  /** The client speaks a protocol version or encoding the server does not support. */
  UNSUPPORTED_PROTOCOL: 4501,
} as const;

export type CloseCode = (typeof CloseCodes)[keyof typeof CloseCodes];

/** Human-readable default reasons (each ≤ 123 bytes, as RFC 6455 requires). */
export const CloseReasons: Readonly<Record<number, string>> = Object.freeze({
  1000: 'normal closure',
  1001: 'server going away',
  1002: 'protocol error',
  1007: 'invalid UTF-8',
  1008: 'policy violation',
  1009: 'message too big',
  1011: 'internal error',
  1013: 'try again later',
  4000: 'slow consumer',
  4001: 'engine unavailable',
  4002: 'heartbeat timeout',
  4500: 'kicked',
  4501: 'unsupported protocol',
});

/**
 * Whether a client should reconnect after a close with `code`.
 * 4000–4499 mean "reconnect", 4500–4999 "do not"; of the standard codes, only those that describe
 * a transient condition (going away, abnormal drop, internal error, restart, overload) are retryable.
 */
export function isRetryable(code: number): boolean {
  if (code >= 4000 && code <= 4499) return true;
  if (code >= 4500 && code <= 4999) return false;
  switch (code) {
    case CloseCodes.GOING_AWAY:
    case CloseCodes.NO_STATUS:
    case CloseCodes.ABNORMAL:
    case CloseCodes.MESSAGE_TOO_BIG:
    case CloseCodes.INTERNAL_ERROR:
    case CloseCodes.SERVICE_RESTART:
    case CloseCodes.TRY_AGAIN_LATER:
    case 1014: // bad gateway (a proxy in between)
    case 1015: // TLS handshake failure at a proxy
      return true;
    default:
      return false;
  }
}

/** Truncate a close reason to the 123-byte limit of RFC 6455 without splitting a UTF-8 sequence. */
export function clampCloseReason(reason: string): string {
  const encoder = new TextEncoder();
  if (encoder.encode(reason).length <= 123) return reason;
  let out = '';
  let bytes = 0;
  for (const ch of reason) {
    const size = encoder.encode(ch).length;
    if (bytes + size > 123) break;
    out += ch;
    bytes += size;
  }
  return out;
}
