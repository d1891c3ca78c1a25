// Channel-name rules (PROTOCOL.md "Channels").

/** Longest channel name the protocol allows. */
export const MAX_CHANNEL_LENGTH = 255;

const CHANNEL_PATTERN = /^[A-Za-z0-9._\-:@/#=$]+$/;

/** True when `name` is a syntactically valid channel name. */
export function isValidChannel(name: unknown, maxLength: number = MAX_CHANNEL_LENGTH): name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > maxLength) return false;
  if (!CHANNEL_PATTERN.test(name)) return false;
  // `$` is only allowed as the first character, marking the server's own channels.
  const dollar = name.lastIndexOf('$');
  return dollar <= 0;
}

/** The namespace of a channel: the text before the first `:`, or '' when there is none. */
export function channelNamespace(name: string): string {
  const colon = name.indexOf(':');
  return colon > 0 ? name.slice(0, colon) : '';
}

/** True for the server's own channels (names starting with `$`), which clients may never publish to. */
export function isServerChannel(name: string): boolean {
  return name.charCodeAt(0) === 36; // '$'
}
