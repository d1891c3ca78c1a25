// Keeps a page-lifetime channel subscribed and its handlers attached, across disconnects and reconnects.

import { useEffect } from 'react';
import type { Subscription } from '@switchyard/client';
import { useClient } from '../client-context';

/**
 * Subscribes to `channel` for as long as the component is mounted and calls `bind` with each new
 * `Subscription` object; `bind` returns the function that detaches its handlers. Pass a stable
 * `bind` (`useCallback`): a new one re-attaches the handlers.
 *
 * The SDK keeps subscriptions across reconnects and across Disconnect + Connect. The channel is
 * still subscribed again on every `connected` event: `subscribe()` is idempotent, so that is a
 * no-op, unless something unsubscribed the channel meanwhile, which it then repairs.
 */
export function useSubscription(channel: string, bind: (subscription: Subscription) => () => void): void {
  const client = useClient();
  useEffect(() => {
    let current: Subscription | undefined;
    let unbind: (() => void) | undefined;
    const attach = (): void => {
      const subscription = client.subscribe(channel);
      if (subscription === current) return;
      unbind?.();
      current = subscription;
      unbind = bind(subscription);
    };
    attach();
    const offConnected = client.on('connected', attach);
    // The subscription itself stays: this dashboard's channels live as long as the page.
    return () => {
      offConnected();
      unbind?.();
    };
  }, [client, channel, bind]);
}
