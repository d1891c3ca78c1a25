// Prometheus metrics (prom-client), read from the plain counters when scraped.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Stats } from './stats.js';

/** How often the event-loop lag metrics take a sample. */
const EVENT_LOOP_SAMPLE_MS = 100;

/** A registry with Switchyard's metrics for one server. Each server has its own, so several can share a process. */
export function createMetrics(stats: Stats, gauges: { channels: () => number; ready: () => boolean }): Registry {
  const registry = new Registry();
  // prom-client samples event-loop lag every 10 ms by default: 100 wake-ups a second, about 1 % of a core on an
  // otherwise idle server (measured with 10k idle connections: 11 ms of CPU a second, 2 ms at 100 ms).
  // prom-client's names already start with `process_` or `nodejs_`, so the prefix is ours alone.
  collectDefaultMetrics({ register: registry, prefix: 'switchyard_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });

  // Counters are mirrored from `Stats` at scrape time: the hot path only does integer additions.
  const mirror = (counter: Counter<string>, read: () => Map<string | number, number> | number, label?: string): void => {
    const seen = new Map<string, number>();
    Object.assign(counter, {
      collect: () => {
        const value = read();
        if (typeof value === 'number') {
          const delta = value - (seen.get('') ?? 0);
          if (delta > 0) counter.inc(delta);
          seen.set('', value);
          return;
        }
        for (const [key, total] of value) {
          const name = String(key);
          const delta = total - (seen.get(name) ?? 0);
          if (delta > 0 && label !== undefined) counter.inc({ [label]: name }, delta);
          seen.set(name, total);
        }
      },
    });
  };

  new Gauge({ name: 'switchyard_connections', help: 'WebSocket connections open now', registers: [registry], collect() { this.set(stats.connections); } });
  new Gauge({ name: 'switchyard_channels', help: 'Channels with local subscribers', registers: [registry], collect() { this.set(gauges.channels()); } });
  new Gauge({ name: 'switchyard_ready', help: '1 when the server accepts work (engine available)', registers: [registry], collect() { this.set(gauges.ready() ? 1 : 0); } });
  mirror(new Counter({ name: 'switchyard_connections_total', help: 'WebSocket connections accepted', registers: [registry] }), () => stats.connectionsTotal);
  mirror(new Counter({ name: 'switchyard_messages_in_total', help: 'Client messages received, by type', labelNames: ['type'], registers: [registry] }), () => stats.messagesInByType, 'type');
  mirror(new Counter({ name: 'switchyard_messages_out_total', help: 'Messages sent to clients, by type', labelNames: ['type'], registers: [registry] }), () => stats.messagesOutByType, 'type');
  mirror(new Counter({ name: 'switchyard_bytes_in_total', help: 'Bytes of client messages received', registers: [registry] }), () => stats.bytesIn);
  mirror(new Counter({ name: 'switchyard_bytes_out_total', help: 'Bytes of frames written to clients', registers: [registry] }), () => stats.bytesOut);
  mirror(new Counter({ name: 'switchyard_errors_total', help: 'Errors sent to clients, by code', labelNames: ['code'], registers: [registry] }), () => stats.errorsByCode, 'code');
  mirror(new Counter({ name: 'switchyard_closes_total', help: 'Connections closed, by close code', labelNames: ['code'], registers: [registry] }), () => stats.closesByCode, 'code');
  mirror(new Counter({ name: 'switchyard_slow_consumers_total', help: 'Connections closed for passing the send high-water mark', registers: [registry] }), () => stats.slowConsumers);
  mirror(new Counter({ name: 'switchyard_helper_writes_total', help: 'Fan-out writes made by the write helper thread (option parallelWritesMin)', registers: [registry] }), () => stats.helperWrites);
  return registry;
}
