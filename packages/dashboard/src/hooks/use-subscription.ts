// Keeps a page-lifetime channel subscribed and its handlers attached, across disconnects and reconnects.

import { useEffect, useRef } from 'react';
import type { Subscription } from '@switchyard/client';
import { useClient } from '../client-context';

/**
 * Subscribes to `channel` for as long as the component is mounted and calls `bind` with each new
 * `Subscription` object; `bind` returns the function that detaches its handlers.
 *
 * After a user's Disconnect + Connect the SDK may hand out a fresh subscription, so the channel is
 * subscribed again on every `connected` event; `subscribe()` is idempotent, so this is a no-op
 * when the SDK kept the old one.
 */
export function useSubscription(channel: string, bind: (subscription: Subscription) => () => void): void {
  const client = useClient();
  const bindRef = useRef(bind);
  bindRef.current = bind;
  useEffect(() => {
    let current: Subscription | undefined;
    let unbind: (() => void) | undefined;
    const attach = (): void => {
      const subscription = client.subscribe(channel);
      if (subscription === current) return;
      unbind?.();
      current = subscription;
      unbind = bindRef.current(subscription);
    };
    attach();
    const offConnected = client.on('connected', attach);
    // The subscription itself stays: this dashboard's channels live as long as the page.
    return () => {
      offConnected();
      unbind?.();
    };
  }, [client, channel]);
}
