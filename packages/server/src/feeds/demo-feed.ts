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

/** Runs the demo events and publishes each change on channel `events` (event `update`). */
export class DemoFeed {
  static readonly channel = EVENTS_CHANNEL;
  readonly #hub: Hub;
  readonly #events = new Map<string, DemoEvent>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #onError: (error: unknown) => void;

  constructor(hub: Hub, onError: (error: unknown) => void) {
    this.#hub = hub;
    this.#onError = onError;
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
  }

  stop(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
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
    if (event === undefined) return;
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
