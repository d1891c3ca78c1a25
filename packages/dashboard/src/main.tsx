// Entry point: creates the page's SDK client and renders the dashboard.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { SwitchyardClient } from '@switchyard/client';
import { App } from './app';
import { ClientContext } from './client-context';
import { pageToken } from './page-token';
import { socketUrl } from './socket-url';
import './styles.css';

// One client for the page, created outside React so re-renders (and StrictMode's double effects)
// never open a second connection. A dashboard watching a restarting server should retry often.
const token = pageToken();
const client = new SwitchyardClient(socketUrl(), {
  reconnect: { minDelayMs: 500, maxDelayMs: 5_000 },
  ...(token !== undefined ? { token } : {}),
});

const root = document.getElementById('root');
if (root === null) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <ClientContext.Provider value={client}>
      <App />
    </ClientContext.Provider>
  </StrictMode>,
);
