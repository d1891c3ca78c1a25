// Payloads of the server's built-in feeds: the demo score board (`events`) and live figures (`$stats`).

/** The channel the demo feed publishes on. */
export const EVENTS_CHANNEL = 'events';

/** The channel carrying each server's live figures. */
export const STATS_CHANNEL = '$stats';

/** One live event of the demo score board: `GET /events` items and `update` messages on `events`. */
export interface DemoEvent {
  id: string;
  name: string;
  home: string;
  away: string;
  homeScore: number;
  awayScore: number;
  minute: number;
  status: 'live' | 'finished';
  updatedAt: number;
  updates: number;
}

/** One `update` on `$stats`: this server's figures; rates are per second since the previous update. */
export interface StatsSnapshot {
  connections: number;
  channels: number;
  messagesInPerSecond: number;
  messagesOutPerSecond: number;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
  messagesIn: number;
  messagesOut: number;
  uptimeMs: number;
  memoryRss: number;
  nodeId: string;
}
