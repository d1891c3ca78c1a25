// The live events board: the demo feed's five events, each score flashing when it changes.

import { useCallback, useState } from 'react';
import type { Subscription } from '@switchyard/client';
import { EVENTS_CHANNEL, eventsFromState, isDemoEvent, type DemoEvent } from '../demo-event';
import { useSubscription } from '../hooks/use-subscription';

/** An event with what changed in its latest update, so only that score flashes. */
interface BoardEntry {
  event: DemoEvent;
  changed: { home: boolean; away: boolean; any: boolean };
}

const UNCHANGED = { home: false, away: false, any: false };

function boardFrom(events: readonly DemoEvent[]): Map<string, BoardEntry> {
  return new Map(events.map((event) => [event.id, { event, changed: UNCHANGED }]));
}

/** The score board of channel `events`: the initial list from `subscribed`, then each `update`. */
export function EventsBoard() {
  const [board, setBoard] = useState<Map<string, BoardEntry>>(new Map());
  const [lastUpdate, setLastUpdate] = useState<number | undefined>();
  const [received, setReceived] = useState(0);

  const bind = useCallback((subscription: Subscription) => {
    if (subscription.state === 'subscribed') setBoard(boardFrom(eventsFromState(subscription.initialState)));
    // Every (re)subscribe carries the current list: a restarted server starts new matches.
    const offSubscribed = subscription.on('subscribed', (info) => {
      if (info.state !== undefined) setBoard(boardFrom(eventsFromState(info.state)));
    });
    const offMessage = subscription.on('message', (message) => {
      if (message.event !== 'update' || !isDemoEvent(message.data)) return;
      const event = message.data;
      setLastUpdate(Date.now());
      setReceived((count) => count + 1);
      setBoard((previous) => {
        const before = previous.get(event.id)?.event;
        const next = new Map(previous);
        next.set(event.id, {
          event,
          changed: {
            home: before !== undefined && before.homeScore !== event.homeScore,
            away: before !== undefined && before.awayScore !== event.awayScore,
            any: true,
          },
        });
        return next;
      });
    });
    return () => {
      offSubscribed();
      offMessage();
    };
  }, []);
  useSubscription(EVENTS_CHANNEL, bind);

  const entries = [...board.values()].sort((a, b) => a.event.id.localeCompare(b.event.id));
  return (
    <section className="panel panel-events" aria-labelledby="events-title">
      <header className="panel-header">
        <h2 id="events-title">Live events</h2>
        <span className="muted" data-testid="events-last-update">
          {lastUpdate === undefined ? `channel ${EVENTS_CHANNEL}` : `last update ${new Date(lastUpdate).toLocaleTimeString('en-GB')}`}
        </span>
      </header>
      {entries.length === 0 ? (
        <p className="empty">Waiting for the demo feed… (the server runs it unless started with <code>--no-demo</code>)</p>
      ) : (
        <ol className="events" data-testid="events-board">
          {entries.map(({ event, changed }) => (
            // Keyed by update count so the flash animation restarts on every update.
            <li key={`${event.id}#${event.updates}`} className={`event-card${changed.any ? ' updated' : ''}`} data-testid="event-card" data-event-id={event.id}>
              <div className="event-meta">
                <span className="event-id">{event.id}</span>
                <span className={`event-status status-${event.status}`}>{event.status === 'live' ? `● ${event.minute}'` : event.status}</span>
              </div>
              <div className="event-row">
                <span className="team">{event.home}</span>
                <b className={`score${changed.home ? ' flash' : ''}`} data-testid="event-home-score">{event.homeScore}</b>
              </div>
              <div className="event-row">
                <span className="team">{event.away}</span>
                <b className={`score${changed.away ? ' flash' : ''}`} data-testid="event-away-score">{event.awayScore}</b>
              </div>
              <div className="event-foot">
                <span data-testid="event-updates">{event.updates} update{event.updates === 1 ? '' : 's'}</span>
                <span>{new Date(event.updatedAt).toLocaleTimeString('en-GB')}</span>
              </div>
            </li>
          ))}
          <li className="event-card feed-card">
            <div className="event-meta"><span>feed</span><span>channel <code>{EVENTS_CHANNEL}</code></span></div>
            <p><b data-testid="events-received">{received}</b> update{received === 1 ? '' : 's'} received live</p>
            <p className="muted">The same list over HTTP: <a href="./events" target="_blank" rel="noreferrer">GET /events</a></p>
          </li>
        </ol>
      )}
    </section>
  );
}
