// The `$stats` channel: one `update` a second with the server's live figures.

import { STATS_CHANNEL, type StatsSnapshot } from '@switchyard/protocol';
import type { Hub } from '../hub/hub.js';
import type { Stats } from '../stats.js';

/** Sends a `StatsSnapshot` to this server's `$stats` subscribers every `intervalMs`. */
export class StatsFeed {
  static readonly channel = STATS_CHANNEL;
  readonly #hub: Hub;
  readonly #stats: Stats;
  readonly #startedAt: number;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #last = { at: Date.now(), messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 };
  #latest: StatsSnapshot | undefined;

  constructor(hub: Hub, stats: Stats, startedAt: number, intervalMs = 1000) {
    this.#hub = hub;
    this.#stats = stats;
    this.#startedAt = startedAt;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    this.#hub.setChannelState(StatsFeed.channel, () => this.#latest ?? this.snapshot());
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Current figures; rates are over the time since the previous snapshot. */
  snapshot(): StatsSnapshot {
    const now = Date.now();
    const stats = this.#stats;
    const seconds = Math.max((now - this.#last.at) / 1000, 0.001);
    const snapshot: StatsSnapshot = {
      connections: stats.connections,
      channels: this.#hub.channelCount,
      messagesInPerSecond: Math.round((stats.messagesIn - this.#last.messagesIn) / seconds),
      messagesOutPerSecond: Math.round((stats.messagesOut - this.#last.messagesOut) / seconds),
      bytesInPerSecond: Math.round((stats.bytesIn - this.#last.bytesIn) / seconds),
      bytesOutPerSecond: Math.round((stats.bytesOut - this.#last.bytesOut) / seconds),
      messagesIn: stats.messagesIn,
      messagesOut: stats.messagesOut,
      uptimeMs: now - this.#startedAt,
      memoryRss: process.memoryUsage.rss(),
      nodeId: this.#hub.engine.nodeId,
    };
    this.#mark(now);
    return snapshot;
  }

  /** Remember the counters at `now`: the next snapshot's rates are measured from here. */
  #mark(now: number): void {
    const stats = this.#stats;
    this.#last = { at: now, messagesIn: stats.messagesIn, messagesOut: stats.messagesOut, bytesIn: stats.bytesIn, bytesOut: stats.bytesOut };
  }

  #tick(): void {
    if (!this.#hub.hasLocalSubscribers(StatsFeed.channel)) {
      // Nobody to tell: keep only the counters that the next snapshot's rates start from.
      this.#latest = undefined;
      this.#mark(Date.now());
      return;
    }
    this.#latest = this.snapshot();
    // Each server publishes its own figures to its own subscribers: in a cluster they differ per node.
    this.#hub.publishLocal(StatsFeed.channel, this.#latest, 'update');
  }
}
