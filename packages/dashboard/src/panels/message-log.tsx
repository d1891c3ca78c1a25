// Message log: every frame in and out (the SDK's `frame` event), filterable by type, pausable, bounded.

import { memo, useEffect, useRef, useState } from 'react';
import { useClient } from '../client-context';
import { formatClock } from '../format-figures';

/** One logged frame. */
interface LogEntry {
  seq: number;
  at: number;
  direction: 'in' | 'out';
  type: string;
  text: string;
}

const KEPT_ENTRIES = 300;
const SHOWN_CHARS = 400;

function describe(message: object): { type: string; text: string } {
  const type = (message as { type?: unknown }).type;
  const text = JSON.stringify(message);
  return {
    type: typeof type === 'string' ? type : '?',
    text: text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text,
  };
}

// Entries never change once logged, so each row renders once however often the list does.
const LogRow = memo(function LogRow({ entry }: { entry: LogEntry }) {
  return (
    <li className={`log-entry log-${entry.direction}`} data-testid="log-entry" data-type={entry.type}>
      <time>{formatClock(entry.at)}</time>
      <span className="log-direction" aria-label={entry.direction === 'in' ? 'received' : 'sent'}>{entry.direction === 'in' ? '↓' : '↑'}</span>
      <span className="log-type">{entry.type}</span>
      <code>{entry.text}</code>
    </li>
  );
});

/** The frame log; newest first. Paused, it keeps recording but the view holds still. */
export function MessageLog() {
  const client = useClient();
  const [entries, setEntries] = useState<LogEntry[]>([]);
  const [paused, setPaused] = useState(false);
  const [typeFilter, setTypeFilter] = useState('all');
  const [directionFilter, setDirectionFilter] = useState<'all' | 'in' | 'out'>('all');
  const [types, setTypes] = useState<string[]>([]);
  const buffer = useRef<LogEntry[]>([]);
  // The frame handler is registered once, so it reads the pause switch from a ref.
  const pausedRef = useRef(false);
  const [held, setHeld] = useState(0);

  useEffect(() => {
    let seq = 0;
    return client.on('frame', ({ direction, message }) => {
      const entry: LogEntry = { seq: ++seq, at: Date.now(), direction, ...describe(message) };
      buffer.current = [entry, ...buffer.current].slice(0, KEPT_ENTRIES);
      setTypes((known) => (known.includes(entry.type) ? known : [...known, entry.type].sort()));
      if (pausedRef.current) setHeld((count) => count + 1);
      else setEntries(buffer.current);
    });
  }, [client]);

  const togglePause = (): void => {
    if (paused) {
      setEntries(buffer.current);
      setHeld(0);
    }
    pausedRef.current = !paused;
    setPaused(!paused);
  };
  const clear = (): void => {
    buffer.current = [];
    setEntries([]);
    setHeld(0);
  };

  const shown = entries.filter((entry) => (typeFilter === 'all' || entry.type === typeFilter)
    && (directionFilter === 'all' || entry.direction === directionFilter));
  return (
    <section className="panel panel-log" aria-labelledby="log-title">
      <header className="panel-header">
        <h2 id="log-title">Message log</h2>
        <span className="muted">{paused ? `paused · ${held} new` : `last ${KEPT_ENTRIES} frames`}</span>
      </header>
      <div className="log-controls">
        <label>
          type
          <select data-testid="log-type" value={typeFilter} onChange={(event) => setTypeFilter(event.target.value)}>
            <option value="all">all</option>
            {types.map((type) => <option key={type} value={type}>{type}</option>)}
          </select>
        </label>
        <label>
          direction
          <select data-testid="log-direction" value={directionFilter} onChange={(event) => setDirectionFilter(event.target.value as 'all' | 'in' | 'out')}>
            <option value="all">in + out</option>
            <option value="in">in</option>
            <option value="out">out</option>
          </select>
        </label>
        <button type="button" data-testid="log-pause" aria-pressed={paused} onClick={togglePause}>{paused ? 'Resume' : 'Pause'}</button>
        <button type="button" data-testid="log-clear" onClick={clear}>Clear</button>
      </div>
      <ol className="log" data-testid="message-log">
        {shown.length === 0 && <li className="empty">No frames yet.</li>}
        {shown.map((entry) => <LogRow key={entry.seq} entry={entry} />)}
      </ol>
    </section>
  );
}
