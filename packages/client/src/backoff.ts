// Reconnect delay: exponential backoff with full jitter, as a pure function.

/** The shape of the backoff curve. */
export interface BackoffOptions {
  /** Ceiling of the first delay. */
  minDelayMs: number;
  /** Ceiling no delay exceeds. */
  maxDelayMs: number;
  /** Growth of the ceiling per attempt. */
  factor: number;
}

/**
 * Delay before reconnect attempt number `attempt` (0 for the first retry):
 * `random() * min(maxDelayMs, minDelayMs * factor^attempt)`.
 * Full jitter spreads a crowd of clients that lost the same server over the whole window, so
 * they do not all come back in the same millisecond (AWS Architecture Blog, "Exponential Backoff And Jitter").
 */
export function backoff(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempt);
  const ceiling = Math.min(options.maxDelayMs, options.minDelayMs * Math.pow(options.factor, exponent));
  // An out-of-range random source must not produce a negative or over-the-ceiling delay.
  const unit = Math.min(Math.max(random(), 0), 1);
  return Math.floor(unit * ceiling);
}
