// PING panel: measures the round trip with the SDK's `ping()` and charts the last samples.

import { useCallback, useEffect, useState } from 'react';
import { useClient } from '../client-context';
import { LiveChart } from '../components/live-chart';
import { formatMs } from '../format-figures';
import { useClientState } from '../hooks/use-client-state';
import { summarizeRoundTrips } from '../round-trip-stats';

const KEPT_SAMPLES = 60;
const AUTO_PING_MS = 1_000;

/** "Send PING" with last / average / p95 round trip and a live chart; optionally pings every second. */
export function PingPanel() {
  const client = useClient();
  const state = useClientState();
  const [samples, setSamples] = useState<number[]>([]);
  const [auto, setAuto] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const connected = state === 'connected';

  const ping = useCallback(async () => {
    try {
      const roundTrip = await client.ping();
      setSamples((previous) => [...previous, roundTrip].slice(-KEPT_SAMPLES));
      setError(undefined);
    } catch (cause) {
      setError(cause instanceof Error ? cause.message : String(cause));
    }
  }, [client]);

  useEffect(() => {
    if (!auto || !connected) return;
    const timer = setInterval(() => void ping(), AUTO_PING_MS);
    return () => clearInterval(timer);
  }, [auto, connected, ping]);

  const summary = summarizeRoundTrips(samples);
  return (
    <section className="panel panel-ping" aria-labelledby="ping-title">
      <header className="panel-header">
        <h2 id="ping-title">Round trip</h2>
        <span className="muted">{summary.count} sample{summary.count === 1 ? '' : 's'}</span>
      </header>
      <dl className="figures figures-3">
        <div>
          <dt>Last</dt>
          <dd data-testid="ping-last">{formatMs(summary.last)}</dd>
        </div>
        <div>
          <dt>Average</dt>
          <dd data-testid="ping-average">{formatMs(summary.average)}</dd>
        </div>
        <div>
          <dt>p95</dt>
          <dd data-testid="ping-p95">{formatMs(summary.p95)}</dd>
        </div>
      </dl>
      <LiveChart
        testId="ping-chart"
        capacity={KEPT_SAMPLES}
        formatValue={formatMs}
        series={[{ label: 'round trip', color: '#2dd4bf', values: samples }]}
      />
      {error !== undefined && <p className="error" role="alert">{error}</p>}
      <div className="actions">
        <button type="button" className="primary" data-testid="ping" disabled={!connected} onClick={() => void ping()}>
          Send PING
        </button>
        <label className="toggle">
          <input type="checkbox" data-testid="ping-auto" checked={auto} onChange={(event) => setAuto(event.target.checked)} />
          every second
        </label>
      </div>
    </section>
  );
}
