// The server's live figures, as they arrive on channel `$stats`, checked before use.

import type { StatsSnapshot } from '@switchyard/protocol';

export { STATS_CHANNEL, type StatsSnapshot } from '@switchyard/protocol';

const NUMERIC_FIELDS = [
  'connections', 'channels', 'messagesInPerSecond', 'messagesOutPerSecond',
  'bytesInPerSecond', 'bytesOutPerSecond', 'messagesIn', 'messagesOut', 'uptimeMs', 'memoryRss',
] as const;

/** Whether `value` has the shape of a `StatsSnapshot`. */
export function isStatsSnapshot(value: unknown): value is StatsSnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record['nodeId'] === 'string' && NUMERIC_FIELDS.every((key) => typeof record[key] === 'number');
}
