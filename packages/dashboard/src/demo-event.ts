// The demo feed's event objects, as they arrive on channel `events`, checked before use.

/** One live event of the demo score board (see PROTOCOL.md, "The demo feed"). */
export interface DemoEvent {
  id: string;
  name: string;
  home: string;
  away: string;
  homeScore: number;
  awayScore: number;
  minute: number;
  status: string;
  updatedAt: number;
  updates: number;
}

/** The channel the demo feed publishes on. */
export const EVENTS_CHANNEL = 'events';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `value` has the shape of a `DemoEvent` (frames come from the network: trust nothing). */
export function isDemoEvent(value: unknown): value is DemoEvent {
  if (!isRecord(value)) return false;
  return ['id', 'name', 'home', 'away', 'status'].every((key) => typeof value[key] === 'string')
    && ['homeScore', 'awayScore', 'minute', 'updatedAt', 'updates'].every((key) => typeof value[key] === 'number');
}

/** The events in a `subscribed` state (`{ events: [...] }`); an empty list for anything else. */
export function eventsFromState(state: unknown): DemoEvent[] {
  if (!isRecord(state) || !Array.isArray(state['events'])) return [];
  return state['events'].filter(isDemoEvent);
}
