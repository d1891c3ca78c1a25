// The client's connection state as React state.

import { useEffect, useState } from 'react';
import type { ClientState } from '@switchyard/client';
import { useClient } from '../client-context';

/** The page client's current state, updated on every `state` event. */
export function useClientState(): ClientState {
  const client = useClient();
  const [state, setState] = useState<ClientState>(client.state);
  useEffect(() => {
    setState(client.state);
    return client.on('state', ({ newState }) => setState(newState));
  }, [client]);
  return state;
}
