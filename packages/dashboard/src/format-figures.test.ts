// Unit tests of the dashboard's number formatting.

import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatDuration, formatMs } from './format-figures';

describe('formatDuration', () => {
  it('shows minutes and seconds, and hours once there are any', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(5_999)).toBe('0:05');
    expect(formatDuration(123_000)).toBe('2:03');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
  });

  it('never shows a negative duration', () => {
    expect(formatDuration(-5_000)).toBe('0:00');
  });
});

describe('formatBytes', () => {
  it('uses powers of 1024 with one decimal below 100', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(230 * 1024 * 1024)).toBe('230 MB');
  });
});

describe('formatMs', () => {
  it('keeps more decimals for small round trips', () => {
    expect(formatMs(0.4321)).toBe('0.43 ms');
    expect(formatMs(42.25)).toBe('42.3 ms');
    expect(formatMs(420.6)).toBe('421 ms');
    expect(formatMs(undefined)).toBe('–');
  });
});

describe('formatCount', () => {
  it('groups thousands', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
  });
});
