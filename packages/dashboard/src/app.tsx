// The dashboard's layout: a header and the panels in a responsive grid.

import { useClient } from './client-context';
import { useClientState } from './hooks/use-client-state';
import { ChatPanel } from './panels/chat-panel';
import { ConnectionPanel } from './panels/connection-panel';
import { EventsBoard } from './panels/events-board';
import { MessageLog } from './panels/message-log';
import { PingPanel } from './panels/ping-panel';
import { ServerPanel } from './panels/server-panel';

/** The whole dashboard. */
export function App() {
  const client = useClient();
  const state = useClientState();
  const server = client.serverInfo;
  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <svg viewBox="0 0 32 32" aria-hidden="true"><path d="M6 22h20M6 10h20M11 10l10 12" /></svg>
          <h1>Switchyard</h1>
          <span className="muted">live dashboard</span>
        </div>
        <div className="topbar-status">
          {server !== undefined && <span className="muted server-name">{server.name} {server.version}</span>}
          <span className={`dot state-${state}`} aria-hidden="true" />
          <span className="muted">{state}</span>
        </div>
      </header>
      {/* Offline, the live panels keep their last figures, dimmed so nobody mistakes them for current. */}
      <main className={`grid${state === 'connected' ? '' : ' offline'}`} data-testid="dashboard-grid">
        <ConnectionPanel />
        <PingPanel />
        <ServerPanel />
        <EventsBoard />
        <ChatPanel />
        <MessageLog />
      </main>
    </div>
  );
}
