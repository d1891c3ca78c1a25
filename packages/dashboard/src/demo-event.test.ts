// Unit tests of the checks applied to demo feed frames.

import { describe, expect, it } from 'vitest';
import { eventsFromState, isDemoEvent } from './demo-event';

const event = {
  id: 'EVENT#00', name: 'A vs B', home: 'A', away: 'B', homeScore: 1, awayScore: 0,
  minute: 12, status: 'live', updatedAt: 1_700_000_000_000, updates: 3,
};

describe('isDemoEvent', () => {
  it('accepts an event of the demo feed', () => {
    expect(isDemoEvent(event)).toBe(true);
  });

  it('refuses anything with a missing or mistyped field', () => {
    expect(isDemoEvent({ ...event, homeScore: '1' })).toBe(false);
    const { id: _id, ...withoutId } = event;
    expect(isDemoEvent(withoutId)).toBe(false);
    expect(isDemoEvent(null)).toBe(false);
    expect(isDemoEvent([event])).toBe(false);
  });
});

describe('eventsFromState', () => {
  it('returns the valid events of a subscribed state', () => {
    expect(eventsFromState({ events: [event, { id: 'broken' }] })).toEqual([event]);
  });

  it('returns an empty list for a state of another shape', () => {
    expect(eventsFromState(undefined)).toEqual([]);
    expect(eventsFromState({ events: 'none' })).toEqual([]);
  });
});
