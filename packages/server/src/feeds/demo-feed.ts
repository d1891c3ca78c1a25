// The demo feed of the seed documents: five live "events" (a score board) changing every 2–7 s.

import { EVENTS_CHANNEL, type DemoEvent } from '@switchyard/protocol';
import type { Hub } from '../hub/hub.js';

const FIXTURES: Array<[string, string, string]> = [
  ['EVENT#00', 'Harbour City', 'Northside Rovers'],
  ['EVENT#01', 'Redwood United', 'Lakeshore FC'],
  ['EVENT#02', 'Old Mill Athletic', 'Eastgate Town'],
  ['EVENT#03', 'Summit Wanderers', 'Riverside Albion'],
  ['EVENT#04', 'Copper Valley', 'Westbrook Rangers'],
];

/** How often a cluster node checks who runs the feed and, if not itself, catches up from history. */
const CLUSTER_SYNC_MS = 2000;

/**
 * Runs the demo events and publishes each change on channel `events` (event `update`).
 * In a cluster one node runs the feed (the live node with the smallest id); the others follow it by
 * reading the channel's history, so every server tells the same story.
 */
export class DemoFeed {
  static readonly channel = EVENTS_CHANNEL;
  readonly #hub: Hub;
  readonly #events = new Map<string, DemoEvent>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #onError: (error: unknown) => void;
  readonly #connections: () => number;
  #leading: boolean;
  #syncTimer: NodeJS.Timeout | undefined;

  constructor(hub: Hub, onError: (error: unknown) => void, connections: () => number = () => 0) {
    this.#hub = hub;
    this.#onError = onError;
    this.#connections = connections;
    this.#leading = !hub.engine.remote;
    const now = Date.now();
    for (const [id, home, away] of FIXTURES) {
      this.#events.set(id, { id, name: `${home} vs ${away}`, home, away, homeScore: 0, awayScore: 0, minute: 0, status: 'live', updatedAt: now, updates: 0 });
    }
  }

  /** Every event, as `GET /events` answers. */
  list(): DemoEvent[] {
    return [...this.#events.values()].map((event) => ({ ...event }));
  }

  get(id: string): DemoEvent | undefined {
    const event = this.#events.get(id);
    return event === undefined ? undefined : { ...event };
  }

  start(): void {
    this.#hub.setChannelState(DemoFeed.channel, () => ({ events: this.list() }));
    for (const id of this.#events.keys()) this.#schedule(id);
    if (this.#hub.engine.remote) {
      this.#syncTimer = setInterval(() => this.#sync().catch(this.#onError), CLUSTER_SYNC_MS);
      this.#syncTimer.unref();
      this.#sync().catch(this.#onError);
    }
  }

  stop(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    clearInterval(this.#syncTimer);
  }

  /** Cluster only: decide who runs the feed; a follower takes the latest state of each event from history. */
  async #sync(): Promise<void> {
    const engine = this.#hub.engine;
    const nodes = await engine.nodes(this.#connections());
    const leader = nodes.map((node) => node.id).sort()[0];
    this.#leading = leader === undefined || leader === engine.nodeId;
    if (this.#leading) return;
    const history = await this.#hub.history(DemoFeed.channel, { limit: 100, reverse: true });
    const seen = new Set<string>();
    for (const publication of history.data.publications) {
      const event = publication.data as DemoEvent;
      if (publication.event !== 'update' || typeof event?.id !== 'string' || seen.has(event.id) || !this.#events.has(event.id)) continue;
      seen.add(event.id);
      this.#events.set(event.id, { ...event });
    }
  }

  #schedule(id: string): void {
    const delay = 2000 + Math.floor(Math.random() * 5000);
    const timer = setTimeout(() => {
      this.#change(id);
      this.#schedule(id);
    }, delay);
    timer.unref();
    this.#timers.set(id, timer);
  }

  #change(id: string): void {
    const event = this.#events.get(id);
    if (event === undefined || !this.#leading) return;
    event.minute = Math.min(event.minute + 1 + Math.floor(Math.random() * 4), 90);
    const roll = Math.random();
    if (roll < 0.35) event.homeScore++;
    else if (roll < 0.7) event.awayScore++;
    if (event.minute >= 90) {
      // Full time: start a new match so the board keeps moving.
      event.status = 'live';
      event.minute = 0;
      event.homeScore = 0;
      event.awayScore = 0;
    }
    event.updatedAt = Date.now();
    event.updates++;
    this.#hub.publish({ channel: DemoFeed.channel, event: 'update', data: { ...event } }).catch(this.#onError);
  }
}
