// Connection panel: Connect / Disconnect, the state with a reconnect countdown, and the client's counters.

import { useEffect, useState } from 'react';
import { useClient } from '../client-context';
import { formatCount, formatDuration } from '../format-figures';
import { useClientState } from '../hooks/use-client-state';
import { useNow } from '../hooks/use-now';

/** The connection's state and counters, read from the SDK client on every tick. */
export function ConnectionPanel() {
  const client = useClient();
  const state = useClientState();
  const now = useNow(250);
  const { stats } = client;
  const connected = state === 'connected';
  const countdown = state === 'reconnecting' && client.nextReconnectAt !== undefined
    ? Math.max(0, client.nextReconnectAt - now) / 1000
    : undefined;
  const server = client.serverInfo;
  const [lastClose, setLastClose] = useState<string | undefined>();
  const [lastError, setLastError] = useState<string | undefined>();
  useEffect(() => {
    const offDisconnected = client.on('disconnected', ({ code, reason }) => setLastClose(`${code}${reason === '' ? '' : ` ${reason}`}`));
    const offError = client.on('error', (error) => setLastError(`${error.code}: ${error.message}`));
    return () => {
      offDisconnected();
      offError();
    };
  }, [client]);

  return (
    <section className="panel panel-connection" aria-labelledby="connection-title">
      <header className="panel-header">
        <h2 id="connection-title">Connection</h2>
        <span className={`state-pill state-${state}`} data-testid="connection-state">{state}</span>
      </header>
      <p className="state-detail" data-testid="connection-detail" aria-live="polite">
        {state === 'connected' && `Connected to ${server !== undefined ? `${server.name} ${server.version}` : 'the server'}`}
        {state === 'connecting' && 'Opening the WebSocket…'}
        {state === 'reconnecting' && (countdown !== undefined
          ? `Server unreachable — retrying in ${countdown.toFixed(1)} s (attempt ${client.reconnectAttempts})`
          : 'Server unreachable — retrying…')}
        {state === 'closed' && 'Disconnected. Press Connect to open a connection.'}
      </p>
      <dl className="figures">
        <div>
          <dt>Connected for</dt>
          <dd data-testid="connected-time">{connected && stats.connectedAt !== undefined ? formatDuration(now - stats.connectedAt) : '–'}</dd>
        </div>
        <div>
          <dt>Messages in</dt>
          <dd data-testid="messages-in">{formatCount(stats.messagesIn)}</dd>
        </div>
        <div>
          <dt>Messages out</dt>
          <dd data-testid="messages-out">{formatCount(stats.messagesOut)}</dd>
        </div>
        <div>
          <dt>Reconnects</dt>
          <dd data-testid="reconnects">{formatCount(stats.reconnects)}</dd>
        </div>
      </dl>
      <p className="client-id">
        client <code data-testid="client-id">{client.clientId ?? '–'}</code>
        {client.userId !== undefined && <> · user <code data-testid="user-id">{client.userId}</code></>}
        {lastClose !== undefined && <> · last close <code data-testid="last-close">{lastClose}</code></>}
      </p>
      {lastError !== undefined && <p className="error client-error" data-testid="client-error" title={lastError}>{lastError}</p>}
      <div className="actions">
        {/* While reconnecting, connect() skips the rest of the backoff and tries at once. */}
        <button type="button" className="primary" data-testid="connect" disabled={state !== 'closed' && state !== 'reconnecting'} onClick={() => client.connect()}>
          {state === 'reconnecting' ? 'Retry now' : 'Connect'}
        </button>
        <button type="button" data-testid="disconnect" disabled={state === 'closed'} onClick={() => client.disconnect()}>
          Disconnect
        </button>
      </div>
    </section>
  );
}
