// The WebSocket endpoint the dashboard connects to: the server that served the page.

/** `ws(s)://<host>/ws` on the page's own origin (Vite's dev server proxies `/ws` to Switchyard). */
export function socketUrl(location: Pick<Location, 'protocol' | 'host'> = window.location): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}
