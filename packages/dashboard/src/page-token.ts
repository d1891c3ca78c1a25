// A token for servers that require authentication, taken from the page's URL fragment.

/**
 * The `token` of a `#token=<jwt>` fragment, if any. The fragment stays in the browser: it never
 * reaches the server or its access logs, unlike a query string.
 */
export function pageToken(hash: string = window.location.hash): string | undefined {
  const token = new URLSearchParams(hash.replace(/^#/, '')).get('token');
  return token === null || token === '' ? undefined : token;
}
