// Who a connection is and what its token lets it do.

/** Channel patterns a token grants, per action. A missing list means "no restriction from the token". */
export interface ChannelPermissions {
  subscribe?: string[];
  publish?: string[];
}

/** An authenticated identity. */
export interface Identity {
  userId: string;
  /** Token expiry in ms since the epoch, or null for tokens without `exp`. */
  expiresAt: number | null;
  permissions: ChannelPermissions | undefined;
  /** The token allows client `broadcast`. */
  broadcast: boolean;
}

/** Verifies tokens. Throws `SwitchyardError('unauthorized', reason)` for any token it refuses. */
export interface Authenticator {
  verify(token: string): Promise<Identity>;
}

const compiled = new Map<string, RegExp>();

/** `*` matches any run of characters; everything else is literal. */
function patternToRegExp(pattern: string): RegExp {
  let regexp = compiled.get(pattern);
  if (regexp === undefined) {
    const body = pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('.*');
    regexp = new RegExp(`^${body}$`);
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, regexp);
  }
  return regexp;
}

/** True when `channel` matches one of `patterns` (or when there is no pattern list at all). */
export function channelAllowed(patterns: string[] | undefined, channel: string): boolean {
  if (patterns === undefined) return true;
  for (const pattern of patterns) if (patternToRegExp(pattern).test(channel)) return true;
  return false;
}
