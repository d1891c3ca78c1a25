// The demo feed's event objects, as they arrive on channel `events`, checked before use.

import type { DemoEvent } from '@switchyard/protocol';

export { EVENTS_CHANNEL, type DemoEvent } from '@switchyard/protocol';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `value` has the shape of a `DemoEvent` (frames come from the network: trust nothing). */
export function isDemoEvent(value: unknown): value is DemoEvent {
  if (!isRecord(value)) return false;
  return ['id', 'name', 'home', 'away'].every((key) => typeof value[key] === 'string')
    && (value['status'] === 'live' || value['status'] === 'finished')
    && ['homeScore', 'awayScore', 'minute', 'updatedAt', 'updates'].every((key) => typeof value[key] === 'number');
}

/** The events in a `subscribed` state (`{ events: [...] }`); an empty list for anything else. */
export function eventsFromState(state: unknown): DemoEvent[] {
  if (!isRecord(state) || !Array.isArray(state['events'])) return [];
  return state['events'].filter(isDemoEvent);
}
