// A clock for live read-outs (countdowns, "connected for", expiring typing indicators).

import { useEffect, useState } from 'react';

/** `Date.now()`, refreshed every `intervalMs` so the component re-renders on its own. */
export function useNow(intervalMs = 250): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
