// The page's one SDK client, shared with every panel through React context.

import { createContext, useContext } from 'react';
import type { SwitchyardClient } from '@switchyard/client';

/** Holds the page's `SwitchyardClient`; provided once in `main.tsx`. */
export const ClientContext = createContext<SwitchyardClient | undefined>(undefined);

/** The page's client. Throws when used outside `ClientContext` (a wiring mistake, not a runtime state). */
export function useClient(): SwitchyardClient {
  const client = useContext(ClientContext);
  if (client === undefined) throw new Error('useClient() needs a ClientContext provider');
  return client;
}
