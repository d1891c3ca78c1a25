// The server's live figures, as they arrive on channel `$stats`, checked before use.

/** One `$stats` update. */
export interface StatsSnapshot {
  connections: number;
  channels: number;
  messagesInPerSecond: number;
  messagesOutPerSecond: number;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
  uptimeMs: number;
  memoryRss: number;
  nodeId: string;
}

/** The server's own statistics channel. */
export const STATS_CHANNEL = '$stats';

const NUMERIC_FIELDS = [
  'connections', 'channels', 'messagesInPerSecond', 'messagesOutPerSecond',
  'bytesInPerSecond', 'bytesOutPerSecond', 'uptimeMs', 'memoryRss',
] as const;

/** Whether `value` has the shape of a `StatsSnapshot`. */
export function isStatsSnapshot(value: unknown): value is StatsSnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record['nodeId'] === 'string' && NUMERIC_FIELDS.every((key) => typeof record[key] === 'number');
}
