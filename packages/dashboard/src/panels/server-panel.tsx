// Server panel: the live figures of channel `$stats` and a chart of messages per second.

import { useCallback, useState } from 'react';
import type { Subscription } from '@switchyard/client';
import { LiveChart } from '../components/live-chart';
import { formatBytes, formatCount, formatDuration } from '../format-figures';
import { useSubscription } from '../hooks/use-subscription';
import { isStatsSnapshot, STATS_CHANNEL, type StatsSnapshot } from '../stats-snapshot';

const CHART_SECONDS = 60;

/** The server's connections, channels, throughput and memory, one update a second. */
export function ServerPanel() {
  const [latest, setLatest] = useState<StatsSnapshot | undefined>();
  const [history, setHistory] = useState<StatsSnapshot[]>([]);

  const bind = useCallback((subscription: Subscription) => {
    if (isStatsSnapshot(subscription.initialState)) setLatest(subscription.initialState);
    const offSubscribed = subscription.on('subscribed', (info) => {
      if (isStatsSnapshot(info.state)) setLatest(info.state);
    });
    const offMessage = subscription.on('message', (message) => {
      const snapshot = message.data;
      if (!isStatsSnapshot(snapshot)) return;
      setLatest(snapshot);
      setHistory((previous) => [...previous, snapshot].slice(-CHART_SECONDS));
    });
    return () => {
      offSubscribed();
      offMessage();
    };
  }, []);
  useSubscription(STATS_CHANNEL, bind);

  const tiles: Array<[label: string, value: string, testId: string]> = latest === undefined ? [] : [
    ['Connections', formatCount(latest.connections), 'stats-connections'],
    ['Channels', formatCount(latest.channels), 'stats-channels'],
    ['Messages in/s', formatCount(latest.messagesInPerSecond), 'stats-in'],
    ['Messages out/s', formatCount(latest.messagesOutPerSecond), 'stats-out'],
    ['Bytes in/s', formatBytes(latest.bytesInPerSecond), 'stats-bytes-in'],
    ['Bytes out/s', formatBytes(latest.bytesOutPerSecond), 'stats-bytes-out'],
    ['Uptime', formatDuration(latest.uptimeMs), 'stats-uptime'],
    ['Memory (RSS)', formatBytes(latest.memoryRss), 'stats-memory'],
  ];
  return (
    <section className="panel panel-server" aria-labelledby="server-title">
      <header className="panel-header">
        <h2 id="server-title">Server</h2>
        <span className="muted" title="node id" data-testid="stats-node">{latest?.nodeId ?? STATS_CHANNEL}</span>
      </header>
      {latest === undefined ? (
        <p className="empty">Waiting for <code>{STATS_CHANNEL}</code>…</p>
      ) : (
        <dl className="figure-list" data-testid="server-stats">
          {tiles.map(([label, value, testId]) => (
            <div key={testId}>
              <dt>{label}</dt>
              <dd data-testid={testId}>{value}</dd>
            </div>
          ))}
        </dl>
      )}
      <LiveChart
        testId="stats-chart"
        capacity={CHART_SECONDS}
        formatValue={(value) => `${formatCount(value)}/s`}
        series={[
          { label: 'in/s', color: '#60a5fa', values: history.map((snapshot) => snapshot.messagesInPerSecond) },
          { label: 'out/s', color: '#f472b6', values: history.map((snapshot) => snapshot.messagesOutPerSecond) },
        ]}
      />
    </section>
  );
}
