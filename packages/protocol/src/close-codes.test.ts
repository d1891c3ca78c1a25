import { describe, expect, it } from 'vitest';
import { clampCloseReason, CloseCodes, isRetryable } from './close-codes.js';

describe('isRetryable', () => {
  it('reconnects after 4000–4499 and never after 4500–4999', () => {
    for (const code of [4000, 4001, 4002, 4250, 4499]) expect(isRetryable(code)).toBe(true);
    for (const code of [4500, 4501, 4700, 4999]) expect(isRetryable(code)).toBe(false);
  });

  it('reconnects after transient standard codes only', () => {
    for (const code of [1001, 1005, 1006, 1009, 1011, 1012, 1013]) expect(isRetryable(code)).toBe(true);
    for (const code of [1000, 1002, 1003, 1007, 1008]) expect(isRetryable(code)).toBe(false);
  });

  it('names the slow-consumer code in the reconnect range', () => {
    expect(isRetryable(CloseCodes.SLOW_CONSUMER)).toBe(true);
    expect(isRetryable(CloseCodes.KICKED)).toBe(false);
  });
});

describe('clampCloseReason', () => {
  it('keeps reasons within 123 bytes without splitting a character', () => {
    expect(clampCloseReason('short')).toBe('short');
    const long = 'é'.repeat(100);
    const clamped = clampCloseReason(long);
    expect(new TextEncoder().encode(clamped).length).toBeLessThanOrEqual(123);
    expect(clamped).toBe('é'.repeat(61));
  });
});
